/**
 * The examples of one epoch and their mini-batches (official `UniformSample`,
 * sgdl-reference 2.3): every training positive once, with one negative drawn
 * uniformly among the user's non-positives, resampled every epoch; shuffled
 * once per epoch with a seeded Rng and cut into `batchSize` mini-batches, the
 * last one partial. BPR models get triples (u, i, j); BCE models get the
 * positive (u, i, 1) and the negative (u, j, 0) as two rows (T-CE's 1:1
 * pointwise sampling), shuffled together.
 */
import { size, userOf, type Interactions } from "../data/interactions";
import type { NegativeSampler } from "../data/sampler";
import type { Batch, LossKind } from "../models/model";
import type { Rng } from "../util/rng";

/** The examples of a whole epoch: the same shape as a batch, only longer. */
export type EpochExamples = Batch;

/** Number of examples (rows) in a batch or an epoch. */
export function exampleCount(ex: Batch): number {
  return ex.users.length;
}

/** One BPR triple (user, positive, fresh negative) per training positive, in CSR order. */
export function bprExamples(train: Interactions, sampler: NegativeSampler): Batch {
  const users = userOf(train);
  const pos = train.items.slice(0, size(train));
  const neg = sampler.sampleFor(users);
  return { kind: "bpr", users, pos, neg };
}

/** Two BCE rows per training positive: (u, i, 1) then (u, j, 0) with a fresh negative j. */
export function bceExamples(train: Interactions, sampler: NegativeSampler): Batch {
  const n = size(train);
  const owner = userOf(train);
  const neg = sampler.sampleFor(owner);
  const users = new Int32Array(2 * n);
  const items = new Int32Array(2 * n);
  const labels = new Float32Array(2 * n);
  for (let k = 0; k < n; k++) {
    users[2 * k] = owner[k];
    items[2 * k] = train.items[k];
    labels[2 * k] = 1;
    users[2 * k + 1] = owner[k];
    items[2 * k + 1] = neg[k];
  }
  return { kind: "bce", users, items, labels };
}

/** The epoch's examples for a model trained with this loss (uniform negatives from `sampler`). */
export function epochExamples(loss: LossKind, train: Interactions, sampler: NegativeSampler): EpochExamples {
  return loss === "bpr" ? bprExamples(train, sampler) : bceExamples(train, sampler);
}

/** The rows of ex in the order `order` (new arrays). */
export function permuteExamples(ex: Batch, order: Int32Array): Batch {
  const take = <T extends Int32Array | Float32Array>(a: T, out: T): T => {
    for (let k = 0; k < order.length; k++) out[k] = a[order[k]];
    return out;
  };
  const n = order.length;
  if (ex.kind === "bpr") {
    return { kind: "bpr", users: take(ex.users, new Int32Array(n)), pos: take(ex.pos, new Int32Array(n)), neg: take(ex.neg, new Int32Array(n)) };
  }
  return { kind: "bce", users: take(ex.users, new Int32Array(n)), items: take(ex.items, new Int32Array(n)), labels: take(ex.labels, new Float32Array(n)) };
}

/** The examples in a seeded random order (Fisher-Yates on the row indices); the input is not changed. */
export function shuffleExamples(ex: Batch, rng: Rng): Batch {
  const order = Int32Array.from({ length: exampleCount(ex) }, (_, k) => k);
  return permuteExamples(ex, rng.shuffle(order));
}

/** Rows [start, end) as views (no copy). */
export function sliceExamples(ex: Batch, start: number, end: number): Batch {
  if (ex.kind === "bpr") return { kind: "bpr", users: ex.users.subarray(start, end), pos: ex.pos.subarray(start, end), neg: ex.neg.subarray(start, end) };
  return { kind: "bce", users: ex.users.subarray(start, end), items: ex.items.subarray(start, end), labels: ex.labels.subarray(start, end) };
}

/** Number of mini-batches of size batchSize over n examples (the last one partial). */
export function batchCount(n: number, batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  return Math.ceil(n / batchSize);
}

/** Consecutive mini-batches of batchSize rows (views into ex); the last one holds the remainder. */
export function cutBatches(ex: Batch, batchSize: number): Batch[] {
  const n = exampleCount(ex);
  const out: Batch[] = [];
  for (let b = 0; b < batchCount(n, batchSize); b++) out.push(sliceExamples(ex, b * batchSize, Math.min(n, (b + 1) * batchSize)));
  return out;
}
