/**
 * The factored points of one Phase II step, kept for reuse. A step takes the
 * scheduler's inputs and then the meta step at the same theta (the actual
 * update comes last), and with the paper's options both descend on B_t with
 * the same weights (psi moves only in the meta step), so both need the same
 * per-sample gradients at theta and at theta_hat; the actual update
 * (factored-update.ts) then reads B_t's at theta once more, since psi's step
 * does not move theta. They are kept as arrays,
 * keyed by VALUE: the model and parameter store, the batches, the leaf values
 * they were taken at, and for theta_hat also eta1 and the weights w. Any change
 * (an update of theta, a new psi, other batches) is a miss and the caller
 * computes afresh, so a hit gives bit-identical numbers. The model's hook must
 * apply in the caller's mode (its result is then the same in every mode).
 */
import type { Batch, Model } from "../../models/model";
import type { ParamStore } from "../../models/ops/embedding-table";
import { sameValues, type StoredGradients } from "./factored-points";

/** A batch at given leaf values (factored-points' BatchLeaves is one). */
export interface BatchAt {
  batch: Batch;
  /** The batch's leaf values in model.leaves order. */
  values: readonly Float32Array[];
}

/** What theta_hat depends on: the source batch at theta, the memorized batch at theta, eta1 and the weights. */
export interface HatKey {
  source: BatchAt;
  memorized: BatchAt;
  eta1: number;
  w: Float32Array;
}

interface Entry<K> {
  key: K;
  g: StoredGradients;
}

/** Theta entries kept per store (the two batches of a step, and a spare). */
const THETA_ENTRIES = 3;

/** Lookups answered from the store and not, since the last forgetFactoredPoints. */
const stats = { thetaHits: 0, thetaMisses: 0, hatHits: 0, hatMisses: 0 };

let store: { model: Model; params: ParamStore; theta: Entry<BatchAt>[]; hat: Entry<HatKey> | null } | null = null;

/** Whether two batches hold the same examples. */
function sameBatch(a: Batch, b: Batch): boolean {
  if (a.kind === "bpr" && b.kind === "bpr") return sameValues(a.users, b.users) && sameValues(a.pos, b.pos) && sameValues(a.neg, b.neg);
  if (a.kind === "bce" && b.kind === "bce") return sameValues(a.users, b.users) && sameValues(a.items, b.items) && sameValues(a.labels, b.labels);
  return false;
}

/** Whether two batches-at-values are the same. */
function sameAt(a: BatchAt, b: BatchAt): boolean {
  return sameBatch(a.batch, b.batch) && a.values.length === b.values.length && a.values.every((v, i) => sameValues(v, b.values[i]));
}

/** A copy of a batch-at-values that later parameter updates (or batch reuse) cannot change. */
function frozen(at: BatchAt): BatchAt {
  const b = at.batch;
  const batch: Batch =
    b.kind === "bpr" ? { kind: "bpr", users: b.users.slice(), pos: b.pos.slice(), neg: b.neg.slice() } : { kind: "bce", users: b.users.slice(), items: b.items.slice(), labels: b.labels.slice() };
  return { batch, values: at.values.map((v) => v.slice()) };
}

/** The store for this model and parameters (a new one drops the old). */
function storeFor(model: Model, params: ParamStore): NonNullable<typeof store> {
  if (store === null || store.model !== model || store.params !== params) store = { model, params, theta: [], hat: null };
  return store;
}

/** The kept per-sample gradients of this batch at these leaf values, or null. */
export function findTheta(model: Model, params: ParamStore, at: BatchAt): StoredGradients | null {
  const g = store === null || store.model !== model || store.params !== params ? null : (store.theta.find((e) => sameAt(e.key, at))?.g ?? null);
  if (g === null) stats.thetaMisses++;
  else stats.thetaHits++;
  return g;
}

/** Keeps the per-sample gradients of a batch at these leaf values (the oldest of the kept ones goes). */
export function keepTheta(model: Model, params: ParamStore, at: BatchAt, g: StoredGradients): void {
  const s = storeFor(model, params);
  s.theta = [{ key: frozen(at), g }, ...s.theta.filter((e) => !sameAt(e.key, at))].slice(0, THETA_ENTRIES);
}

/** The kept per-sample gradients of the memorized batch at theta_hat for this key, or null. */
export function findHat(model: Model, params: ParamStore, key: HatKey): StoredGradients | null {
  const h = store !== null && store.model === model && store.params === params ? store.hat : null;
  if (h === null || h.key.eta1 !== key.eta1 || !sameValues(h.key.w, key.w) || !sameAt(h.key.source, key.source) || !sameAt(h.key.memorized, key.memorized)) {
    stats.hatMisses++;
    return null;
  }
  stats.hatHits++;
  return h.g;
}

/** Keeps the per-sample gradients of the memorized batch at theta_hat (one at a time). */
export function keepHat(model: Model, params: ParamStore, key: HatKey, g: StoredGradients): void {
  storeFor(model, params).hat = { key: { source: frozen(key.source), memorized: frozen(key.memorized), eta1: key.eta1, w: key.w.slice() }, g };
}

/** Drops every kept point and zeroes the counts (tests and benchmarks that compare a cold path). */
export function forgetFactoredPoints(): void {
  store = null;
  stats.thetaHits = stats.thetaMisses = stats.hatHits = stats.hatMisses = 0;
}

/** Lookups answered from the store (hits) and not (misses) since the last forgetFactoredPoints. */
export function factoredPointStats(): Readonly<typeof stats> {
  return { ...stats };
}
