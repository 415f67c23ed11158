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
 * The same draw and its backward pass in closed form on typed arrays (float64)
 * for the scheduler's per-step path: gumbelPicks (S's forward value),
 * oneHotRows and gumbelBackward (d sum(G * S) / d log pi through y_soft).
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

/** The picks of the draws (Eq. 12): row r picks argmax_m (logPi_m + g_rm) (ties: the lower index), S's one-hot column; tau > 0 does not change it. */
export function gumbelPicks(logPi: Float64Array, noise: Float32Array, tau: number): Int32Array {
  const b = logPi.length;
  const draws = checkDraw(b, noise, tau);
  const picks = new Int32Array(draws);
  for (let r = 0; r < draws; r++) {
    const g = r * b;
    let best = 0;
    let top = -Infinity;
    for (let m = 0; m < b; m++) {
      const z = logPi[m] + noise[g + m];
      if (z > top) {
        top = z;
        best = m;
      }
    }
    picks[r] = best;
  }
  return picks;
}

/** S [picks.length x B] row-major from the picks: exact 0/1 one-hot rows. */
export function oneHotRows(picks: Int32Array, b: number): Float32Array {
  checkSize("B", b);
  const s = new Float32Array(picks.length * b);
  picks.forEach((m, r) => {
    if (!(m >= 0 && m < b)) throw new RangeError(`gumbel: pick ${m} of row ${r} outside [0, ${b})`);
    s[r * b + m] = 1;
  });
  return s;
}

/**
 * d L / d logPi of L = sum(G * S) through the straight-through S (Eq. 12), in
 * closed form: S's backward is y_soft's, y_r = softmax((logPi + g_r) / tau), so
 * dL/dlogPi_m = (1/tau) sum_r y_rm (G_rm - sum_j G_rj y_rj). G [draws x B] row-major.
 */
export function gumbelBackward(logPi: Float64Array, noise: Float32Array, tau: number, grad: ArrayLike<number>): Float64Array {
  const b = logPi.length;
  const draws = checkDraw(b, noise, tau);
  if (grad.length !== draws * b) throw new Error(`gumbel: upstream gradient has ${grad.length} values, S is ${draws} x ${b}`);
  const out = new Float64Array(b);
  const y = new Float64Array(b);
  const inv = 1 / tau;
  for (let r = 0; r < draws; r++) {
    const g = r * b;
    let top = -Infinity;
    for (let m = 0; m < b; m++) {
      y[m] = (logPi[m] + noise[g + m]) * inv;
      if (y[m] > top) top = y[m];
    }
    let sum = 0;
    for (let m = 0; m < b; m++) {
      const d = y[m] - top;
      y[m] = d < -50 ? 0 : Math.exp(d); // exp(-50) = 2e-22: no change to a float64 sum that holds exp(0) = 1
      sum += y[m];
    }
    let gy = 0;
    for (let m = 0; m < b; m++) {
      y[m] /= sum;
      gy += grad[g + m] * y[m];
    }
    for (let m = 0; m < b; m++) out[m] += y[m] * (grad[g + m] - gy);
  }
  for (let m = 0; m < b; m++) out[m] *= inv;
  return out;
}

/** The index picked by each row of a one-hot selection [rows x B] (read back in JS). */
export function selectedIndices(s: tf.Tensor2D): Int32Array {
  const idx = tf.argMax(s, 1);
  const out = Int32Array.from(idx.dataSync());
  idx.dispose();
  return out;
}

/** Checks logPi, noise and tau of a draw; returns the number of draws. */
function checkDraw(b: number, noise: Float32Array, tau: number): number {
  checkSize("B", b);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new RangeError(`gumbel: tau must be a positive number, got ${tau}`);
  if (noise.length === 0 || noise.length % b !== 0) throw new Error(`gumbel: noise has ${noise.length} values, not a positive multiple of B = ${b}`);
  return noise.length / b;
}

function checkSize(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`gumbel: ${what} must be a positive integer, got ${n}`);
}
