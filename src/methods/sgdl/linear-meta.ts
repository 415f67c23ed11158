/**
 * An exact fast path of SGDL's meta-gradient and scheduler inputs for linear
 * graph models (Model.linearRows: final rows F = P[rows] E0 for a constant
 * dense P, LightGCN's operator path) on BPR batches. Everything reduces to
 * small dense algebra on the batches' final rows:
 *   - source batch S (3b rows): F_s = P_s E0, L_k = softplus(u.n - u.p), and the
 *     gradient of (1/b) sum_k w_k L_k w.r.t. F_s in closed form,
 *     G_s = diag(c) [n - p; -u; u] with c_k = w_k sigmoid(u.n - u.p) / b;
 *   - Eq. 7 on the tables, E0_hat = E0 - eta1 P_s^T G_s, read at the memorized
 *     batch's rows: F_hat_m = P_m E0_hat = F_m - eta1 Q G_s, Q = (P P^T)[rows_m, rows_s]
 *     (P P^T precomputed once per operator, operatorGram);
 *   - l_meta = selectedMean(L(F_hat_m), selection) (Eq. 8's objective), or with
 *     selection level "embedding" selectedRowsMean of F_hat_m's user, positive
 *     and negative rows (the official code's S on the final embeddings).
 * psi enters only through w (the losses are detached before g, as in the
 * general path), so d l_meta / d psi and d l_meta / d selection come from ONE
 * first-order tape over these [3b x 3b] and [3b x d] ops: no nested tf.grad, no
 * table-sized tensors per step, and the same numbers as meta-step.ts's general
 * path up to float32 rounding. The scheduler's cosines are the closed-form BPR
 * row gradients at F_m and F_hat_m (what cosine-features.ts takes with
 * tf.grads for dotProductRowsSource). The rows P[rows] E0 are the main cost
 * (a [3b x N] by [N x d] matmul); they are kept per node while the tables hold
 * the same values, so a step's scheduler inputs and meta step (both at theta)
 * compute them once.
 */
import * as tf from "@tensorflow/tfjs";
import { dotProductLosses } from "../../models/losses";
import type { Batch, LinearRows, Model } from "../../models/model";
import { paramTensor, type ParamStore } from "../../models/ops/embedding-table";
import { dotProductRowsSource } from "../../models/per-sample-rows";
import { copyRows } from "../../models/propagation";
import { schedulerFeatures } from "./cosine-features";
// a cycle with meta-step.ts (which dispatches here); selectedMean is only read at call time
import type { MetaGradient, MetaLossInputs, MetaStepOptions, WeightsOf } from "./meta-step";
import { selectedMean, selectedRowsMean } from "./selected-mean";
import type { SchedulerInputs } from "./scheduler-inputs";
import { weights } from "./weighting";

/** The model's linear-rows hook if the fast path applies to these batches (all BPR), else null. */
export function linearRowsFor(model: Model, batches: readonly Batch[]): LinearRows | null {
  const lin = model.linearRows;
  if (lin === undefined) return null;
  return batches.every((b) => b.kind === "bpr") ? lin : null;
}

const grams = new WeakMap<Float32Array, Float32Array>();

/** P P^T [nodes x nodes] row-major (P^2 for LightGCN's symmetric P), one matmul, cached per operator array (4 nodes^2 bytes). */
export function operatorGram(lin: LinearRows): Float32Array {
  let g = grams.get(lin.operator);
  if (g === undefined) {
    const n = lin.nodes;
    if (lin.operator.length !== n * n) throw new Error(`linear rows: operator has ${lin.operator.length} values, expected ${n} x ${n}`);
    const t = tf.tidy(() => {
      const p = tf.tensor2d(lin.operator, [n, n]);
      return tf.matMul(p, p, false, true);
    });
    g = t.dataSync() as Float32Array;
    t.dispose();
    grams.set(lin.operator, g);
  }
  return g;
}

/** The block K[rowsA, rowsB] [rowsA.length x rowsB.length] of a row-major [n x n] matrix K. */
export function gramBlock(k: Float32Array, n: number, rowsA: Int32Array, rowsB: Int32Array): Float32Array {
  const out = new Float32Array(rowsA.length * rowsB.length);
  for (let i = 0; i < rowsA.length; i++) {
    const base = rowsA[i] * n;
    const o = i * rowsB.length;
    for (let j = 0; j < rowsB.length; j++) out[o + j] = k[base + rowsB[j]];
  }
  return out;
}

/** The last Q block, reused when the same rows come again (a step's scheduler inputs and meta step pair the same batches). */
let lastBlock: { k: Float32Array; a: Int32Array; b: Int32Array; q: Float32Array } | null = null;

