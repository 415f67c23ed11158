/**
 * A finite-difference gradient checker for any Model (src/models/model.ts).
 * It checks the objective J(theta) = sum_s w_s loss_s(theta) (fixed per-sample
 * weights, so every per-sample loss is checked, not only their mean):
 * - first order: the analytic gradient (tf.grads on the leaves, folded onto the
 *   parameters as the trainer does) against central differences, per entry and
 *   along random directions;
 * - second order (Hessian-vector products, what the meta-gradient of Eq. 8
 *   needs): u' H v from a nested tf.grads against differences of g(theta) . u.
 * Parameters stay float32 (the model computes in float32); the perturbed values
 * are rounded to float32 and the differences use the realised perturbation,
 * with the per-sample losses summed in float64. Use the cpu backend and a tiny
 * problem. Randomness inside the model (dropout) must repeat on every call:
 * pass a mode factory that builds a fresh Rng from one seed (fixedMode).
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, LeafSpec, Model } from "../../src/models/model";
import { gatherRowsArray, type Param, type ParamStore } from "../../src/models/ops/embedding-table";
import { Rng } from "../../src/util/rng";

/** A fresh forward mode per evaluation. */
export type ModeFactory = () => ForwardMode;

/** A mode factory that replays the same randomness on every call. */
export function fixedMode(training: boolean, seed = 7): ModeFactory {
  return () => ({ training, rng: new Rng(seed) });
}

/** The leaf tensors of a batch, copied from the parameters (rows per position for row leaves). */
export function makeLeaves(params: ParamStore, specs: readonly LeafSpec[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const s of specs) {
    const p = params.get(s.param);
    out[s.key] = s.rows === undefined ? tf.tensor(p.data.slice(), [...p.shape]) : tf.tensor2d(gatherRowsArray(p, s.rows), [s.rows.length, p.shape[1]]);
  }
  return out;
}

/** Per-parameter values (float64, the parameter's shape flattened). */
export type ParamVectors = Map<string, Float64Array>;

/** Folds per-leaf values onto their parameters: whole leaves added, row leaves added row by row (a gather's adjoint). */
export function foldLeaves(params: ParamStore, specs: readonly LeafSpec[], perLeaf: readonly Float32Array[]): ParamVectors {
  const out: ParamVectors = new Map();
  for (const p of params.list()) out.set(p.name, new Float64Array(p.data.length));
  specs.forEach((s, k) => {
    const p = params.get(s.param);
    const acc = out.get(p.name) as Float64Array;
    const g = perLeaf[k];
    if (s.rows === undefined) {
      for (let j = 0; j < acc.length; j++) acc[j] += g[j];
    } else {
      const dim = p.shape[1];
      for (let n = 0; n < s.rows.length; n++) {
        for (let j = 0; j < dim; j++) acc[s.rows[n] * dim + j] += g[n * dim + j];
      }
    }
  });
  return out;
}

/** Seeded per-sample weights in [0.5, 1.5). */
export function sampleWeights(n: number, seed = 11): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => 0.5 + rng.next());
}

/** The per-sample losses at the current parameters, as float64. */
export function sampleLosses(model: Model, params: ParamStore, batch: Batch, mode: ModeFactory): Float64Array {
  const specs = model.leaves(batch);
  const l = tf.tidy(() => model.losses(makeLeaves(params, specs), batch, mode()));
  const out = Float64Array.from(l.dataSync());
  l.dispose();
  return out;
}

/** J = sum_s w_s loss_s, summed in float64. */
export function objective(model: Model, params: ParamStore, batch: Batch, mode: ModeFactory, weights: Float32Array): number {
  const l = sampleLosses(model, params, batch, mode);
  if (l.length !== weights.length) throw new Error(`objective: ${l.length} losses but ${weights.length} weights`);
  let s = 0;
  for (let k = 0; k < l.length; k++) s += weights[k] * l[k];
  return s;
}

/** dJ/dtheta per parameter: tf.grads w.r.t. the leaves, folded onto the parameters. */
export function analyticGradient(model: Model, params: ParamStore, batch: Batch, mode: ModeFactory, weights: Float32Array): ParamVectors {
  const specs = model.leaves(batch);
  const grads = tf.tidy(() => {
    const leaves = makeLeaves(params, specs);
    const keys = specs.map((s) => s.key);
    const w = tf.tensor1d(weights);
    const f = tf.grads((...xs: tf.Tensor[]) => {
      const byKey: Record<string, tf.Tensor> = {};
      keys.forEach((k, i) => (byKey[k] = xs[i]));
      return tf.sum(tf.mul(w, model.losses(byKey, batch, mode())));
    });
    return f(keys.map((k) => leaves[k]));
  });
  const perLeaf = grads.map((g) => g.dataSync() as Float32Array);
  tf.dispose(grads);
  return foldLeaves(params, specs, perLeaf);
}

