/**
 * Dense products of small row-major Float32Array matrices for the scheduler's
 * per-step path: in JS with float64 sums when small, else one tf.matMul on
 * tensors made from the arrays (wasm's SIMD kernel is far faster at the LSTM's
 * [128 x 67] x [67 x 256] than a JS loop; tf's sums are float32).
 */
import * as tf from "@tensorflow/tfjs";

/** Products with fewer multiply-adds than this run in JS. */
export const JS_MATMUL_LIMIT = 1 << 16;

/** C [m x n] = A [m x k] B [k x n], all row-major. */
export function matMulArrays(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  if (a.length !== m * k || b.length !== k * n) throw new Error(`matMulArrays: A has ${a.length} values for ${m} x ${k}, B ${b.length} for ${k} x ${n}`);
  if (m * k * n >= JS_MATMUL_LIMIT) {
    const ta = tf.tensor2d(a, [m, k]);
    const tb = tf.tensor2d(b, [k, n]);
    const tc = tf.matMul(ta, tb);
    const out = tc.dataSync() as Float32Array;
    tf.dispose([ta, tb, tc]);
    return out;
  }
  const out = new Float32Array(m * n);
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p];
      if (v === 0) continue;
      const row = p * n;
      for (let j = 0; j < n; j++) acc[j] += v * b[row + j];
    }
    out.set(acc, i * n);
  }
  return out;
}

/** A^T [k x m] of A [m x k], row-major. */
export function transposeArray(a: Float32Array, m: number, k: number): Float32Array {
  if (a.length !== m * k) throw new Error(`transposeArray: ${a.length} values for ${m} x ${k}`);
  const out = new Float32Array(m * k);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) out[p * m + i] = a[i * k + p];
  return out;
}