/** Whether two int arrays hold the same values. */
function sameInts(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}

/** Q = (P P^T)[rowsA, rowsB], the last one reused. */
function pairBlock(lin: LinearRows, rowsA: Int32Array, rowsB: Int32Array): Float32Array {
  const k = operatorGram(lin);
  const last = lastBlock;
  if (last !== null && last.k === k && sameInts(last.a, rowsA) && sameInts(last.b, rowsB)) return last.q;
  const q = gramBlock(k, lin.nodes, rowsA, rowsB);
  lastBlock = { k, a: rowsA.slice(), b: rowsB.slice(), q };
  return q;
}

/** E0 = the hook's tables stacked by rows [nodes x dim], row-major. */
function initialTable(lin: LinearRows, params: ParamStore): { data: Float32Array; dim: number } {
  const parts = lin.tables.map((name) => params.get(name));
  const dim = parts[0].shape[1];
  const data = new Float32Array(lin.nodes * dim);
  let at = 0;
  for (const p of parts) {
    if (p.shape.length !== 2 || p.shape[1] !== dim) throw new Error(`linear rows: table '${p.name}' has shape [${p.shape.join(", ")}], expected [? x ${dim}]`);
    if (at + p.data.length > data.length) throw new Error(`linear rows: tables ${lin.tables.join(", ")} hold more than the operator's ${lin.nodes} rows`);
    data.set(p.data, at);
    at += p.data.length;
  }
  if (at !== data.length) throw new Error(`linear rows: tables ${lin.tables.join(", ")} hold ${at / dim} rows, the operator ${lin.nodes}`);
  return { data, dim };
}

/** Final rows by node at one E0 (compared by value): a step's scheduler inputs and meta step, both at theta, share them. */
interface RowCache {
  e0: Float32Array;
  rows: Map<number, Float32Array>;
}
const rowCaches = new WeakMap<Float32Array, RowCache>();

/** Whether two arrays hold the same values. */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}

/**
 * The final rows P[nodes] E0 [nodes.length x dim] at the current tables: one
 * matmul over the distinct nodes not yet computed at these exact E0 values
 * (a cache per operator, dropped as soon as any table value changes).
 */
export function linearFinalRows(lin: LinearRows, params: ParamStore, nodes: Int32Array): { data: Float32Array; dim: number } {
  const { data: e0, dim } = initialTable(lin, params);
  let cache = rowCaches.get(lin.operator);
  if (cache === undefined || !sameValues(cache.e0, e0)) {
    cache = { e0, rows: new Map() };
    rowCaches.set(lin.operator, cache);
  }
  const rows = cache.rows;
  const missing: number[] = [];
  const seen = new Set<number>();
  for (const v of nodes) {
    if (!(Number.isInteger(v) && v >= 0 && v < lin.nodes)) throw new Error(`linear rows: node ${v} outside [0, ${lin.nodes})`);
    if (!rows.has(v) && !seen.has(v)) {
      seen.add(v);
      missing.push(v);
    }
  }
  if (missing.length > 0) {
    const n = lin.nodes;
    const idx = Int32Array.from(missing);
    const t = tf.tidy(() => tf.matMul(tf.tensor2d(copyRows(lin.operator, n, idx), [idx.length, n]), tf.tensor2d(e0, [n, dim]))); // P[rows] E0
    const f = t.dataSync() as Float32Array;
    t.dispose();
    missing.forEach((v, k) => rows.set(v, f.subarray(k * dim, (k + 1) * dim)));
  }
  const out = new Float32Array(nodes.length * dim);
  nodes.forEach((v, k) => out.set(rows.get(v) as Float32Array, k * dim));
  return { data: out, dim };
}

/** The constants of one fast-path evaluation at theta (tensors owned by the enclosing tidy). */
interface LinearPoint {
  /** F_m, the memorized batch's final rows [3b_m x d]. */
  fMem: tf.Tensor2D;
  /** The source batch's losses L_s(theta) [b_s]. */
  srcLosses: tf.Tensor1D;
  /** sigmoid(u.n - u.p) per source sample [b_s]. */
  srcSigma: tf.Tensor1D;
  /** [n - p; -u; u] of the source batch [3b_s x d]. */
  srcDir: tf.Tensor2D;
  /** Q = (P P^T)[rows_m, rows_s] [3b_m x 3b_s]. */
  q: tf.Tensor2D;
}