/**
 * u' H v pieces: H u per parameter, by a nested tf.grads (the gradient of
 * g(theta) . u), u given per parameter.
 */
export function hessianTimes(model: Model, params: ParamStore, batch: Batch, mode: ModeFactory, weights: Float32Array, u: ParamVectors): ParamVectors {
  const specs = model.leaves(batch);
  const out = tf.tidy(() => {
    const leaves = makeLeaves(params, specs);
    const keys = specs.map((s) => s.key);
    const w = tf.tensor1d(weights);
    // u seen from each leaf: the parameter's u gathered like the leaf (so sum over leaves of g_leaf . u_leaf = g . u)
    const uLeaf = specs.map((s) => {
      const p = params.get(s.param);
      const full = Float32Array.from(u.get(p.name) as Float64Array);
      if (s.rows === undefined) return tf.tensor(full, [...p.shape]);
      const tmp: Param = { name: p.name, kind: p.kind, shape: p.shape, data: full };
      return tf.tensor2d(gatherRowsArray(tmp, s.rows), [s.rows.length, p.shape[1]]);
    });
    const loss = (xs: tf.Tensor[]): tf.Scalar => {
      const byKey: Record<string, tf.Tensor> = {};
      keys.forEach((k, i) => (byKey[k] = xs[i]));
      return tf.sum(tf.mul(w, model.losses(byKey, batch, mode())));
    };
    const gDotU = (...xs: tf.Tensor[]): tf.Scalar => {
      const g = tf.grads((...ys: tf.Tensor[]) => loss(ys))(xs);
      return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, uLeaf[i])))) as tf.Scalar;
    };
    return tf.grads(gDotU)(keys.map((k) => leaves[k]));
  });
  const perLeaf = out.map((g) => g.dataSync() as Float32Array);
  tf.dispose(out);
  return foldLeaves(params, specs, perLeaf);
}

export interface GradCheckOptions {
  mode: ModeFactory;
  /** Per-sample weights (default sampleWeights(batch size)). */
  weights?: Float32Array;
  /** Step size (default 1e-2); per entry it is h, along a direction every entry moves by up to h. */
  h?: number;
  /** Random directions over all parameters (default 3). */
  directions?: number;
  /** Entries checked per parameter: "all" (default) or a seeded random sample of that many. */
  entries?: "all" | number;
  /** Parameters to check (default all). */
  only?: readonly string[];
  seed?: number;
}

/** One comparison: what was checked, the analytic and the finite-difference value. */
export interface GradCheckEntry {
  what: string;
  analytic: number;
  numeric: number;
}

/** The comparisons and the largest analytic gradient entry (a check of an all-zero gradient proves nothing). */
export interface GradCheckReport {
  entries: GradCheckEntry[];
  maxAbsGradient: number;
}

/** Sets a parameter entry to a float32 value and returns the value actually stored. */
function setEntry(p: Param, j: number, value: number): number {
  p.data[j] = value;
  return p.data[j];
}

/** Compares the analytic gradient with central differences, per entry and along random directions. */
export function checkGradients(model: Model, params: ParamStore, batch: Batch, opts: GradCheckOptions): GradCheckReport {
  const h = opts.h ?? 1e-2;
  const rng = new Rng(opts.seed ?? 3);
  const weights = opts.weights ?? sampleWeights(batch.users.length);
  const J = (): number => objective(model, params, batch, opts.mode, weights);
  const g = analyticGradient(model, params, batch, opts.mode, weights);
  const checked = params.list().filter((p) => opts.only === undefined || opts.only.includes(p.name));
  const entries: GradCheckEntry[] = [];
  let maxAbsGradient = 0;
  for (const p of checked) for (const x of g.get(p.name) as Float64Array) maxAbsGradient = Math.max(maxAbsGradient, Math.abs(x));

  for (const p of checked) {
    const gp = g.get(p.name) as Float64Array;
    const idx = opts.entries === undefined || opts.entries === "all" ? [...gp.keys()] : Array.from({ length: opts.entries }, () => rng.int(gp.length));
    for (const j of idx) {
      const x0 = p.data[j];
      const hi = setEntry(p, j, x0 + h);
      const jHi = J();
      const lo = setEntry(p, j, x0 - h);
      const jLo = J();
      p.data[j] = x0;
      entries.push({ what: `${p.name}[${j}]`, analytic: gp[j], numeric: (jHi - jLo) / (hi - lo) });
    }
  }

  for (let r = 0; r < (opts.directions ?? 3); r++) {
    const saved = checked.map((p) => p.data.slice());
    const dir = checked.map((p) => Float64Array.from(p.data, () => rng.normal()));
    let scale = 0;
    for (const v of dir) for (const x of v) scale = Math.max(scale, Math.abs(x));
    const shift = (sign: number): Float32Array[] => {
      checked.forEach((p, k) => {
        for (let j = 0; j < p.data.length; j++) p.data[j] = saved[k][j] + (sign * h * dir[k][j]) / scale;
      });
      return checked.map((p) => p.data.slice());
    };
    const hi = shift(1);
    const jHi = J();
    const lo = shift(-1);
    const jLo = J();
    checked.forEach((p, k) => p.data.set(saved[k]));
    // both as derivatives along the realised step delta = hi - lo, per unit length
    let analytic = 0;
    let norm2 = 0;
    checked.forEach((p, k) => {
      const gp = g.get(p.name) as Float64Array;
      for (let j = 0; j < gp.length; j++) {
        const delta = hi[k][j] - lo[k][j];
        analytic += gp[j] * delta;
        norm2 += delta * delta;
      }
    });
    const len = Math.sqrt(norm2);
    entries.push({ what: `direction ${r}`, analytic: analytic / len, numeric: (jHi - jLo) / len });
  }
  return { entries, maxAbsGradient };
}

