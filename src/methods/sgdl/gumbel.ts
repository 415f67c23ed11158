/**
 * Gumbel-softmax sampling with the straight-through estimator (Jang et al.,
 * 2017; paper Eq. 12), as the official code uses it (sgdl-reference 5.3 A.8):
 * each of `draws` rows is one draw from Cat(pi) over the B memorized samples,
 * with replacement. Per row: Gumbel(0, 1) noise g = -log(-log(U + 1e-20) + 1e-20)
 * with U ~ U[0, 1) from the seeded Rng (row-major: draw 0's B values first),
 * y_soft = softmax((log pi + g) / tau), and the output is the exact one-hot of
 * argmax(y_soft) in the forward pass while the backward pass is that of y_soft
 * (hard - stop_gradient(y_soft) + y_soft, written as a customGrad so the
 * forward value is exactly 0/1 instead of rounding to 1 +- 1 ulp).
 * The paper writes epsilon ~ U(0, 1) and puts /tau outside the exp; both are
 * read as the standard Gumbel-softmax (sgdl-reference 8 item 13).
 * tau: 0.05 in the paper, 1.0 in the current official code.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../../util/rng";

/** Gumbel(0, 1) noise [draws x B] row-major from rng, as the official code draws it: -log(-log(U + 1e-20) + 1e-20). */
export function gumbelNoise(draws: number, b: number, rng: Rng): Float32Array {
  checkSize("draws", draws);
  checkSize("B", b);
  const out = new Float32Array(draws * b);
  for (let k = 0; k < out.length; k++) out[k] = -Math.log(-Math.log(rng.next() + 1e-20) + 1e-20);
  return out;
}

/** The perturbed logits z [draws x B] = (logPi + g) / tau for given noise g (Eq. 12 before its softmax). */
export function gumbelLogits(logPi: tf.Tensor1D, noise: Float32Array, tau: number): tf.Tensor2D {
  const b = logPi.shape[0];
  checkSize("B", b);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new RangeError(`gumbel: tau must be a positive number, got ${tau}`);
  if (noise.length % b !== 0) throw new Error(`gumbel: noise has ${noise.length} values, not a multiple of B = ${b}`);
  const draws = noise.length / b;
  return tf.div(tf.add(tf.reshape(logPi, [1, b]), tf.tensor2d(noise, [draws, b])), tau) as tf.Tensor2D;
}

/** y_soft [draws x B] = softmax((logPi + g) / tau) per row, for given noise g (Eq. 12). */
export function gumbelSoftSample(logPi: tf.Tensor1D, noise: Float32Array, tau: number): tf.Tensor2D {
  return tf.softmax(gumbelLogits(logPi, noise, tau)) as tf.Tensor2D;
}

/**
 * Straight-through: the forward value is `hard` (a constant one-hot [rows x B]),
 * the gradient w.r.t. ySoft is the incoming gradient unchanged, i.e. the value
 * of hard - stop_gradient(ySoft) + ySoft without its float rounding.
 */
export function straightThrough(ySoft: tf.Tensor2D, hard: tf.Tensor2D): tf.Tensor2D {
  if (ySoft.shape[0] !== hard.shape[0] || ySoft.shape[1] !== hard.shape[1]) {
    throw new Error(`straightThrough: soft [${ySoft.shape.join(", ")}] and hard [${hard.shape.join(", ")}] differ in shape`);
  }
  const f = tf.customGrad((..._inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({ value: tf.clone(hard), gradFunc: (dy: tf.Tensor) => dy }));
  return f(ySoft) as tf.Tensor2D; // the cast: tslab compiles without strict, where customGrad's result is a plain Tensor
}

/**
 * The selection S [draws x B] (Eq. 12, straight-through): row r is the one-hot
 * of the r-th draw from Cat(softmax(logPi)), at argmax_m (logPi_m + g_rm), so
 * the draw does not depend on tau; d S / d logPi is that of y_soft. logPi is
 * log pi (e.g. tf.logSoftmax(o)); the noise comes from rng.
 */
export function gumbelSoftmaxSelect(logPi: tf.Tensor1D, draws: number, tau: number, rng: Rng): tf.Tensor2D {
  return gumbelSelectWithNoise(logPi, gumbelNoise(draws, logPi.shape[0], rng), tau);
}

/** gumbelSoftmaxSelect with given noise g [draws x B] (to replay a draw, e.g. for a later backward pass). */
export function gumbelSelectWithNoise(logPi: tf.Tensor1D, noise: Float32Array, tau: number): tf.Tensor2D {
  const b = logPi.shape[0];
  const z = gumbelLogits(logPi, noise, tau);
  const hard = tf.tidy(() => tf.cast(tf.oneHot(tf.argMax(z, 1), b), "float32") as tf.Tensor2D);
  return straightThrough(tf.softmax(z) as tf.Tensor2D, hard);
}

/** The index picked by each row of a one-hot selection [rows x B] (read back in JS). */
export function selectedIndices(s: tf.Tensor2D): Int32Array {
  const idx = tf.argMax(s, 1);
  const out = Int32Array.from(idx.dataSync());
  idx.dispose();
  return out;
}

function checkSize(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`gumbel: ${what} must be a positive integer, got ${n}`);
}
