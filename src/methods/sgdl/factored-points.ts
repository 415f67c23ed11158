/**
 * The building blocks of the factored Phase II path (factored-meta.ts): a
 * batch's per-sample gradients (Model.perSampleGradients) read back into
 * arrays (kept across calls, factored-cache.ts) and uploaded again when used;
 * one hook pass over two batches concatenated; and Eq. 7's assumed update at
 * the memorized batch's leaves from the source batch's factors,
 *   theta_hat = theta - eta1 sum_k c_k g_k,  c = w / |S|:
 *   a whole leaf (x, delta factors): W - eta1 X^T diag(c) Delta;
 *   a row leaf: R_m - eta1 M (c * G_s), M[v, n] = [row_v == row_n] the 0/1
 *   match of table rows (meta-step.ts's assumedLeaves, exactly), summed over
 *   the few matching positions only.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, LeafSpec, LeafTensors, Model } from "../../models/model";
import { gatherRowsArray, type ParamStore } from "../../models/ops/embedding-table";
import { weightedGradient, type DenseFactors, type PerSampleGradients, type PerSampleGradientSource } from "../../models/per-sample-gradients";

/** A row-major matrix as an array and its column count. */
export interface Stored2D {
  data: Float32Array;
  cols: number;
}

/** One batch's per-sample gradients as arrays (no tensors, so they can be kept across calls). */
export interface StoredGradients {
  n: number;
  losses: Float32Array;
  rows: Record<string, Stored2D>;
  dense: Record<string, { x: Stored2D | null; delta: Stored2D }>;
}

/** Per-sample gradients read back from tensors. */
export function readGradients(g: PerSampleGradients): StoredGradients {
  const read = (t: tf.Tensor2D): Stored2D => ({ data: t.dataSync() as Float32Array, cols: t.shape[1] });
  const rows: Record<string, Stored2D> = {};
  for (const k of Object.keys(g.rows)) rows[k] = read(g.rows[k]);
  const dense: StoredGradients["dense"] = {};
  for (const k of Object.keys(g.dense)) dense[k] = { x: g.dense[k].x === null ? null : read(g.dense[k].x as tf.Tensor2D), delta: read(g.dense[k].delta) };
  return { n: g.losses.shape[0], losses: g.losses.dataSync() as Float32Array, rows, dense };
}

/** The samples [start, start + size) as views. */
export function sliceGradients(g: StoredGradients, start: number, size: number): StoredGradients {
  const rows2 = (m: Stored2D): Stored2D => ({ data: m.data.subarray(start * m.cols, (start + size) * m.cols), cols: m.cols });
  const rows: Record<string, Stored2D> = {};
  for (const k of Object.keys(g.rows)) rows[k] = rows2(g.rows[k]);
  const dense: StoredGradients["dense"] = {};
  for (const k of Object.keys(g.dense)) dense[k] = { x: g.dense[k].x === null ? null : rows2(g.dense[k].x as Stored2D), delta: rows2(g.dense[k].delta) };
  return { n: size, losses: g.losses.subarray(start, start + size), rows, dense };
}

/** A batch with its leaf specs and its leaf values at the current parameters (spec order). */
export interface BatchLeaves {
  batch: Batch;
  specs: LeafSpec[];
  /** Table rows gathered per position (new arrays); whole parameters their live arrays (copy before keeping). */
  values: Float32Array[];
}

/** The batch's leaves at the current parameters. */
export function batchLeaves(model: Model, params: ParamStore, batch: Batch): BatchLeaves {
  const specs = model.leaves(batch);
  return { batch, specs, values: specs.map((s) => (s.rows === undefined ? params.get(s.param).data : gatherRowsArray(params.get(s.param), s.rows))) };
}

/** Leaf tensors by key from leaf values (copied into tensors). */
export function leafTensors(params: ParamStore, specs: readonly LeafSpec[], values: readonly Float32Array[]): LeafTensors {
  const out: Record<string, tf.Tensor> = {};
  specs.forEach((s, i) => {
    const p = params.get(s.param);
    out[s.key] = s.rows === undefined ? tf.tensor(values[i], [...p.shape]) : tf.tensor2d(values[i], [s.rows.length, p.shape[1]]);
  });
  return out;
}

