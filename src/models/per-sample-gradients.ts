/**
 * Per-sample gradients in factored form: from ONE batched forward and backward
 * pass with a unit seed per sample, every sample's own gradient w.r.t. every
 * leaf the batch reads (models/model.ts), without one backward per sample.
 *   - a row leaf (LeafSpec with rows, one row per position, position n read by
 *     sample n only): row n of the gradient of sum_k L_k is dL_n / d row n;
 *   - a whole (dense) leaf: sample n's gradient is the outer product
 *     x_n delta_n^T of the layer input and the back-propagated signal (a weight
 *     [in x out] used as x W), or delta_n alone (a bias [out], x null).
 * A model supplies them through the optional Model hook `perSampleGradients`;
 * methods (SGDL's Phase II, methods/sgdl/factored-meta.ts) then get inner
 * products and weighted sums of per-sample gradients from a few matmuls:
 *   <g_a, g_b> = (x_a . x_b)(delta_a . delta_b),  <g_n, V> = x_n^T V delta_n,
 *   sum_n c_n g_n = X^T diag(c) Delta (weightedGradient, innerWith below).
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, LeafTensors } from "./model";

/** A whole leaf's per-sample gradients: sample n's is outer(x[n], delta[n]) [in x out], or delta[n] when x is null (a bias). */
export interface DenseFactors {
  /** The layer input per sample [B x in]; null for a vector leaf (bias). */
  x: tf.Tensor2D | null;
  /** The back-propagated signal per sample [B x out]. */
  delta: tf.Tensor2D;
}

/** A batch's per-sample losses and per-sample gradients (unit seed per sample) at given leaves. */
export interface PerSampleGradients {
  /** L_n at the leaves [B], the model's own losses. */
  losses: tf.Tensor1D;
  /** Per row leaf key: [B x d], row n = dL_n / d(row n of the leaf). */
  rows: Record<string, tf.Tensor2D>;
  /** Per whole leaf key: its factors. */
  dense: Record<string, DenseFactors>;
}

/**
 * How a model gives its per-sample gradients: `gradients` at its leaf tensors
 * (as model.leaves(batch) lists them; every leaf appears in rows or dense), or
 * null when the factored form does not hold in this forward mode (e.g. dropout
 * drawn in training): callers then use autodiff. `applies` says beforehand
 * whether it holds. Where it holds, the result draws nothing from mode.rng and
 * is the same in every such mode, so callers may reuse it across modes.
 */
export interface PerSampleGradientSource {
  applies(mode: ForwardMode): boolean;
  gradients(leaves: LeafTensors, batch: Batch, mode: ForwardMode): PerSampleGradients | null;
}

/** sum_n c_n g_n for one whole leaf, shaped like the leaf: X^T diag(c) Delta (weight) or sum_n c_n delta_n (bias). */
export function weightedGradient(f: DenseFactors, c: tf.Tensor1D, shape: readonly number[]): tf.Tensor {
  const cd = tf.mul(tf.reshape(c, [-1, 1]), f.delta);
  const g = f.x === null ? tf.sum(cd, 0) : tf.matMul(f.x, cd, true, false);
  return tf.reshape(g, [...shape]);
}

/** <g_n, V> per sample [B] for one whole leaf and a tensor V of the leaf's shape: rowsum((X V) * Delta), or Delta V for a bias. */
export function innerWith(f: DenseFactors, v: tf.Tensor): tf.Tensor1D {
  const out = f.delta.shape[1];
  if (f.x === null) return tf.reshape(tf.matMul(f.delta, tf.reshape(v, [out, 1])), [-1]) as tf.Tensor1D;
  const xv = tf.matMul(f.x, tf.reshape(v, [f.x.shape[1], out]));
  return tf.sum(tf.mul(xv, f.delta), 1) as tf.Tensor1D;
}
