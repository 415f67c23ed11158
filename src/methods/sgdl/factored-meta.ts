/**
 * An exact fast path of SGDL's meta-gradient and scheduler inputs for models
 * with per-sample gradients in factored form (Model.perSampleGradients,
 * models/per-sample-gradients.ts: NeuMF). theta_hat is linear in the weights w:
 *   theta_hat = theta - (eta1/|S|) sum_k w_k g_k(theta)                     (Eq. 7)
 * so with v = grad_theta l_meta at theta_hat,
 *   d l_meta / d w_k = -(eta1/|S|) <g_k(theta), v>,
 *   d l_meta / d psi = sum_k (d l_meta / d w_k) d w_k / d psi               (Eq. 8)
 * (the last a tiny tape through the weighting net only). Per leaf:
 *   - dense leaf (x, delta factors): theta_hat = W - eta1 X^T diag(c) Delta,
 *     v = X_hat^T diag(seed) Delta_hat, <g_k, v> = rowsum((X V) * Delta);
 *   - row leaves (per position): theta_hat rows = R_m - eta1 M (c * G_s), M the
 *     0/1 match of table rows (as meta-step.ts's assumedLeaves), and
 *     <g_k, v> = rowsum(G_s * (M^T (seed * G_hat_m))),
 * with c = w / |S| and seed_m = d l_meta / d L_m (the selection's). Two
 * batched hand-written passes (the model's hook) at theta and at theta_hat, no
 * nested tf.grad; the same numbers as the general path up to float32
 * rounding. Both passes are kept (factored-cache.ts): a step's meta step
 * reuses the scheduler inputs' points when theta, the batches and w agree.
 * The scheduler's cosines cover the same rows as cosine-features.ts (the
 * per-position row leaves) and, as an option, also the dense leaves.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, LeafSpec, Model } from "../../models/model";
import { paramTensor, type ParamStore } from "../../models/ops/embedding-table";
import { innerWith, weightedGradient, type DenseFactors, type PerSampleGradientSource } from "../../models/per-sample-gradients";
import { groupCosines, rowGroupSums, rowLeafSpecs, schedulerFeatures, type GroupSums, type RowGradients } from "./cosine-features";
import { findHat, findTheta, keepHat, keepTheta } from "./factored-cache";
import {
  assumedLeaves,
  batchLeaves,
  denseTensors,
  gradientsAtTheta,
  hookGradients,
  leafPairs,
  leafTensors,
  readGradients,
  type AssumedSource,
  type BatchLeaves,
  type LeafPair,
  type Stored2D,
  type StoredGradients,
} from "./factored-points";
// a cycle with meta-step.ts and scheduler-inputs.ts (which dispatch here): types only
import type { MetaGradient, MetaLossInputs, MetaStepOptions, WeightsOf } from "./meta-step";
import type { SchedulerInputs } from "./scheduler-inputs";
import { selectedMean } from "./selected-mean";
import { weights } from "./weighting";

/** Options of the factored scheduler inputs. */
export interface FactoredCosineOptions {
  /** Also cover the dense leaves (NeuMF's MLP tower and predict layer) in the cosines, one group per dense parameter; default false (the general path's coverage). */
  coverDense?: boolean;
}

/**
 * The model's factored hook if the fast path applies to these batches, else
 * null: all of one kind, and every parameter read either only whole or only
 * through per-position row leaves (one row per sample).
 */
export function factoredFor(model: Model, batches: readonly Batch[]): PerSampleGradientSource | null {
  const hook = model.perSampleGradients;
  if (hook === undefined) return null;
  if (!batches.every((b) => b.kind === batches[0].kind)) return null;
  const whole = new Map<string, boolean>();
  for (const b of batches) {
    for (const s of model.leaves(b)) {
      const isWhole = s.rows === undefined;
      if (!isWhole && (s.rows as Int32Array).length !== b.users.length) return null;
      if (whole.has(s.param) && whole.get(s.param) !== isWhole) return null;
      whole.set(s.param, isWhole);
    }
  }
  return hook;
}

