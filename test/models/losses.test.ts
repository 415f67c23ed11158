import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { bceLoss, bprLoss, dotProductLosses } from "../../src/models/losses";

const LN2 = Math.log(2); // softplus(0) = ln(1 + e^0) = ln 2 = 0.6931471805599453

function close(got: ArrayLike<number>, want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let k = 0; k < want.length; k++) {
    assert.ok(Math.abs(got[k] - want[k]) <= tol * Math.max(1, Math.abs(want[k])), `${what}[${k}]: got ${got[k]}, want ${want[k]}`);
  }
}

/** Relative closeness, for values far below 1 (an absolute tolerance would accept 0 there). */
function relClose(got: number, want: number, rel: number, what: string): void {
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: got ${got}, want ${want}`);
}

function values(t: tf.Tensor): Float32Array {
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

for (const backend of ["cpu", "wasm"]) {
  describe(`losses on ${backend}`, () => {
    before(async () => {
      const info = await initBackend(backend);
      assert.equal(info.name, backend);
    });

    it("BPR = softplus(s_neg - s_pos) per sample", () => {
      const l = values(tf.tidy(() => bprLoss(tf.tensor1d([0, 2, 0, 10]), tf.tensor1d([0, 0, 3, -10]))));
      relClose(l[3], 2.061153620314381e-9, 1e-4, "bpr of a well-ranked pair");
      close(l, [
        LN2, // softplus(0)
        0.1269280110429725, // softplus(-2) = ln(1 + e^-2) = ln(1.1353352832366128)
        3.0485873515737420, // softplus(3) = ln(1 + e^3) = ln(21.085536923187668)
        2.061153620314381e-9, // softplus(-20) = ln(1 + e^-20) ~ e^-20 (float32 resolves it: no cancellation)
      ], 1e-6, "bpr");
    });

    it("BCE on logits = softplus(-y) for label 1, softplus(y) for label 0, softplus(y) - l y for soft labels", () => {
      const l = values(tf.tidy(() => bceLoss(tf.tensor1d([0, 2, 2, -30, 30, 1]), tf.tensor1d([1, 1, 0, 1, 1, 0.3]))));
      relClose(l[4], 9.357622968839737e-14, 1e-4, "bce of a confident correct positive");
      close(l, [
        LN2, // y = 0, l = 1
        0.1269280110429725, // ln(1 + e^-2)
        2.1269280110429727, // ln(1 + e^2) = 2 + ln(1 + e^-2)
        30.000000000000092, // ln(1 + e^30) = 30 + ln(1 + e^-30)
        9.357622968839737e-14, // ln(1 + e^-30) ~ e^-30, no cancellation
        1.0132616875182228, // ln(1 + e) - 0.3 * 1 = 1.3132616875182228 - 0.3
      ], 1e-6, "bce");
    });

    it("gradients on intermediate tensors: dBPR/ds_pos = -sigmoid(s_neg - s_pos), dBCE/dy = sigmoid(y) - l", () => {
      // inputs pass through an op first: the case where tf.logSigmoid's gradient breaks in tfjs 4.22
      const sPos = tf.tensor1d([0, 2]);
      const sNeg = tf.tensor1d([0, 0]);
      const [gPos, gNeg] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(bprLoss(tf.mul(a, 1) as tf.Tensor1D, tf.mul(b, 1) as tf.Tensor1D)))([sPos, sNeg]);
      // sigmoid(0) = 0.5; sigmoid(-2) = 1 / (1 + e^2) = 0.11920292202211755
      close(values(gPos), [-0.5, -0.11920292202211755], 1e-6, "dBPR/ds_pos");
      close(values(gNeg), [0.5, 0.11920292202211755], 1e-6, "dBPR/ds_neg");
      const y = tf.tensor1d([0, 2, -1]);
      const labels = tf.tensor1d([1, 0, 0.3]);
      const gy = tf.grad((x: tf.Tensor) => tf.sum(bceLoss(tf.mul(x, 1) as tf.Tensor1D, labels)))(y);
      // sigmoid(0) - 1 = -0.5; sigmoid(2) - 0 = 0.8807970779778823; sigmoid(-1) - 0.3 = 0.2689414213699951 - 0.3
      close(values(gy), [-0.5, 0.8807970779778823, -0.0310585786300049], 1e-6, "dBCE/dy");
      tf.dispose([sPos, sNeg, y, labels]);
    });

    it("second derivatives (the meta-gradient differentiates twice): d2 softplus(x)/dx2 = sigmoid(x) (1 - sigmoid(x))", () => {
      const x = tf.tensor1d([0, 2]);
      const zero = tf.zeros([2]) as tf.Tensor1D;
      const d2 = tf.grad((z: tf.Tensor) => tf.sum(tf.grad((w: tf.Tensor) => tf.sum(bprLoss(zero, w as tf.Tensor1D)))(z)))(x);
      // 0.5 * 0.5 = 0.25; sigmoid(2) (1 - sigmoid(2)) = 0.8807970779778823 * 0.11920292202211755 = 0.10499358540350662
      close(values(d2), [0.25, 0.10499358540350662], 1e-6, "d2 BPR");
      tf.dispose([x, zero]);
    });

    it("dotProductLosses scores rows [users; pos; neg] by dot products", () => {
      // users (1,0), (0,2); positives (3,1), (1,1); negatives (1,0), (0,-1)
      // s_pos = 3, 2; s_neg = 1, -2; BPR = softplus(-2), softplus(-4) = 0.12692801104297263, 0.018149927917809738
      const rows = tf.tensor2d([1, 0, 0, 2, 3, 1, 1, 1, 1, 0, 0, -1], [6, 2]);
      const bpr = { kind: "bpr" as const, users: Int32Array.from([0, 1]), pos: Int32Array.from([0, 1]), neg: Int32Array.from([2, 3]) };
      close(values(tf.tidy(() => dotProductLosses(rows, bpr))), [0.12692801104297263, 0.018149927917809738], 1e-6, "bpr rows");
      // BCE: scores of rows 2, 3 as items: 3 (label 1), 2 (label 0): softplus(-3), softplus(2) = 0.04858735157374206, 2.1269280110429727
      const bce = { kind: "bce" as const, users: Int32Array.from([0, 1]), items: Int32Array.from([0, 1]), labels: Float32Array.from([1, 0]) };
      const four = tf.slice(rows, [0, 0], [4, 2]) as tf.Tensor2D;
      close(values(tf.tidy(() => dotProductLosses(four, bce))), [0.04858735157374206, 2.1269280110429727], 1e-6, "bce rows");
      assert.throws(() => dotProductLosses(four, bpr), /4 rows for a bpr batch of 2/);
      tf.dispose([rows, four]);
    });

    it("rejects mismatched lengths", () => {
      const a = tf.tensor1d([0, 1]);
      const b = tf.tensor1d([0]);
      assert.throws(() => bprLoss(a, b), /2 positive but 1 negative/);
      assert.throws(() => bceLoss(a, b), /2 logits but 1 labels/);
      tf.dispose([a, b]);
    });
  });
}