/**
 * Compares u' H v from hessianTimes with the central difference of g . u along v
 * (random u and v over all parameters), for `directions` pairs.
 */
export function checkSecondOrder(model: Model, params: ParamStore, batch: Batch, opts: GradCheckOptions): GradCheckReport {
  const h = opts.h ?? 1e-2;
  const rng = new Rng(opts.seed ?? 5);
  const weights = opts.weights ?? sampleWeights(batch.users.length);
  const all = params.list();
  const entries: GradCheckEntry[] = [];
  let maxAbsGradient = 0;
  for (let r = 0; r < (opts.directions ?? 3); r++) {
    const u: ParamVectors = new Map(all.map((p) => [p.name, Float64Array.from(p.data, () => rng.normal())]));
    const hu = hessianTimes(model, params, batch, opts.mode, weights, u);
    for (const v of hu.values()) for (const x of v) maxAbsGradient = Math.max(maxAbsGradient, Math.abs(x));
    const saved = all.map((p) => p.data.slice());
    const dir = all.map((p) => Float64Array.from(p.data, () => rng.normal()));
    let scale = 0;
    for (const v of dir) for (const x of v) scale = Math.max(scale, Math.abs(x));
    const gDotU = (sign: number): { value: number; at: Float32Array[] } => {
      all.forEach((p, k) => {
        for (let j = 0; j < p.data.length; j++) p.data[j] = saved[k][j] + (sign * h * dir[k][j]) / scale;
      });
      const at = all.map((p) => p.data.slice());
      const g = analyticGradient(model, params, batch, opts.mode, weights);
      let s = 0;
      for (const p of all) {
        const gp = g.get(p.name) as Float64Array;
        const up = u.get(p.name) as Float64Array;
        for (let j = 0; j < gp.length; j++) s += gp[j] * up[j];
      }
      return { value: s, at };
    };
    const hi = gDotU(1);
    const lo = gDotU(-1);
    all.forEach((p, k) => p.data.set(saved[k]));
    let analytic = 0;
    let norm2 = 0;
    all.forEach((p, k) => {
      const hp = hu.get(p.name) as Float64Array;
      for (let j = 0; j < hp.length; j++) {
        const delta = hi.at[k][j] - lo.at[k][j];
        analytic += hp[j] * delta;
        norm2 += delta * delta;
      }
    });
    const len = Math.sqrt(norm2);
    entries.push({ what: `u'Hv ${r}`, analytic: analytic / len, numeric: (hi.value - lo.value) / len });
  }
  return { entries, maxAbsGradient };
}

/** Throws, listing the worst entries, unless |analytic - numeric| <= atol + rtol max(|analytic|, |numeric|) everywhere. */
export function assertGradientsMatch(report: GradCheckReport, rtol: number, atol: number): void {
  if (!(report.maxAbsGradient > 0)) throw new Error("gradient check: the analytic gradient is all zeros");
  const bad = report.entries
    .map((e) => ({ ...e, excess: Math.abs(e.analytic - e.numeric) - (atol + rtol * Math.max(Math.abs(e.analytic), Math.abs(e.numeric))) }))
    .filter((e) => e.excess > 0)
    .sort((a, b) => b.excess - a.excess);
  if (bad.length > 0) {
    const lines = bad.slice(0, 8).map((e) => `  ${e.what}: analytic ${e.analytic}, numeric ${e.numeric}`);
    throw new Error(`gradient check: ${bad.length} of ${report.entries.length} comparisons off (rtol ${rtol}, atol ${atol}):\n${lines.join("\n")}`);
  }
}
