import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { toDense, type Csr } from "../../src/models/ops/csr";
import { SparseOperator, spmm, spmmArrays } from "../../src/models/ops/spmm";
import { Rng } from "../../src/util/rng";

/** A random rows x cols sparse matrix (about `density` of the entries set, some rows empty). */
function randomCsr(rows: number, cols: number, density: number, rng: Rng): Csr {
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (r % 5 !== 3) {
      for (let c = 0; c < cols; c++) {
        if (rng.next() < density) {
          indices.push(c);
          values.push(rng.normal());
        }
      }
    }
    indptr[r + 1] = indices.length;
  }
  return { rows, cols, indptr, indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

function randomArray(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Dense C = op(A) B in float64, A [m x k] row-major (transposed: A is [k x m]), B [k x n]. */
function matmul(a: ArrayLike<number>, m: number, k: number, b: ArrayLike<number>, n: number, transposeA = false): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const aip = transposeA ? a[p * m + i] : a[i * k + p];
      if (aip === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aip * b[p * n + j];
    }
  }
  return c;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(worst <= tol * Math.max(1, scale), `${what}: max abs error ${worst} (scale ${scale})`);
}

for (const backend of ["cpu", "wasm"]) {
  describe(`spmm on ${backend}`, () => {
    before(async () => {
      const info = await initBackend(backend);
      assert.equal(info.name, backend);
    });

    // A is 9 x 7 (rectangular, every 5th row from row 3 empty) so a wrong transpose cannot pass.
    const rng = new Rng(11);
    const a = randomCsr(9, 7, 0.4, rng);
    const dense = toDense(a);
    const op = SparseOperator.of(a);

    for (const d of [16, 3]) {
      it(`forward equals the dense product A X (d = ${d}, ${d % 8 === 0 ? "blocked" : "plain"} loop)`, () => {
        const x = randomArray(7 * d, new Rng(d));
        const y = tf.tidy(() => spmm(op, tf.tensor2d(x, [7, d])));
        assert.deepEqual(y.shape, [9, d]);
        assertClose(y.dataSync(), matmul(dense, 9, 7, x, d), 1e-6, "A X");
        y.dispose();
        assertClose(spmmArrays(a, x, d), matmul(dense, 9, 7, x, d), 1e-6, "spmmArrays");
      });
    }

    it("gradient of <W, A X> is A^T W", () => {
      const d = 8;
      const x = randomArray(7 * d, new Rng(2));
      const w = randomArray(9 * d, new Rng(3));
      const g = tf.tidy(() => {
        const wt = tf.tensor2d(w, [9, d]);
        return tf.grad((xt: tf.Tensor) => tf.sum(tf.mul(wt, spmm(op, xt as tf.Tensor2D))))(tf.tensor2d(x, [7, d]));
      });
      assertClose(g.dataSync(), matmul(dense, 7, 9, w, d, true), 1e-6, "A^T W");
      g.dispose();
    });

    it("gradient of 0.5 sum(W (A X)^2) agrees with central finite differences", () => {
      // f is quadratic in X, so central differences are exact up to float32 rounding of f
      const d = 8;
      const x = randomArray(7 * d, new Rng(4));
      const w = randomArray(9 * d, new Rng(5));
      const f = (xv: Float32Array): number => {
        const y = spmmArrays(a, xv, d);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += 0.5 * w[i] * y[i] * y[i];
        return s;
      };
      const g = tf.tidy(() => {
        const wt = tf.tensor2d(w, [9, d]);
        return tf.grad((xt: tf.Tensor) => tf.mul(0.5, tf.sum(tf.mul(wt, tf.square(spmm(op, xt as tf.Tensor2D))))))(
          tf.tensor2d(x, [7, d]),
        );
      });
      const gv = g.dataSync();
      g.dispose();
      const h = 1e-2;
      for (let i = 0; i < x.length; i++) {
        const xp = x.slice();
        const xm = x.slice();
        xp[i] += h;
        xm[i] -= h;
        const fd = (f(xp) - f(xm)) / (2 * h);
        assert.ok(Math.abs(fd - gv[i]) < 2e-3 * Math.max(1, Math.abs(fd)), `entry ${i}: analytic ${gv[i]} vs fd ${fd}`);
      }
    });

    it("nested tf.grad through spmm gives the Hessian-vector product A^T (W (A V))", () => {
      // f(X) = 0.5 sum(W (A X)^2): grad f = A^T (W (A X)), and d/dX <V, grad f(X)> = A^T (W (A V)).
      // The inner gradient calls spmm on A^T; the outer differentiates that call (spmm on A again).
      const d = 8;
      const x = randomArray(7 * d, new Rng(6));
      const v = randomArray(7 * d, new Rng(7));
      const w = randomArray(9 * d, new Rng(8));
      const [inner, hvp] = tf.tidy(() => {
        const wt = tf.tensor2d(w, [9, d]);
        const vt = tf.tensor2d(v, [7, d]);
        const xt = tf.tensor2d(x, [7, d]);
        const f = (z: tf.Tensor): tf.Tensor => tf.mul(0.5, tf.sum(tf.mul(wt, tf.square(spmm(op, z as tf.Tensor2D)))));
        const gradF = tf.grad(f);
        const hv = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(vt, gradF(z))))(xt);
        return [gradF(xt), hv];
      });
      const wAx = matmul(dense, 9, 7, x, d).map((y, i) => y * w[i]);
      assertClose(inner.dataSync(), matmul(dense, 7, 9, wAx, d, true), 1e-5, "A^T (W (A X))");
      const wAv = matmul(dense, 9, 7, v, d).map((y, i) => y * w[i]);
      assertClose(hvp.dataSync(), matmul(dense, 7, 9, wAv, d, true), 1e-5, "A^T (W (A V))");
      inner.dispose();
      hvp.dispose();
    });

    it("two stacked layers differentiate twice (square A, as LightGCN's propagation)", () => {
      // g(X) = 0.5 ||A A X||^2; grad = (A A)^T (A A) X, which is linear: its gradient along V is (AA)^T (AA) V
      const s = randomCsr(6, 6, 0.5, new Rng(9));
      const sd = toDense(s);
      const sop = SparseOperator.of(s);
      const d = 8;
      const x = randomArray(6 * d, new Rng(10));
      const v = randomArray(6 * d, new Rng(12));
      const hvp = tf.tidy(() => {
        const vt = tf.tensor2d(v, [6, d]);
        const g = tf.grad((z: tf.Tensor) => tf.mul(0.5, tf.sum(tf.square(spmm(sop, spmm(sop, z as tf.Tensor2D))))));
        return tf.grad((z: tf.Tensor) => tf.sum(tf.mul(vt, g(z))))(tf.tensor2d(x, [6, d]));
      });
      const aav = matmul(sd, 6, 6, matmul(sd, 6, 6, v, d), d);
      const want = matmul(sd, 6, 6, matmul(sd, 6, 6, aav, d, true), d, true);
      assertClose(hvp.dataSync(), want, 1e-5, "(AA)^T (AA) V");
      hvp.dispose();
    });

    it("rejects an X with the wrong number of rows", () => {
      const x = tf.zeros([6, 8]) as tf.Tensor2D;
      assert.throws(() => spmm(op, x), /A is 9x7 but X has 6 rows/);
      x.dispose();
    });

    it("does not leak tensors", () => {
      const x = tf.randomNormal([7, 8]) as tf.Tensor2D;
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        tf.grad((z: tf.Tensor) => tf.sum(spmm(op, z as tf.Tensor2D)))(x);
      });
      assert.equal(tf.memory().numTensors, before);
      x.dispose();
    });
  });
}
