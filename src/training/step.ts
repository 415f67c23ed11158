/**
 * One gradient step on a model kept as a ParamStore (models/model.ts): copy
 * the leaves the batch reads into fresh tensors, take the gradient of the
 * objective of the per-sample losses w.r.t. those leaves, fold the gradients
 * back onto the parameters (row leaves onto the rows they came from, whole
 * leaves densely) and hand them to Adam. Every tensor made here is disposed
 * before returning, so nothing leaks across steps.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, LeafSpec, LeafTensors, Model } from "../models/model";
import { gatherRows, paramTensor, scatterAddRows, tableDims, type GatheredGradient, type Param, type ParamStore } from "../models/ops/embedding-table";
import type { Adam, ParamGradient } from "./adam";
import { exampleCount, sliceExamples } from "./batches";

/** The scalar to minimise, from the per-sample losses of a batch; runs inside the gradient tape. */
export type Objective = (losses: tf.Tensor1D, batch: Batch) => tf.Scalar;

/** The plain objective: the mean per-sample loss. */
export const meanObjective: Objective = (losses) => tf.mean(losses) as tf.Scalar;

/** What one step reports. */
export interface StepResult {
  /** The objective's value before the update. */
  loss: number;
  /** Examples in the batch. */
  size: number;
}

/** Leaf tensors copied from the parameters, by key (the caller disposes them). */
export function makeLeaves(params: ParamStore, specs: readonly LeafSpec[]): { keys: string[]; tensors: tf.Tensor[] } {
  const keys: string[] = [];
  const tensors: tf.Tensor[] = [];
  const seen = new Set<string>();
  try {
    for (const s of specs) {
      if (seen.has(s.key)) throw new Error(`leaf key '${s.key}' appears twice in one batch's leaves`);
      seen.add(s.key);
      const p = params.get(s.param);
      tensors.push(s.rows === undefined ? paramTensor(p) : gatherRows(p, s.rows));
      keys.push(s.key);
    }
  } catch (err) {
    tf.dispose(tensors);
    throw err;
  }
  return { keys, tensors };
}

/** A record key -> tensor from parallel lists. */
function byKey(keys: readonly string[], tensors: readonly tf.Tensor[]): LeafTensors {
  const out: Record<string, tf.Tensor> = {};
  keys.forEach((k, i) => (out[k] = tensors[i]));
  return out;
}

/** Checks the model's loss vector has one entry per example. */
function checkLosses(model: Model, losses: tf.Tensor, batch: Batch): tf.Tensor1D {
  const n = exampleCount(batch);
  if (losses.rank !== 1 || losses.shape[0] !== n) {
    throw new Error(`model '${model.name}': losses must be a vector of ${n} per-sample values, got shape [${losses.shape.join(", ")}]`);
  }
  return losses as tf.Tensor1D;
}

/**
 * Maps per-leaf gradients to per-parameter ones: a parameter read only through
 * row leaves gets a lazy row gradient (repeats summed); one read whole (by at
 * least one leaf) gets a dense gradient, with any row leaves added in.
 */
export function toParamGradients(params: ParamStore, specs: readonly LeafSpec[], grads: readonly (Float32Array | undefined)[]): Map<Param, ParamGradient> {
  const groups = new Map<Param, { rows: GatheredGradient[]; dense: Float32Array[] }>();
  specs.forEach((s, i) => {
    const g = grads[i];
    if (g === undefined) return; // the objective does not depend on this leaf: no update (as PyTorch's None gradient)
    const p = params.get(s.param);
    let grp = groups.get(p);
    if (grp === undefined) groups.set(p, (grp = { rows: [], dense: [] }));
    if (s.rows === undefined) grp.dense.push(g);
    else grp.rows.push({ idx: s.rows, grad: g });
  });
  const out = new Map<Param, ParamGradient>();
  for (const [p, grp] of groups) {
    if (grp.dense.length === 0) {
      const r = scatterAddRows(tableDims(p).dim, grp.rows);
      out.set(p, { kind: "rows", rows: r.rows, grad: r.grad });
      continue;
    }
    const dense = new Float32Array(p.data.length);
    for (const d of grp.dense) for (let k = 0; k < d.length; k++) dense[k] += d[k];
    for (const part of grp.rows) {
      const dim = tableDims(p).dim;
      for (let n = 0; n < part.idx.length; n++) {
        const at = part.idx[n] * dim;
        for (let j = 0; j < dim; j++) dense[at + j] += part.grad[n * dim + j];
      }
    }
    out.set(p, { kind: "dense", grad: dense });
  }
  return out;
}

/** The objective's value and its gradient per parameter at the current parameters (no update). */
export function objectiveGradients(
  model: Model,
  params: ParamStore,
  batch: Batch,
  mode: ForwardMode,
  objective: Objective = meanObjective,
): { value: number; grads: Map<Param, ParamGradient> } {
  const specs = model.leaves(batch);
  const { keys, tensors } = makeLeaves(params, specs);
  let value: tf.Tensor | undefined;
  let grads: (tf.Tensor | undefined)[] = [];
  try {
    const f = (): tf.Scalar => {
      const leaves = byKey(keys, tensors);
      return objective(checkLosses(model, model.losses(leaves, batch, mode), batch), batch);
    };
    // allowNoGradients: a leaf the objective does not use gets no gradient instead of an error
    const res = tf.engine().gradients(f, tensors, undefined, true);
    value = res.value;
    grads = res.grads;
    if (value.size !== 1) throw new Error(`the objective must be a scalar, got shape [${value.shape.join(", ")}]`);
    const arrays = grads.map((g) => (g == null ? undefined : (g.dataSync() as Float32Array)));
    const v = value.dataSync()[0];
    return { value: v, grads: toParamGradients(params, specs, arrays) };
  } finally {
    tf.dispose(tensors);
    if (value !== undefined) value.dispose();
    for (const g of grads) if (g != null) g.dispose();
  }
}

/** One optimizer step on the batch: gradient of objective(losses) w.r.t. the leaves, then Adam. */
export function gradientStep(
  model: Model,
  params: ParamStore,
  optimizer: Adam,
  batch: Batch,
  mode: ForwardMode,
  objective: Objective = meanObjective,
): StepResult {
  const { value, grads } = objectiveGradients(model, params, batch, mode, objective);
  if (!Number.isFinite(value)) throw new Error(`model '${model.name}': the training objective is ${value} at iteration ${optimizer.iterations + 1}`);
  optimizer.step(grads);
  return { loss: value, size: exampleCount(batch) };
}

/** Per-sample losses of any examples at the given parameters, without gradients, in chunks of `chunk` rows. */
export function perSampleLosses(model: Model, params: ParamStore, examples: Batch, mode: ForwardMode, chunk = 4096): Float32Array {
  const n = exampleCount(examples);
  const out = new Float32Array(n);
  for (let start = 0; start < n; start += chunk) {
    const part = sliceExamples(examples, start, Math.min(n, start + chunk));
    const specs = model.leaves(part);
    const { keys, tensors } = makeLeaves(params, specs);
    try {
      const values = tf.tidy(() => checkLosses(model, model.losses(byKey(keys, tensors), part, mode), part));
      out.set(values.dataSync(), start);
      values.dispose();
    } finally {
      tf.dispose(tensors);
    }
  }
  return out;
}
