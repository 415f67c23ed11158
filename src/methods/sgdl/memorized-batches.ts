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
import type { Rng, RngState } from "../../util/rng";

/** A memorized batch with its rows' example ids and noise flags (1 noisy, 0 clean, -1 sampled negative). */
export interface MemorizedBatch {
  batch: Batch;
  ids: Int32Array;
  noisy: Int8Array;
}

/** Where the stream stands (for a checkpoint): this epoch's shuffled examples, their ids and flags, the cursor and the shuffle stream. */
export interface MemorizedBatchesState {
  /** null before the first epoch. */
  examples: Batch | null;
  ids: Int32Array;
  noisy: Int8Array;
  cursor: number;
  /** The shuffle stream (the negative sampler's stream is its owner's to save). */
  rng: RngState;
}

/** A batch with its arrays copied. */
function copyBatch(b: Batch): Batch {
  return b.kind === "bpr"
    ? { kind: "bpr", users: b.users.slice(), pos: b.pos.slice(), neg: b.neg.slice() }
    : { kind: "bce", users: b.users.slice(), items: b.items.slice(), labels: b.labels.slice() };
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

  /** A copy of the stream's state. */
  exportState(): MemorizedBatchesState {
    const examples = this.examples === null ? null : copyBatch(this.examples);
    return { examples, ids: this.ids.slice(), noisy: this.noisy.slice(), cursor: this.cursor, rng: this.rng.getState() };
  }

  /** Continues from a state exportState gave over the same memorized set; throws naming the bad field (nothing changed then). */
  importState(s: MemorizedBatchesState): void {
    const fail = (field: string, problem: string): never => {
      throw new RangeError(`memorized batches: state field '${field}' ${problem}`);
    };
    const m = this.memorized.indptr[this.memorized.nUsers];
    const ex = s.examples;
    const n = ex === null ? 0 : this.loss === "bpr" ? m : 2 * m;
    if (ex !== null) {
      if (ex.kind !== this.loss) fail("examples.kind", `is '${String(ex.kind)}', the model's loss is '${this.loss}'`);
      const cols: [string, unknown, boolean][] =
        ex.kind === "bpr"
          ? [["users", ex.users, true], ["pos", ex.pos, true], ["neg", ex.neg, true]]
          : [["users", ex.users, true], ["items", ex.items, true], ["labels", ex.labels, false]];
      for (const [name, a, int] of cols) {
        if (!(int ? a instanceof Int32Array : a instanceof Float32Array)) fail(`examples.${name}`, `must be an ${int ? "Int32Array" : "Float32Array"}`);
        const rows = (a as Int32Array | Float32Array).length;
        if (rows !== n) fail(`examples.${name}`, `has ${rows} rows, M gives ${n}`);
      }
    }
    if (!(s.ids instanceof Int32Array) || s.ids.length !== n) fail("ids", `must be an Int32Array of ${n} example ids`);
    if (!(s.noisy instanceof Int8Array) || s.noisy.length !== n) fail("noisy", `must be an Int8Array of ${n} flags`);
    const flags = this.memorized.noisy;
    const seen = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      const k = s.ids[j];
      if (!(k >= 0 && k < n) || seen[k]) fail("ids", `is not a permutation of the ${n} examples (id ${k} at ${j})`);
      seen[k] = 1;
      const want = this.loss === "bpr" ? flags[k] : k % 2 === 0 ? flags[k >> 1] : -1;
      if (s.noisy[j] !== want) fail("noisy", `[${j}] is ${s.noisy[j]}, example ${k} has ${want}`);
    }
    if (!(Number.isInteger(s.cursor) && s.cursor >= 0 && (s.cursor < n || s.cursor === 0))) fail("cursor", `must be an integer in [0, ${n}), got ${s.cursor}`);
    try {
      this.rng.setState(s.rng);
    } catch (err) {
      fail("rng", err instanceof Error ? err.message : String(err));
    }
    this.examples = ex === null ? null : copyBatch(ex);
    this.ids = s.ids.slice();
    this.noisy = s.noisy.slice();
    this.cursor = s.cursor;
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
