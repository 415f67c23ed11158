/**
 * The bench's multiply-add count (src/bench/matmul-macs.ts) against counts
 * worked out by hand: an [M x K] by [K x N] product does M N K multiply-adds,
 * with or without the transpose flags, per batch entry; the gradient of
 * sum(x W) with respect to x adds one [M x N] by [N x K] product (dY W^T).
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { countMatMulMacs, matMulMacs } from "../../src/bench/matmul-macs";

describe("matmul multiply-adds", () => {
  before(async () => {
    await initBackend("wasm");
  });

  it("counts M N K from the first input's and the output's shapes", () => {
    assert.equal(matMulMacs([128, 256], [128, 64]), 128 * 64 * 256);
    assert.equal(matMulMacs([256, 128], [128, 64]), 128 * 64 * 256, "a transposed: [K x M]");
    assert.equal(matMulMacs([4, 8, 3], [4, 8, 5]), 4 * 8 * 5 * 3, "batched");
    assert.throws(() => matMulMacs([3], [3, 1]), /not matrices/);
  });

  it("counts a product and its backward pass through the engine", async () => {
    const x = tf.ones([6, 5]);
    const w = tf.ones([5, 3]);
    const forward = await countMatMulMacs(() => tf.dispose(tf.matMul(x, w)));
    assert.equal(forward, 6 * 3 * 5);
    const flipped = await countMatMulMacs(() => tf.dispose(tf.matMul(w, x, true, true)));
    assert.equal(flipped, 3 * 6 * 5, "W^T X^T: [3 x 5] by [5 x 6]");
    const withGrad = await countMatMulMacs(() => tf.dispose(tf.grad((a: tf.Tensor) => tf.sum(tf.matMul(a, w)))(x)));
    assert.equal(withGrad, 6 * 3 * 5 + 6 * 5 * 3, "forward, then dX = dY W^T");
    assert.equal(await countMatMulMacs(() => tf.dispose(tf.add(x, x))), 0);
    tf.dispose([x, w]);
  });
});