/** The hook's gradients at the leaves, checked to cover every leaf with one row per sample; null when it declines. */
export function hookGradients(model: Model, hook: PerSampleGradientSource, specs: readonly LeafSpec[], leaves: LeafTensors, batch: Batch, mode: ForwardMode): PerSampleGradients | null {
  const g = hook.gradients(leaves, batch, mode);
  if (g === null) return null;
  const n = batch.users.length;
  if (g.losses.shape[0] !== n) throw new Error(`model '${model.name}': per-sample gradients give ${g.losses.shape[0]} losses for a batch of ${n}`);
  for (const s of specs) {
    const t = s.rows === undefined ? g.dense[s.key]?.delta : g.rows[s.key];
    if (t === undefined) throw new Error(`model '${model.name}': per-sample gradients miss the ${s.rows === undefined ? "dense" : "row"} leaf '${s.key}'`);
    if (t.shape[0] !== n) throw new Error(`model '${model.name}': per-sample gradients of '${s.key}' have ${t.shape[0]} rows for a batch of ${n}`);
  }
  return g;
}

/** The batch a then b (same kind), new arrays. */
export function concatBatches(a: Batch, b: Batch): Batch {
  const cat = <T extends Int32Array | Float32Array>(x: T, y: T, out: T): T => {
    out.set(x, 0);
    out.set(y, x.length);
    return out;
  };
  const n = a.users.length + b.users.length;
  if (a.kind === "bpr" && b.kind === "bpr") {
    return { kind: "bpr", users: cat(a.users, b.users, new Int32Array(n)), pos: cat(a.pos, b.pos, new Int32Array(n)), neg: cat(a.neg, b.neg, new Int32Array(n)) };
  }
  if (a.kind === "bce" && b.kind === "bce") {
    return { kind: "bce", users: cat(a.users, b.users, new Int32Array(n)), items: cat(a.items, b.items, new Int32Array(n)), labels: cat(a.labels, b.labels, new Float32Array(n)) };
  }
  throw new Error(`factored meta: batches of kinds '${a.kind}' and '${b.kind}'`);
}

