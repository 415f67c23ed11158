/**
 * SGDL's actual update (Eq. 9) from per-sample gradient factors, for models
 * that have them (Model.perSampleGradients: NeuMF), without a second autodiff
 * pass. With c = w / |B_t|, w_k = g(L_k(theta); psi_new) detached:
 *   grad (1/|B_t|) sum_k w_k L_k(theta) = sum_k c_k g_k(theta), per leaf of B_t:
 *   - dense leaf (x, delta factors): X^T diag(c) Delta (weightedGradient);
 *   - row leaf (per position): row k is c_k G_k, folded onto its table rows as
 *     the trainer's step folds a row leaf (training/step.ts toParamGradients:
 *     repeated rows summed, lazy row update).
 * The ParamGradients are those gradientStep hands to Adam (same kinds and
 * shapes, the same numbers up to float32 rounding), handed to the same
 * optimizer in one step. B_t's factors at theta are the step's kept points
 * (factored-cache.ts: the scheduler inputs or the meta-gradient took them at
 * this theta; psi's update does not move theta), else one pass of the hook.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, Model } from "../../models/model";
import type { Adam } from "../../training/adam";
import type { ParamStore } from "../../models/ops/embedding-table";
import { weightedGradient, type DenseFactors } from "../../models/per-sample-gradients";
import { toParamGradients } from "../../training/step";
import { findTheta } from "./factored-cache";
import { factoredFor } from "./factored-meta";
import { batchLeaves, denseTensors, hookGradients, leafTensors, type Stored2D } from "./factored-points";
// a cycle with meta-step.ts (which dispatches here): types only
import type { WeightsOf } from "./meta-step";

/** What the factored actual update needs: the model, theta and its optimizer, the training batch and the forward mode. */
export interface FactoredUpdateInputs {
  model: Model;
  params: ParamStore;
  optimizer: Adam;
  train: Batch;
  mode: ForwardMode;
}

/** What the factored actual update did. */
export interface FactoredUpdate {
  /** (1/|B_t|) sum_k w_k L_k(theta), before the update. */
  loss: number;
  size: number;
  /** w_k and L_k(theta) of the training batch. */
  weights: Float32Array;
  losses: Float32Array;
  /** Whether B_t's factors at theta were the step's kept ones (else one hook pass). */
  kept: boolean;
}

/** B_t's per-sample gradients at theta, as the update reads them: losses and row gradients as arrays, the dense factors as tensors. */
interface TrainFactors {
  losses: Float32Array;
  rows: Record<string, Stored2D>;
  dense: Record<string, DenseFactors>;
  kept: boolean;
}

/**
 * B_t's factors at the current theta (call inside tf.tidy): the kept ones, or
 * (unless keptOnly) one hook pass, its dense factors used as they come; null
 * when the hook does not apply in the mode or keptOnly finds none kept.
 */
function trainFactors(inp: FactoredUpdateInputs, keptOnly: boolean): TrainFactors | null {
  const hook = factoredFor(inp.model, [inp.train]);
  if (hook === null || !hook.applies(inp.mode)) return null;
  const at = batchLeaves(inp.model, inp.params, inp.train);
  const kept = findTheta(inp.model, inp.params, at);
  if (kept !== null) return { losses: kept.losses, rows: kept.rows, dense: denseTensors(kept), kept: true };
  if (keptOnly) return null;
  const fresh = hookGradients(inp.model, hook, at.specs, leafTensors(inp.params, at.specs, at.values), inp.train, inp.mode);
  if (fresh === null) return null;
  const rows: Record<string, Stored2D> = {};
  for (const k of Object.keys(fresh.rows)) rows[k] = { data: fresh.rows[k].dataSync() as Float32Array, cols: fresh.rows[k].shape[1] };
  return { losses: fresh.losses.dataSync() as Float32Array, rows, dense: fresh.dense, kept: false };
}

/**
 * The actual update (Eq. 9) from B_t's factors at theta, stepping
 * inp.optimizer once; null (nothing done) when the model's hook does not apply
 * in inp.mode (e.g. dropout drawn) or, with keptOnly, B_t's factors at this
 * theta are not kept. Throws, as gradientStep, on a non-finite loss.
 */
export function factoredActualUpdate(inp: FactoredUpdateInputs, weightsOf: WeightsOf, keptOnly = false): FactoredUpdate | null {
  const { model, params } = inp;
  const specs = model.leaves(inp.train);
  const n = inp.train.users.length;
  let found: { loss: number; kept: boolean; weights: Float32Array; losses: Float32Array } | null = null;
  const grads: Float32Array[] = [];
  // arrays leave the tidy by assignment (tf.tidy walks a returned object's typed arrays)
  tf.tidy(() => {
    const f = trainFactors(inp, keptOnly);
    if (f === null) return;
    const lt = tf.tensor1d(f.losses);
    const wt = weightsOf(lt);
    const loss = tf.mean(tf.mul(wt, lt)).dataSync()[0]; // the weighted loss of Eq. 9, as the autodiff objective
    found = { loss, kept: f.kept, weights: wt.dataSync().slice() as Float32Array, losses: f.losses.slice() };
    if (!Number.isFinite(loss)) return;
    const ct = tf.div(wt, n) as tf.Tensor1D; // c_k = w_k / |B_t|
    const c = ct.dataSync();
    for (const s of specs) {
      if (s.rows === undefined) {
        grads.push(weightedGradient(f.dense[s.key], ct, params.get(s.param).shape).dataSync().slice() as Float32Array); // X^T diag(c) Delta
        continue;
      }
      const G = f.rows[s.key];
      const out = new Float32Array(G.data.length);
      const d = G.cols;
      for (let k = 0; k < n; k++) for (let j = k * d; j < (k + 1) * d; j++) out[j] = c[k] * G.data[j]; // c_k G_k, one row per position
      grads.push(out);
    }
  });
  const r = found as { loss: number; kept: boolean; weights: Float32Array; losses: Float32Array } | null;
  if (r === null) return null;
  if (!Number.isFinite(r.loss)) throw new Error(`model '${model.name}': the training objective is ${r.loss} at iteration ${inp.optimizer.iterations + 1}`);
  inp.optimizer.step(toParamGradients(params, specs, grads)); // Eq. 9: the trainer's optimizer, rows folded as its step folds them
  return { loss: r.loss, size: n, weights: r.weights, losses: r.losses, kept: r.kept };
}