/** A batch's per-sample gradients at theta: kept ones (factored-cache.ts) or one hook pass, then kept. */
function thetaGradients(model: Model, hook: PerSampleGradientSource, params: ParamStore, at: BatchLeaves, mode: ForwardMode): StoredGradients | null {
  const kept = findTheta(model, params, at);
  if (kept !== null) return kept;
  const g = hookGradients(model, hook, at.specs, leafTensors(params, at.specs, at.values), at.batch, mode);
  if (g === null) return null;
  const out = readGradients(g);
  keepTheta(model, params, at, out);
  return out;
}

/** Two batches' per-sample gradients at theta: kept ones, or one pass over both concatenated, then kept. */
function thetaPair(model: Model, hook: PerSampleGradientSource, params: ParamStore, a: BatchLeaves, b: BatchLeaves, mode: ForwardMode): [StoredGradients, StoredGradients] | null {
  if (a === b) {
    const g = thetaGradients(model, hook, params, a, mode);
    return g === null ? null : [g, g];
  }
  const ka = findTheta(model, params, a);
  const kb = findTheta(model, params, b);
  if (ka !== null || kb !== null) {
    const ga = ka ?? thetaGradients(model, hook, params, a, mode);
    const gb = kb ?? thetaGradients(model, hook, params, b, mode);
    return ga === null || gb === null ? null : [ga, gb];
  }
  const pair = gradientsAtTheta(model, hook, params, a, b, mode);
  if (pair === null) return null;
  keepTheta(model, params, a, pair[0]);
  keepTheta(model, params, b, pair[1]);
  return pair;
}

/** The memorized batch's per-sample gradients at theta_hat (Eq. 7 from the source batch, weights w): kept ones or one hook pass, then kept. */
function hatGradients(
  model: Model,
  hook: PerSampleGradientSource,
  params: ParamStore,
  src: BatchLeaves,
  source: () => AssumedSource,
  w: Float32Array,
  mem: BatchLeaves,
  eta1: number,
  mode: ForwardMode,
  pairs: readonly LeafPair[],
): StoredGradients | null {
  const key = { source: src, memorized: mem, eta1, w };
  const kept = findHat(model, params, key);
  if (kept !== null) return kept;
  const g = hookGradients(model, hook, mem.specs, assumedLeaves(params, mem, source(), pairs, eta1), mem.batch, mode); // at theta_hat, Eq. 7
  if (g === null) return null;
  const out = readGradients(g);
  keepHat(model, params, key, out);
  return out;
}

/** Per-sample gradients as arrays with their dense factors as tensors. */
interface Factors {
  g: StoredGradients;
  dense: Record<string, DenseFactors>;
}

/**
 * <g_k(theta), v> per source sample [|S|], v = sum_m seed_m g_m(theta_hat) over
 * the memorized batch: whole leaves rowsum((X_s V) * Delta_s) with
 * V = X_hat^T diag(seed) Delta_hat (tf); row leaves sum over the matching
 * positions (v, k) of seed_v <G_s[k], G_hat[v]> (JS, float64).
 */
function innerWithMetaGradient(params: ParamStore, hat: Factors, source: Factors, pairs: readonly LeafPair[], seed: tf.Tensor1D): tf.Tensor1D {
  const parts: tf.Tensor1D[] = [];
  const v = new Map<string, tf.Tensor>(); // per target whole leaf: V
  const rows = new Float64Array(source.g.n);
  const seeds = seed.dataSync();
  for (const pr of pairs) {
    if (pr.matches === null) {
      let vt = v.get(pr.t.key);
      if (vt === undefined) v.set(pr.t.key, (vt = weightedGradient(hat.dense[pr.t.key], seed, params.get(pr.t.param).shape)));
      parts.push(innerWith(source.dense[pr.s.key], vt));
      continue;
    }
    const gs = source.g.rows[pr.s.key];
    const gh = hat.g.rows[pr.t.key];
    const d = gs.cols;
    for (let k = 0; k < pr.matches.length; k += 2) {
      const a = pr.matches[k];
      const b = pr.matches[k + 1];
      let dot = 0;
      for (let j = 0; j < d; j++) dot += gs.data[b * d + j] * gh.data[a * d + j];
      rows[b] += seeds[a] * dot;
    }
  }
  parts.push(tf.tensor1d(Float32Array.from(rows)));
  return (parts.length === 1 ? parts[0] : tf.addN(parts)) as tf.Tensor1D;
}

