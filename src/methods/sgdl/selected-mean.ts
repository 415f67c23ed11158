/**
 * The meta loss of Eq. 8 under the scheduler's selection (Section 3.2.2): the
 * memorized batch's per-sample losses at theta_hat, averaged plainly, weighted
 * by a vector, or picked by the rows of a (straight-through one-hot) matrix.
 * Or, as the official code does it (sgdl-reference 5.3 B4), the matrix picks
 * the samples' per-position ROWS (LightGCN's final embeddings) and the loss is
 * taken on the picked rows: the same value for a one-hot S, another gradient
 * w.r.t. S. Its own file so that the general and the linear (LightGCN) meta
 * steps share it without importing each other.
 */
import * as tf from "@tensorflow/tfjs";
import type { PerSampleRows } from "../../models/per-sample-rows";

/** The meta loss of per-sample losses L [B] under a selection: none (mean), a vector s ((1/B) sum s L) or a matrix S (mean(S L)). */
export function selectedMean(losses: tf.Tensor1D, selection?: tf.Tensor): tf.Scalar {
  const n = losses.shape[0];
  if (selection === undefined) return tf.mean(losses) as tf.Scalar;
  if (selection.rank === 1 && selection.shape[0] === n) return tf.div(tf.sum(tf.mul(selection, losses)), n) as tf.Scalar;
  if (selection.rank === 2 && selection.shape[1] === n) return tf.mean(tf.matMul(selection as tf.Tensor2D, tf.reshape(losses, [n, 1]) as tf.Tensor2D)) as tf.Scalar;
  throw new Error(`meta step: selection must be [${n}] or [R x ${n}] for a memorized batch of ${n}, got [${selection.shape.join(", ")}]`);
}

/**
 * The meta loss with the selection S [B x B] applied to the memorized batch's
 * per-position rows (sgdl-reference 5.3 B4): draw r reads the rows S[r] . rows[key]
 * of every key, and l_meta = mean_r L_r(picked rows). For a one-hot S the value is
 * selectedMean's; d l / d S[r, m] = (1/B) <d L_r / d (r's picked rows), m's rows>
 * instead of L_m / B. The rows' losses read the batch only for its kind and size,
 * so this holds for BPR batches (a BCE loss would keep row r's own label).
 */
export function selectedRowsMean(rows: PerSampleRows, selection: tf.Tensor): tf.Scalar {
  const keys = Object.keys(rows.rows);
  if (keys.length === 0) throw new Error("meta step: an embedding-level selection needs per-position rows, got none");
  const n = rows.rows[keys[0]].shape[0];
  if (selection.rank !== 2 || selection.shape[0] !== n || selection.shape[1] !== n) {
    throw new Error(`meta step: an embedding-level selection must be [${n} x ${n}] (one draw per memorized sample), got [${selection.shape.join(", ")}]`);
  }
  const picked: Record<string, tf.Tensor2D> = {};
  for (const k of keys) picked[k] = tf.matMul(selection as tf.Tensor2D, rows.rows[k]);
  return tf.mean(rows.losses(picked)) as tf.Scalar;
}