/** F_s, F_m (linearFinalRows), and the closed-form parts of the source's BPR gradient. */
function linearPoint(lin: LinearRows, params: ParamStore, source: Batch, memorized: Batch): LinearPoint {
  const rowsM = lin.rows(memorized);
  const rowsS = source === memorized ? rowsM : lin.rows(source);
  const fm = linearFinalRows(lin, params, rowsM);
  const fs = source === memorized ? fm : linearFinalRows(lin, params, rowsS);
  const d = fm.dim;
  const fMem = tf.tensor2d(fm.data, [rowsM.length, d]);
  const fSrc = source === memorized ? fMem : tf.tensor2d(fs.data, [rowsS.length, d]);
  const b = source.users.length;
  const u = tf.slice(fSrc, [0, 0], [b, d]);
  const diff = tf.sub(tf.slice(fSrc, [2 * b, 0], [b, d]), tf.slice(fSrc, [b, 0], [b, d])); // n - p
  const x = tf.sum(tf.mul(u, diff), 1) as tf.Tensor1D;
  const q = tf.tensor2d(pairBlock(lin, rowsM, rowsS), [rowsM.length, rowsS.length]);
  return {
    fMem,
    srcLosses: tf.softplus(x) as tf.Tensor1D, // BPR, as bprLoss
    srcSigma: tf.sigmoid(x) as tf.Tensor1D,
    srcDir: tf.concat([diff, tf.neg(u), u], 0) as tf.Tensor2D,
    q,
  };
}

/** F_hat_m = F_m - eta1 Q G_s(w), G_s = diag(w sigma / b) [n - p; -u; u]: Eq. 7's assumed update seen at the memorized rows; linear in w. */
function assumedMemorizedRows(pt: LinearPoint, w: tf.Tensor1D, eta1: number): tf.Tensor2D {
  const b = pt.srcSigma.shape[0];
  const c = tf.div(tf.mul(w, pt.srcSigma), b); // d (1/b) sum w_k L_k / d x_k
  const g = tf.mul(tf.reshape(tf.tile(c, [3]), [3 * b, 1]), pt.srcDir); // G_s [3b x d]
  return tf.sub(pt.fMem, tf.mul(eta1, tf.matMul(pt.q, g))) as tf.Tensor2D; // Eq. 7
}

/** metaGradient's contract (meta-step.ts) by the closed form above; throws unless linearRowsFor applies. */
export function linearMetaGradient(inp: MetaLossInputs, o: Required<MetaStepOptions>): MetaGradient {
  const source = o.assumedFrom === "train" ? inp.train : inp.memorized;
  const lin = linearRowsFor(inp.model, [source, inp.memorized]);
  if (lin === null) throw new Error(`linear meta-gradient: model '${inp.model.name}' has no linear rows or the batches are not BPR`);
  const learned = o.weighting === "learned";
  if (!learned && inp.selection === undefined && !o.metaLossWhenFrozen) return { metaLoss: null, psiGrads: null, selectionGrad: null };
  let out: MetaGradient = { metaLoss: null, psiGrads: null, selectionGrad: null };
  tf.tidy(() => {
    const pt = linearPoint(lin, inp.params, source, inp.memorized);
    const list = inp.net.params.list();
    const psi = list.map(paramTensor);
    const byName: Record<string, tf.Tensor> = {};
    list.forEach((p, i) => (byName[p.name] = psi[i]));
    const f = (): tf.Scalar => {
      const hat = assumedMemorizedRows(pt, weights(byName, pt.srcLosses), o.eta1);
      if (inp.selection !== undefined && o.selectionLevel === "embedding") return selectedRowsMean(dotProductRowsSource(() => hat)({}, inp.memorized, inp.mode), inp.selection);
      return selectedMean(dotProductLosses(hat, inp.memorized), inp.selection); // Eq. 8's objective
    };
    const xs = learned ? [...psi] : [];
    if (inp.selection !== undefined) xs.push(inp.selection);
    if (xs.length === 0) {
      out = { metaLoss: f().dataSync()[0], psiGrads: null, selectionGrad: null };
      return;
    }
    const { value, grads } = tf.engine().gradients(f, xs, undefined, true);
    const read = (g: tf.Tensor | null | undefined, like: tf.Tensor): Float32Array => (g == null ? new Float32Array(like.size) : (g.dataSync().slice() as Float32Array));
    out = {
      metaLoss: value.dataSync()[0],
      psiGrads: learned ? psi.map((t, i) => read(grads[i], t)) : null,
      selectionGrad: inp.selection !== undefined ? read(grads[xs.length - 1], inp.selection) : null,
    };
  });
  return out;
}

/**
 * Per sample of a BPR batch, the cosine(s) between its row gradients at two
 * points given by their final rows fA, fB [3b x d] (users, positives,
 * negatives): dL/du = s (n - p), dL/dp = -s u, dL/dn = s u, s = sigmoid(u.n - u.p);
 * groups "user" and "item" (positive and negative summed when they are the
 * same item), "all" summing both, cos = a.b / max(|a| |b|, eps) (cosine-features.ts).
 */
