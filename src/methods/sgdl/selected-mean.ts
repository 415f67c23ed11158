/**
 * The meta loss of Eq. 8 under the scheduler's selection (Section 3.2.2): the
 * memorized batch's per-sample losses at theta_hat, averaged plainly, weighted
 * by a vector, or picked by the rows of a (straight-through one-hot) matrix.
 * Its own file so that the general and the linear (LightGCN) meta steps share
 * it without importing each other.
 */
import * as tf from "@tensorflow/tfjs";

/** The meta loss of per-sample losses L [B] under a selection: none (mean), a vector s ((1/B) sum s L) or a matrix S (mean(S L)). */
export function selectedMean(losses: tf.Tensor1D, selection?: tf.Tensor): tf.Scalar {
  const n = losses.shape[0];
  if (selection === undefined) return tf.mean(losses) as tf.Scalar;
  if (selection.rank === 1 && selection.shape[0] === n) return tf.div(tf.sum(tf.mul(selection, losses)), n) as tf.Scalar;
  if (selection.rank === 2 && selection.shape[1] === n) return tf.mean(tf.matMul(selection as tf.Tensor2D, tf.reshape(losses, [n, 1]) as tf.Tensor2D)) as tf.Scalar;
  throw new Error(`meta step: selection must be [${n}] or [R x ${n}] for a memorized batch of ${n}, got [${selection.shape.join(", ")}]`);
}
