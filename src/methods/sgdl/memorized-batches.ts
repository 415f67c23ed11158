/**
 * The memorized data's mini-batches in Phase II (sgdl-reference 5.2, 5.4):
 * each epoch every memorized interaction gets a fresh uniform negative (BPR:
 * one triple; BCE: the positive and the negative as two rows), the examples
 * are shuffled, and one memorized batch of the training batch's size is taken
 * per step, in order, restarting from the start (without reshuffling) when M
 * runs out. Every row carries its example id (its index before shuffling:
 * the scheduler's per-sample state key) and its noise flag (-1 for a sampled
 * negative).
 */
import type { Interactions } from "../../data/interactions";
import type { NegativeSampler } from "../../data/sampler";
import type { Batch, LossKind } from "../../models/model";
import { epochExamples, exampleCount, permuteExamples, sliceExamples } from "../../training/batches";
import type { Rng } from "../../util/rng";

/** A memorized batch with its rows' example ids and noise flags (1 noisy, 0 clean, -1 sampled negative). */
export interface MemorizedBatch {
  batch: Batch;
  ids: Int32Array;
  noisy: Int8Array;
}

/** Concatenates the rows of two batches of one kind. */
function concatBatches(a: Batch, b: Batch): Batch {
  const cat = <T extends Int32Array | Float32Array>(x: T, y: T, out: T): T => {
    out.set(x, 0);
    out.set(y, x.length);
    return out;
  };
  const n = exampleCount(a) + exampleCount(b);
  if (a.kind === "bpr" && b.kind === "bpr") {
    return { kind: "bpr", users: cat(a.users, b.users, new Int32Array(n)), pos: cat(a.pos, b.pos, new Int32Array(n)), neg: cat(a.neg, b.neg, new Int32Array(n)) };
  }
  if (a.kind === "bce" && b.kind === "bce") {
    return { kind: "bce", users: cat(a.users, b.users, new Int32Array(n)), items: cat(a.items, b.items, new Int32Array(n)), labels: cat(a.labels, b.labels, new Float32Array(n)) };
  }
  throw new Error(`memorized batches: cannot join a '${a.kind}' and a '${b.kind}' batch`);
}

/** The memorized set M as an endless stream of mini-batches, re-sampled and re-shuffled each Phase II epoch. */
export class MemorizedBatches {
  private examples: Batch | null = null;
  private ids = new Int32Array(0);
  private noisy = new Int8Array(0);
  private cursor = 0;

  constructor(
    readonly memorized: Interactions,
    readonly loss: LossKind,
    private readonly sampler: NegativeSampler,
    private readonly rng: Rng,
  ) {
    if (memorized.indptr[memorized.nUsers] === 0) throw new Error("memorized batches: the memorized set is empty");
  }

  /** At the start of a Phase II epoch: fresh negatives for M, shuffled; the cursor goes back to the start. */
  startEpoch(): void {
    const ex = epochExamples(this.loss, this.memorized, this.sampler);
    const n = exampleCount(ex);
    const order = this.rng.shuffle(Int32Array.from({ length: n }, (_, k) => k));
    this.examples = permuteExamples(ex, order);
    this.ids = order;
    const flags = this.memorized.noisy;
    // BPR: example k is interaction k; BCE: rows 2k (positive of interaction k) and 2k + 1 (its negative)
    this.noisy = Int8Array.from(order, (k) => (this.loss === "bpr" ? flags[k] : k % 2 === 0 ? flags[k >> 1] : -1));
    this.cursor = 0;
  }

  /** This epoch's memorized examples, shuffled (Table 3's w/o DLS trains on them). */
  epochExamples(): Batch {
    if (this.examples === null) this.startEpoch();
    return this.examples as Batch;
  }

  /** The next `size` memorized rows, in order, wrapping around to the start of M. */
  next(size: number): MemorizedBatch {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`memorized batches: batch size must be a positive integer, got ${size}`);
    const ex = this.epochExamples();
    const n = exampleCount(ex);
    const take = Math.min(size, n);
    const end = this.cursor + take;
    let batch: Batch;
    let ids: Int32Array;
    let noisy: Int8Array;
    if (end <= n) {
      batch = sliceExamples(ex, this.cursor, end);
      ids = this.ids.subarray(this.cursor, end);
      noisy = this.noisy.subarray(this.cursor, end);
      this.cursor = end % n;
    } else {
      const rest = end - n;
      batch = concatBatches(sliceExamples(ex, this.cursor, n), sliceExamples(ex, 0, rest));
      ids = Int32Array.from([...this.ids.subarray(this.cursor, n), ...this.ids.subarray(0, rest)]);
      noisy = Int8Array.from([...this.noisy.subarray(this.cursor, n), ...this.noisy.subarray(0, rest)]);
      this.cursor = rest;
    }
    return { batch, ids, noisy };
  }
}