/** Whether two typed arrays of one type hold the same bytes (a native memcmp; float -0 vs 0 counts as different, a safe miss for a cache). */
export function sameValues(a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean {
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Whether the leaves of batch ab are those of a followed by those of b (same keys and parameters, rows concatenated). */
function leavesConcatenate(ab: readonly LeafSpec[], a: readonly LeafSpec[], b: readonly LeafSpec[], na: number): boolean {
  if (ab.length !== a.length || ab.length !== b.length) return false;
  return ab.every((s, i) => {
    const x = a[i];
    const y = b[i];
    if (x.key !== s.key || y.key !== s.key || x.param !== s.param || y.param !== s.param) return false;
    if (s.rows === undefined) return x.rows === undefined && y.rows === undefined;
    return x.rows !== undefined && y.rows !== undefined && sameValues(s.rows.subarray(0, na), x.rows) && sameValues(s.rows.subarray(na), y.rows);
  });
}

/**
 * Per-sample gradients of batches a and b at their leaves (call inside
 * tf.tidy): one hook pass over a and b concatenated when the model's leaves of
 * the concatenation are the parts' (per-position rows), else one pass each;
 * null when the hook declines.
 */
export function gradientsAtTheta(model: Model, hook: PerSampleGradientSource, params: ParamStore, a: BatchLeaves, b: BatchLeaves, mode: ForwardMode): [StoredGradients, StoredGradients] | null {
  const at = (x: BatchLeaves): StoredGradients | null => {
    const g = hookGradients(model, hook, x.specs, leafTensors(params, x.specs, x.values), x.batch, mode);
    return g === null ? null : readGradients(g);
  };
  const both = concatBatches(a.batch, b.batch);
  const specs = model.leaves(both);
  const na = a.batch.users.length;
  if (!leavesConcatenate(specs, a.specs, b.specs, na)) {
    const ga = at(a);
    const gb = ga === null ? null : at(b);
    return ga === null || gb === null ? null : [ga, gb];
  }
  const values = specs.map((s, i) => {
    if (s.rows === undefined) return a.values[i];
    const v = new Float32Array(a.values[i].length + b.values[i].length);
    v.set(a.values[i], 0);
    v.set(b.values[i], a.values[i].length);
    return v;
  });
  const g = at({ batch: both, specs, values });
  if (g === null) return null;
  return [sliceGradients(g, 0, na), sliceGradients(g, na, b.batch.users.length)];
}

/** The (target, source) positions reading the same table row, flattened [v0, n0, v1, n1, ...]. */
function rowMatches(target: Int32Array, source: Int32Array): Int32Array {
  const at = new Map<number, number[]>();
  source.forEach((r, n) => {
    const list = at.get(r);
    if (list === undefined) at.set(r, [n]);
    else list.push(n);
  });
  const out: number[] = [];
  target.forEach((r, v) => {
    for (const n of at.get(r) ?? []) out.push(v, n);
  });
  return Int32Array.from(out);
}

/** A (target leaf, source leaf) pair of one parameter: both whole (matches null) or both rows with their matching positions. */
export interface LeafPair {
  t: LeafSpec;
  s: LeafSpec;
  /** Row leaves: the positions (v of the target, n of the source) that read the same table row, flattened; the 0/1 match matrix M[v, n] in sparse form. */
  matches: Int32Array | null;
}

/** Every (target, source) pair reading the same parameter, row pairs without a shared row left out (factoredFor: a parameter is read whole or by rows, never both). */
export function leafPairs(target: readonly LeafSpec[], source: readonly LeafSpec[]): LeafPair[] {
  const out: LeafPair[] = [];
  for (const t of target) {
    for (const s of source) {
      if (s.param !== t.param) continue;
      if (t.rows === undefined || s.rows === undefined) {
        if (t.rows !== s.rows) throw new Error(`factored meta: parameter '${t.param}' is read whole by one batch and by rows by the other`);
        out.push({ t, s, matches: null });
        continue;
      }
      const matches = rowMatches(t.rows, s.rows);
      if (matches.length > 0) out.push({ t, s, matches });
    }
  }
  return out;
}

/** The source batch of Eq. 7: its per-sample gradients (arrays, and its dense factors as tensors) and weights w. */
export interface AssumedSource {
  g: StoredGradients;
  dense: Record<string, DenseFactors>;
  /** w as values [|S|] and as a tensor. */
  w: Float32Array;
  wt: tf.Tensor1D;
}

/** The dense factors as tensors (owned by the caller's tidy). */
export function denseTensors(g: StoredGradients): Record<string, DenseFactors> {
  const t = (m: Stored2D): tf.Tensor2D => tf.tensor2d(m.data, [g.n, m.cols]);
  const out: Record<string, DenseFactors> = {};
  for (const k of Object.keys(g.dense)) out[k] = { x: g.dense[k].x === null ? null : t(g.dense[k].x as Stored2D), delta: t(g.dense[k].delta) };
  return out;
}

/**
 * theta_hat at the target batch's leaves (Eq. 7): theta - eta1 sum_k c_k g_k(theta)
 * over the source batch, c = w / |S|: whole leaves by one matmul per pair
 * (tf), row leaves over their matching positions only (JS, float64 sums).
 */
export function assumedLeaves(params: ParamStore, target: BatchLeaves, source: AssumedSource, pairs: readonly LeafPair[], eta1: number): LeafTensors {
  const nS = source.g.n;
  const c = tf.div(source.wt, nS) as tf.Tensor1D;
  const hat: Record<string, tf.Tensor> = {};
  target.specs.forEach((t, i) => {
    const p = params.get(t.param);
    if (t.rows === undefined) {
      const parts: tf.Tensor[] = [];
      for (const pr of pairs) if (pr.t === t) parts.push(weightedGradient(source.dense[pr.s.key], c, p.shape));
      const theta = tf.tensor(target.values[i], [...p.shape]);
      hat[t.key] = parts.length === 0 ? theta : tf.sub(theta, tf.mul(eta1, parts.length === 1 ? parts[0] : tf.addN(parts)));
      return;
    }
    const d = p.shape[1];
    const sum = new Float64Array(t.rows.length * d);
    for (const pr of pairs) {
      if (pr.t !== t || pr.matches === null) continue;
      const g = source.g.rows[pr.s.key].data;
      for (let k = 0; k < pr.matches.length; k += 2) {
        const v = pr.matches[k] * d;
        const n = pr.matches[k + 1];
        const cn = source.w[n] / nS;
        for (let j = 0; j < d; j++) sum[v + j] += cn * g[n * d + j];
      }
    }
    const theta = target.values[i];
    const out = new Float32Array(theta.length);
    for (let j = 0; j < out.length; j++) out[j] = theta[j] - eta1 * sum[j];
    hat[t.key] = tf.tensor2d(out, [t.rows.length, d]);
  });
  return hat;
}