/** metaGradient's contract (meta-step.ts) from per-sample gradient factors; null when the model's hook does not apply (e.g. dropout drawn). */
export function factoredMetaGradient(inp: MetaLossInputs, o: Required<MetaStepOptions>): MetaGradient | null {
  const source = o.assumedFrom === "train" ? inp.train : inp.memorized;
  const hook = factoredFor(inp.model, [source, inp.memorized]);
  if (hook === null || !hook.applies(inp.mode) || (o.selectionLevel === "embedding" && inp.selection !== undefined)) return null; // rows picked by S: the general path
  const learned = o.weighting === "learned";
  if (!learned && inp.selection === undefined && !o.metaLossWhenFrozen) return { metaLoss: null, psiGrads: null, selectionGrad: null };
  const { model, params } = inp;
  let out: MetaGradient | null = null;
  tf.tidy(() => {
    const src = batchLeaves(model, params, source);
    const mem = source === inp.memorized ? src : batchLeaves(model, params, inp.memorized);
    const gS = thetaGradients(model, hook, params, src, inp.mode);
    if (gS === null) return;
    let sourceDense: Record<string, DenseFactors> | null = null;
    const denseS = (): Record<string, DenseFactors> => (sourceDense ??= denseTensors(gS));
    const list = inp.net.params.list();
    const psi = list.map(paramTensor);
    const psiByName: Record<string, tf.Tensor> = {};
    list.forEach((p, i) => (psiByName[p.name] = psi[i]));
    const lS = tf.tensor1d(gS.losses);
    const wt = weights(psiByName, lS);
    const w = wt.dataSync() as Float32Array;
    const pairs = leafPairs(mem.specs, src.specs);
    const hatStored = hatGradients(model, hook, params, src, () => ({ g: gS, dense: denseS(), w, wt }), w, mem, o.eta1, inp.mode, pairs);
    if (hatStored === null) return;
    const lHat = tf.tensor1d(hatStored.losses);
    // l_meta and its seeds d l_meta / d L_m (and d l_meta / d selection): a tape over selectedMean only
    const sel = inp.selection;
    const [value, seed, selGrad] =
      sel === undefined
        ? [tf.mean(lHat), tf.fill([lHat.shape[0]], 1 / lHat.shape[0]) as tf.Tensor1D, null]
        : ((): [tf.Tensor, tf.Tensor1D, tf.Tensor] => {
            const r = tf.valueAndGrads((l: tf.Tensor, s: tf.Tensor) => selectedMean(l as tf.Tensor1D, s))([lHat, sel]);
            return [r.value, r.grads[0] as tf.Tensor1D, r.grads[1]];
          })();
    let psiGrads: Float32Array[] | null = null;
    if (learned) {
      const inner = innerWithMetaGradient(params, { g: hatStored, dense: denseTensors(hatStored) }, { g: gS, dense: denseS() }, pairs, seed);
      const dw = tf.mul(-o.eta1 / source.users.length, inner); // d l_meta / d w_k
      const grads = tf.grads((...xs: tf.Tensor[]) => {
        const byName: Record<string, tf.Tensor> = {};
        list.forEach((p, i) => (byName[p.name] = xs[i]));
        return tf.sum(tf.mul(dw, weights(byName, lS))) as tf.Scalar; // Eq. 8 by the chain rule through w
      })(psi);
      psiGrads = grads.map((g) => g.dataSync().slice() as Float32Array);
    }
    out = { metaLoss: value.dataSync()[0], psiGrads, selectionGrad: selGrad === null ? null : (selGrad.dataSync().slice() as Float32Array) };
  });
  return out;
}

/** A batch's row gradients as cosine-features.ts reads them: the row leaves rowLeafSource covers, their groups and ids. */
function rowGradientsOf(model: Model, batch: Batch, g: StoredGradients): RowGradients {
  const specs = rowLeafSpecs(model, batch);
  if (specs.length === 0) throw new Error(`cosine features: model '${model.name}' has no per-position row leaves`);
  const out: RowGradients = { keys: [], losses: g.losses, grads: {}, dims: {}, groups: {}, ids: {} };
  for (const s of specs) {
    out.keys.push(s.key);
    out.grads[s.key] = g.rows[s.key].data;
    out.dims[s.key] = g.rows[s.key].cols;
    out.groups[s.key] = s.param;
    out.ids[s.key] = s.rows;
  }
  return out;
}

