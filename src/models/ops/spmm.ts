/**
 * Sparse-dense matrix product Y = A X as a TF.js op. tfjs has no sparse matmul:
 * the forward pass reads X out of tf and multiplies outside it (spmmArrays:
 * a WebAssembly SIMD kernel, or JS loops); the gradient
 * dX = A^T dY calls the same op on the precomputed transpose, so the op can be
 * differentiated again (the exact meta-gradient of Eq. 8 nests tf.grad in tf.grad).
 */
import * as tf from "@tensorflow/tfjs";
import { transpose, type Csr } from "./csr";
import { spmmWasm } from "./spmm-wasm";

/** A constant sparse matrix paired with its transpose (operator.transposed.transposed === operator). */
export class SparseOperator {
  readonly a: Csr;
  private other: SparseOperator | undefined;
  private op: ((x: tf.Tensor) => tf.Tensor) | undefined;

  private constructor(a: Csr) {
    this.a = a;
  }

  /** Pairs A with its transpose; pass `at` when it is known (for a symmetric A, pass A itself). */
  static of(a: Csr, at: Csr = transpose(a)): SparseOperator {
    if (at.rows !== a.cols || at.cols !== a.rows) {
      throw new Error(`SparseOperator: transpose is ${at.rows}x${at.cols}, expected ${a.cols}x${a.rows}`);
    }
    const fwd = new SparseOperator(a);
    const bwd = at === a ? fwd : new SparseOperator(at);
    fwd.other = bwd;
    bwd.other = fwd;
    return fwd;
  }

  /** The operator of A^T. */
  get transposed(): SparseOperator {
    if (this.other === undefined) throw new Error("SparseOperator: built without SparseOperator.of");
    return this.other;
  }

  /** The custom op for this matrix, built once. */
  customOp(): (x: tf.Tensor) => tf.Tensor {
    if (this.op === undefined) {
      const a = this.a;
      const custom = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
        const x = args[0];
        if (!(x instanceof tf.Tensor)) throw new Error("spmm: the input is not a tensor");
        const d = (x.shape as number[])[1];
        const out = spmmArrays(a, x.dataSync() as Float32Array, d);
        const value = tf.tensor2d(out, [a.rows, d]);
        // dX = A^T dY, through the same custom op so that it is differentiable in turn
        return { value, gradFunc: (dy: tf.Tensor) => spmm(this.transposed, dy as tf.Tensor2D) };
      });
      this.op = (x: tf.Tensor) => custom(x);
    }
    return this.op;
  }
}

/** Y = A X for a constant sparse A and a dense float32 X [A.cols, d]; differentiable any number of times in X. */
export function spmm(op: SparseOperator, x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2) throw new Error(`spmm: X must be 2-D, got shape [${x.shape.join(", ")}]`);
  if (x.shape[0] !== op.a.cols) {
    throw new Error(`spmm: A is ${op.a.rows}x${op.a.cols} but X has ${x.shape[0]} rows`);
  }
  if (x.dtype !== "float32") throw new Error(`spmm: X must be float32, got ${x.dtype}`);
  return op.customOp()(x) as tf.Tensor2D;
}

/**
 * Y = A X on typed arrays, X and Y row-major with d columns; sums are
 * accumulated in float64 over a row's entries in order and stored as float32.
 * When d % 4 == 0 a WebAssembly SIMD kernel does it (spmm-wasm.ts, same bits,
 * about 4x faster); else, or without WebAssembly SIMD, the JS loops below.
 */
export function spmmArrays(a: Csr, x: Float32Array, d: number, out: Float32Array = new Float32Array(a.rows * d)): Float32Array {
  checkSizes(a, x, d, out);
  if (spmmWasm(a, x, d, out)) return out;
  return spmmArraysJs(a, x, d, out);
}

function checkSizes(a: Csr, x: Float32Array, d: number, out: Float32Array): void {
  if (x.length !== a.cols * d) throw new Error(`spmmArrays: X has ${x.length} values, expected ${a.cols} x ${d}`);
  if (out.length !== a.rows * d) throw new Error(`spmmArrays: Y has ${out.length} values, expected ${a.rows} x ${d}`);
}

/**
 * spmmArrays in JS. When d % 8 == 0 each row is computed in blocks of 8 columns
 * held in 8 accumulators (2-3x faster than the plain loop; 16 accumulators,
 * or a Float64Array row accumulator, measured slower).
 */
export function spmmArraysJs(a: Csr, x: Float32Array, d: number, out: Float32Array = new Float32Array(a.rows * d)): Float32Array {
  const { indptr, indices, values } = a;
  if (d % 8 === 0) {
    for (let r = 0; r < a.rows; r++) {
      const lo = indptr[r];
      const hi = indptr[r + 1];
      const o = r * d;
      for (let j = 0; j < d; j += 8) {
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        for (let k = lo; k < hi; k++) {
          const v = values[k];
          const b = indices[k] * d + j;
          a0 += v * x[b];
          a1 += v * x[b + 1];
          a2 += v * x[b + 2];
          a3 += v * x[b + 3];
          a4 += v * x[b + 4];
          a5 += v * x[b + 5];
          a6 += v * x[b + 6];
          a7 += v * x[b + 7];
        }
        out[o + j] = a0;
        out[o + j + 1] = a1;
        out[o + j + 2] = a2;
        out[o + j + 3] = a3;
        out[o + j + 4] = a4;
        out[o + j + 5] = a5;
        out[o + j + 6] = a6;
        out[o + j + 7] = a7;
      }
    }
    return out;
  }
  const acc = new Float64Array(d);
  for (let r = 0; r < a.rows; r++) {
    acc.fill(0);
    for (let k = indptr[r]; k < indptr[r + 1]; k++) {
      const v = values[k];
      const b = indices[k] * d;
      for (let j = 0; j < d; j++) acc[j] += v * x[b + j];
    }
    const o = r * d;
    for (let j = 0; j < d; j++) out[o + j] = acc[j];
  }
  return out;
}
