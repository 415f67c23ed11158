/**
 * NeuMF's per-sample gradients in factored form (per-sample-gradients.ts): the
 * forward pass of neumf.ts's logits and its backward written out by hand, with
 * dL_n / dy_n = sigmoid(y_n) - label_n for BCE on the logit y (losses.ts):
 *   predict layer  y = [gmf, h_L] Wp + bp:     Wp: x = [gmf, h_L], delta = dy;  bp: delta = dy
 *   d joint = dy Wp^T = [d gmf, d h_L]
 *   GMF            gmf = p^G * q^G:            d p^G = d gmf * q^G,  d q^G = d gmf * p^G
 *   MLP layer l    h_l = ReLU(h_{l-1} W_l + b_l): dz_l = d h_l * [h_l > 0];
 *                  W_l: x = h_{l-1}, delta = dz_l;  b_l: delta = dz_l;  d h_{l-1} = dz_l W_l^T
 *   h_0 = [p^M, q^M]:                          d p^M, d q^M = the halves of d h_0
 * Only without dropout (config dropout 0, or training off): a drawn mask would
 * have to be shared with the model's own pass, so the hook returns null then.
 */
import * as tf from "@tensorflow/tfjs";
import { bceLoss } from "./losses";
import type { Batch, ForwardMode, LeafTensors } from "./model";
import type { DenseFactors, PerSampleGradients } from "./per-sample-gradients";

/** The NeuMF sizes the hand-written pass needs. */
export interface NeuMFShape {
  factors: number;
  layers: number;
  dropout: number;
  mlpDim: number;
}

/** A leaf by key as a matrix, or an error naming it. */
function leaf2(leaves: LeafTensors, key: string): tf.Tensor2D {
  const t = leaves[key];
  if (t === undefined) throw new Error(`NeuMF per-sample gradients: missing leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  return (t.rank === 2 ? t : tf.reshape(t, [1, -1])) as tf.Tensor2D;
}

/** NeuMF's per-sample losses and gradients at the leaves (keys as NeuMFModel.leaves), or null when dropout is drawn. */
export function neumfPerSampleGradients(c: NeuMFShape, leaves: LeafTensors, batch: Batch, mode: ForwardMode): PerSampleGradients | null {
  if (mode.training && c.dropout > 0) return null;
  if (batch.kind !== "bce") throw new Error(`NeuMF: needs a BCE batch (user, item, label), got '${batch.kind}'`);
  const n = batch.users.length;
  const f = c.factors;
  const d = c.mlpDim;
  const pG = leaf2(leaves, "userGmf");
  const qG = leaf2(leaves, "itemGmf");
  const gmf = tf.mul(pG, qG);
  const inputs: tf.Tensor2D[] = [tf.concat([leaf2(leaves, "userMlp"), leaf2(leaves, "itemMlp")], 1)];
  for (let l = 1; l <= c.layers; l++) {
    const w = leaf2(leaves, `mlpW${l}`);
    const b = tf.reshape(leaf2(leaves, `mlpB${l}`), [-1]);
    inputs.push(tf.relu(tf.add(tf.matMul(inputs[l - 1], w), b)) as tf.Tensor2D);
  }
  const joint = tf.concat([gmf, inputs[c.layers]], 1) as tf.Tensor2D;
  const wp = leaf2(leaves, "predictW"); // [2f x 1]
  const y = tf.reshape(tf.add(tf.matMul(joint, wp), tf.reshape(leaf2(leaves, "predictB"), [-1])), [n]) as tf.Tensor1D;
  const labels = tf.tensor1d(batch.labels);
  const losses = bceLoss(y, labels);
  const dy = tf.reshape(tf.sub(tf.sigmoid(y), labels), [n, 1]) as tf.Tensor2D; // dL_n / dy_n
  const dense: Record<string, DenseFactors> = { predictW: { x: joint, delta: dy }, predictB: { x: null, delta: dy } };
  const dJoint = tf.matMul(dy, wp, false, true); // [n x 2f]
  const dGmf = tf.slice(dJoint, [0, 0], [n, f]);
  const rows: Record<string, tf.Tensor2D> = { userGmf: tf.mul(dGmf, qG), itemGmf: tf.mul(dGmf, pG) };
  let dh = tf.slice(dJoint, [0, f], [n, f]) as tf.Tensor2D;
  for (let l = c.layers; l >= 1; l--) {
    const dz = tf.mul(dh, tf.step(inputs[l])) as tf.Tensor2D; // ReLU': h_l > 0 iff z_l > 0 (tfjs: step(z))
    dense[`mlpW${l}`] = { x: inputs[l - 1], delta: dz };
    dense[`mlpB${l}`] = { x: null, delta: dz };
    dh = tf.matMul(dz, leaf2(leaves, `mlpW${l}`), false, true);
  }
  rows.userMlp = tf.slice(dh, [0, 0], [n, d]);
  rows.itemMlp = tf.slice(dh, [0, d], [n, d]);
  return { losses, rows, dense };
}