/** Per sample, the dot of rows m of two matrices (float64). */
function rowDot(a: Stored2D, b: Stored2D, m: number): number {
  let s = 0;
  for (let j = m * a.cols; j < (m + 1) * a.cols; j++) s += a.data[j] * b.data[j];
  return s;
}

/**
 * The row sums with the dense leaves' appended (one group per dense parameter,
 * leaf order): per sample <x_a delta_a^T, x_b delta_b^T> = (x_a . x_b)(delta_a . delta_b)
 * (a bias: delta_a . delta_b), and the squared norms likewise.
 */
function withDenseSums(rows: GroupSums, specs: readonly LeafSpec[], a: StoredGradients, b: StoredGradients, n: number): GroupSums {
  const dense = specs.filter((s) => s.rows === undefined);
  const names: string[] = [];
  for (const s of dense) if (!rows.groups.includes(s.param) && !names.includes(s.param)) names.push(s.param);
  const g0 = rows.groups.length;
  const g = g0 + names.length;
  const out: GroupSums = { groups: [...rows.groups, ...names], dot: new Float64Array(n * g), na: new Float64Array(n * g), nb: new Float64Array(n * g) };
  for (let m = 0; m < n; m++) {
    for (let k = 0; k < g0; k++) {
      out.dot[m * g + k] = rows.dot[m * g0 + k];
      out.na[m * g + k] = rows.na[m * g0 + k];
      out.nb[m * g + k] = rows.nb[m * g0 + k];
    }
    for (const spec of dense) {
      const fa = a.dense[spec.key];
      const fb = b.dense[spec.key];
      const at = m * g + g0 + names.indexOf(spec.param);
      const xa = fa.x;
      const xb = fb.x;
      const [xab, xaa, xbb] = xa === null || xb === null ? [1, 1, 1] : [rowDot(xa, xb, m), rowDot(xa, xa, m), rowDot(xb, xb, m)];
      out.dot[at] += xab * rowDot(fa.delta, fb.delta, m);
      out.na[at] += xaa * rowDot(fa.delta, fa.delta, m);
      out.nb[at] += xbb * rowDot(fb.delta, fb.delta, m);
    }
  }
  return out;
}

/** schedulerInputs's contract (scheduler-inputs.ts) from per-sample gradient factors; null when the hook does not apply (or the model has its own perSampleRows). */
export function factoredSchedulerInputs(
  model: Model,
  params: ParamStore,
  source: Batch,
  memorized: Batch,
  weightsOf: WeightsOf,
  eta1: number,
  cosine: "all" | "group",
  mode: () => ForwardMode,
  opts: FactoredCosineOptions = {},
): SchedulerInputs | null {
  const hook = factoredFor(model, [source, memorized]);
  if (hook === null || model.perSampleRows !== undefined) return null; // the general path's cosines would cover the hook's final rows
  const m0 = mode();
  if (!hook.applies(m0)) return null;
  let out: SchedulerInputs | null = null;
  // results leave the tidy by assignment (tf.tidy walks a returned object's typed arrays)
  tf.tidy(() => {
    const src = batchLeaves(model, params, source);
    const mem = source === memorized ? src : batchLeaves(model, params, memorized);
    const pair = thetaPair(model, hook, params, src, mem, m0);
    if (pair === null) return;
    const [gS, gM] = pair;
    const wt = weightsOf(tf.tensor1d(gS.losses)); // the weights as values
    const w = wt.dataSync() as Float32Array;
    const gH = hatGradients(model, hook, params, src, () => ({ g: gS, dense: denseTensors(gS), w, wt }), w, mem, eta1, mode(), leafPairs(mem.specs, src.specs));
    if (gH === null) return;
    const n = memorized.users.length;
    let sums = rowGroupSums(rowGradientsOf(model, memorized, gM), rowGradientsOf(model, memorized, gH), n);
    if (opts.coverDense === true) sums = withDenseSums(sums, mem.specs, gM, gH, n);
    const cos = groupCosines(sums, cosine, 1e-8);
    const losses = gM.losses.slice();
    const features = schedulerFeatures(losses, { lossesA: losses, lossesB: gH.losses, cosines: cos.cosines, groups: cos.groups });
    out = { features, columns: 1 + cos.groups.length, losses };
  });
  return out;
}