export function bprRowCosines(fA: Float32Array, fB: Float32Array, batch: Batch, d: number, cosine: "all" | "group", eps = 1e-8): { cosines: Float32Array; groups: string[] } {
  if (batch.kind !== "bpr") throw new Error("bprRowCosines: a BPR batch is required");
  const b = batch.users.length;
  if (fA.length !== 3 * b * d || fB.length !== 3 * b * d) throw new Error(`bprRowCosines: final rows of ${fA.length} / ${fB.length} values for a batch of ${b} x 3 rows of ${d}`);
  const cols = cosine === "all" ? 1 : 2;
  const out = new Float32Array(b * cols);
  const ga = { u: new Float64Array(d), p: new Float64Array(d), n: new Float64Array(d) };
  const gb = { u: new Float64Array(d), p: new Float64Array(d), n: new Float64Array(d) };
  const rowGrads = (f: Float32Array, s: number, g: typeof ga): void => {
    const ou = s * d;
    const op = (b + s) * d;
    const on = (2 * b + s) * d;
    let x = 0;
    for (let j = 0; j < d; j++) x += f[ou + j] * (f[on + j] - f[op + j]);
    const sg = 1 / (1 + Math.exp(-x));
    for (let j = 0; j < d; j++) {
      g.u[j] = sg * (f[on + j] - f[op + j]);
      g.p[j] = -sg * f[ou + j];
      g.n[j] = sg * f[ou + j];
    }
  };
  const cos = (dot: number, na: number, nb: number): number => dot / Math.max(Math.sqrt(na * nb), eps);
  for (let s = 0; s < b; s++) {
    rowGrads(fA, s, ga);
    rowGrads(fB, s, gb);
    const merged = batch.pos[s] === batch.neg[s]; // one item row: its gradients sum to zero
    let ud = 0; // user group: dot, |a|^2, |b|^2
    let ua = 0;
    let ub = 0;
    let id = 0; // item group
    let ia = 0;
    let ib = 0;
    for (let j = 0; j < d; j++) {
      ud += ga.u[j] * gb.u[j];
      ua += ga.u[j] * ga.u[j];
      ub += gb.u[j] * gb.u[j];
      if (!merged) {
        id += ga.p[j] * gb.p[j] + ga.n[j] * gb.n[j];
        ia += ga.p[j] * ga.p[j] + ga.n[j] * ga.n[j];
        ib += gb.p[j] * gb.p[j] + gb.n[j] * gb.n[j];
      }
    }
    if (cols === 1) out[s] = cos(ud + id, ua + ia, ub + ib);
    else {
      out[2 * s] = cos(ud, ua, ub);
      out[2 * s + 1] = cos(id, ia, ib);
    }
  }
  return { cosines: out, groups: cosine === "all" ? ["all"] : ["user", "item"] };
}

/** schedulerInputs's contract (scheduler-inputs.ts) by the closed form above; throws unless linearRowsFor applies. */
export function linearSchedulerInputs(
  model: Model,
  params: ParamStore,
  source: Batch,
  memorized: Batch,
  weightsOf: WeightsOf,
  eta1: number,
  cosine: "all" | "group",
): SchedulerInputs {
  const lin = linearRowsFor(model, [source, memorized]);
  if (lin === null) throw new Error(`linear scheduler inputs: model '${model.name}' has no linear rows or the batches are not BPR`);
  let at = { d: 0, fMem: new Float32Array(0), fHat: new Float32Array(0), losses: new Float32Array(0), lossesHat: new Float32Array(0) };
  // results leave the tidy by assignment: tf.tidy walks a returned object's typed arrays key by key (ms per call)
  tf.tidy(() => {
    const pt = linearPoint(lin, params, source, memorized);
    const hat = assumedMemorizedRows(pt, weightsOf(pt.srcLosses), eta1); // Eq. 7, weights as values
    at = {
      d: pt.fMem.shape[1],
      fMem: pt.fMem.dataSync().slice() as Float32Array,
      fHat: hat.dataSync().slice() as Float32Array,
      losses: dotProductLosses(pt.fMem, memorized).dataSync().slice() as Float32Array,
      lossesHat: dotProductLosses(hat, memorized).dataSync().slice() as Float32Array,
    };
  });
  const c = bprRowCosines(at.fMem, at.fHat, memorized, at.d, cosine);
  const features = schedulerFeatures(at.losses, { lossesA: at.losses, lossesB: at.lossesHat, cosines: c.cosines, groups: c.groups });
  return { features, columns: 1 + c.groups.length, losses: at.losses };
}
