/**
 * Per-sample ranking losses as TF.js functions (one loss per sample, so that
 * training methods can weight, truncate or select samples). The paper trains
 * NeuMF and CDAE with BCE, NGCF and LightGCN with BPR (§4.1.3). Both are written
 * with softplus only: tf.logSigmoid's gradient is broken in tfjs 4.22 on
 * intermediate tensors, and softplus has working second derivatives (the
 * meta-gradient of Eq. 8 differentiates through the losses twice).
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "./model";

/** BPR loss per sample: -ln sigmoid(s_pos - s_neg) = softplus(s_neg - s_pos) (Rendle et al. 2009). */
export function bprLoss(sPos: tf.Tensor1D, sNeg: tf.Tensor1D): tf.Tensor1D {
  if (sPos.shape[0] !== sNeg.shape[0]) throw new Error(`bprLoss: ${sPos.shape[0]} positive but ${sNeg.shape[0]} negative scores`);
  return tf.softplus(tf.sub(sNeg, sPos)) as tf.Tensor1D;
}

/**
 * Binary cross-entropy on logits per sample: -l ln sigmoid(y) - (1 - l) ln(1 - sigmoid(y))
 * = softplus(y) - l y, computed as l softplus(-y) + (1 - l) softplus(y), which has
 * no cancellation for large |y| and holds for any label l in [0, 1].
 */
export function bceLoss(logits: tf.Tensor1D, labels: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[0] !== labels.shape[0]) throw new Error(`bceLoss: ${logits.shape[0]} logits but ${labels.shape[0]} labels`);
  return tf.add(tf.mul(labels, tf.softplus(tf.neg(logits))), tf.mul(tf.sub(1, labels), tf.softplus(logits)));
}

/**
 * Per-sample losses from the final embeddings of a batch's nodes, stacked in
 * the order of propagation.ts's batchNodes (users, then positives and negatives,
 * or users then items), with dot-product scores: BPR for a BPR batch, BCE on the
 * score as logit for a BCE batch.
 */
export function dotProductLosses(rows: tf.Tensor2D, batch: Batch): tf.Tensor1D {
  const b = batch.users.length;
  const parts = batch.kind === "bpr" ? 3 : 2;
  if (rows.shape[0] !== parts * b) throw new Error(`dotProductLosses: ${rows.shape[0]} rows for a ${batch.kind} batch of ${b}`);
  const d = rows.shape[1];
  const u = tf.slice(rows, [0, 0], [b, d]);
  const score = (part: number): tf.Tensor1D => tf.sum(tf.mul(u, tf.slice(rows, [part * b, 0], [b, d])), 1);
  if (batch.kind === "bpr") return bprLoss(score(1), score(2));
  return bceLoss(score(1), tf.tensor1d(batch.labels));
}
