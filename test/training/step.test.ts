import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import { createMF } from "../../src/models/mf";
import type { Batch } from "../../src/models/model";
import { ParamStore } from "../../src/models/ops/embedding-table";
import { Adam } from "../../src/training/adam";
import { gradientStep, objectiveGradients, perSampleLosses, toParamGradients } from "../../src/training/step";
import { Rng } from "../../src/util/rng";

const U = [
  [0.1, 0.2],
  [-0.3, 0.4],
];
const I = [
  [0.5, -0.1],
  [0.2, 0.3],
  [-0.4, 0.1],
];

/** A 2-user, 3-item MF (dim 2) with the embeddings above. */
function tinyMF() {
  const train = fromTriples(2, 3, [0, 1], [1, 1], [0, 0]);
  const inst = createMF({ nUsers: 2, nItems: 3, train }, { dim: 2 }, new Rng(1));
  inst.params.get("userEmb").data.set(U.flat());
  inst.params.get("itemEmb").data.set(I.flat());
  return inst;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.log(1 + Math.exp(x));
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1];

/**
 * Hand gradient of mean_k softplus(s_neg - s_pos), s = u . i:
 * with c_k = sigmoid(x_k) / B, x_k = u_k . (i_neg - i_pos):
 *   dL/du_k = c_k (i_neg - i_pos),  dL/di_pos += -c_k u_k,  dL/di_neg += c_k u_k.
 */
function handGrad(users: number[], pos: number[], neg: number[], u: number[][], it: number[][]) {
  const B = users.length;
  const gu = u.map(() => [0, 0]);
  const gi = it.map(() => [0, 0]);
  let loss = 0;
  for (let k = 0; k < B; k++) {
    const uu = u[users[k]];
    const x = dot(uu, it[neg[k]]) - dot(uu, it[pos[k]]);
    loss += softplus(x) / B;
    const c = sigmoid(x) / B;
    for (let j = 0; j < 2; j++) {
      gu[users[k]][j] += c * (it[neg[k]][j] - it[pos[k]][j]);
      gi[pos[k]][j] -= c * uu[j];
      gi[neg[k]][j] += c * uu[j];
    }
  }
  return { loss, gu, gi };
}

/** Reference Adam (float64) on one row with global step t: returns the new row, updates m and v in place. */
function adamRow(row: number[], g: number[], m: number[], v: number[], t: number, lr: number): number[] {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  return row.map((w, j) => {
    m[j] = b1 * m[j] + (1 - b1) * g[j];
    v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
    return w - (lr * (m[j] / (1 - b1 ** t))) / (Math.sqrt(v[j] / (1 - b2 ** t)) + eps);
  });
}

function rows(p: Float32Array, n: number): number[][] {
  return Array.from({ length: n }, (_, r) => [p[2 * r], p[2 * r + 1]]);
}

const mode = { training: true, rng: new Rng(0) };

describe("gradient step", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("objectiveGradients equals the hand-computed BPR gradient, repeated rows summed", () => {
    const { model, params } = tinyMF();
    // sample 0: x = u0.i0 - u0.i1 = 0.03 - 0.08 = -0.05; sample 1: x = u1.i2 - u1.i1 = 0.16 - 0.06 = 0.10
    const batch: Batch = { kind: "bpr", users: Int32Array.from([0, 1]), pos: Int32Array.from([1, 1]), neg: Int32Array.from([0, 2]) };
    const { value, grads } = objectiveGradients(model, params, batch, mode);
    const want = handGrad([0, 1], [1, 1], [0, 2], U, I);
    assert.ok(Math.abs(value - (softplus(-0.05) + softplus(0.1)) / 2) < 1e-6);
    assert.ok(Math.abs(value - want.loss) < 1e-6);
    const gu = grads.get(params.get("userEmb"));
    const gi = grads.get(params.get("itemEmb"));
    assert.ok(gu && gu.kind === "rows" && gi && gi.kind === "rows");
    assert.deepEqual(Array.from(gu.rows), [0, 1]);
    // item rows in first-seen order: pos gathers (1) then neg gathers (0, 2)
    assert.deepEqual(Array.from(gi.rows), [1, 0, 2]);
    const close = (a: ArrayLike<number>, b: number[]) => b.forEach((x, j) => assert.ok(Math.abs(a[j] - x) < 1e-6, `${a[j]} vs ${x}`));
    close(gu.grad, [...want.gu[0], ...want.gu[1]]);
    close(gi.grad, [...want.gi[1], ...want.gi[0], ...want.gi[2]]);
  });

  it("two Adam steps equal an independent lazy-Adam update; untouched rows stay bit-identical", () => {
    const { model, params } = tinyMF();
    const lr = 0.01;
    const opt = new Adam({ lr });
    const b1: Batch = { kind: "bpr", users: Int32Array.from([0, 1]), pos: Int32Array.from([1, 1]), neg: Int32Array.from([0, 2]) };
    const b2: Batch = { kind: "bpr", users: Int32Array.from([0]), pos: Int32Array.from([2]), neg: Int32Array.from([1]) };
    // reference, float64
    let u = U.map((r) => r.slice());
    let it = I.map((r) => r.slice());
    const mu = u.map(() => [0, 0]), vu = u.map(() => [0, 0]), mi = it.map(() => [0, 0]), vi = it.map(() => [0, 0]);
    const g1 = handGrad([0, 1], [1, 1], [0, 2], u, it);
    u = u.map((r, k) => adamRow(r, g1.gu[k], mu[k], vu[k], 1, lr)); // both users touched
    it = it.map((r, k) => adamRow(r, g1.gi[k], mi[k], vi[k], 1, lr)); // all items touched
    const g2 = handGrad([0], [2], [1], u, it);
    u = u.map((r, k) => (k === 0 ? adamRow(r, g2.gu[k], mu[k], vu[k], 2, lr) : r)); // user 1 untouched: lazy
    it = it.map((r, k) => (k === 0 ? r : adamRow(r, g2.gi[k], mi[k], vi[k], 2, lr))); // item 0 untouched

    const s1 = gradientStep(model, params, opt, b1, mode);
    assert.ok(Math.abs(s1.loss - g1.loss) < 1e-6);
    assert.equal(s1.size, 2);
    const user1After1 = params.get("userEmb").data.slice(2, 4);
    const item0After1 = params.get("itemEmb").data.slice(0, 2);
    gradientStep(model, params, opt, b2, mode);
    assert.equal(opt.iterations, 2);
    const gotU = rows(params.get("userEmb").data, 2);
    const gotI = rows(params.get("itemEmb").data, 3);
    u.forEach((r, k) => r.forEach((x, j) => assert.ok(Math.abs(gotU[k][j] - x) < 1e-6, `user ${k}: ${gotU[k][j]} vs ${x}`)));
    it.forEach((r, k) => r.forEach((x, j) => assert.ok(Math.abs(gotI[k][j] - x) < 1e-6, `item ${k}: ${gotI[k][j]} vs ${x}`)));
    assert.deepEqual(params.get("userEmb").data.slice(2, 4), user1After1);
    assert.deepEqual(params.get("itemEmb").data.slice(0, 2), item0After1);
  });

  it("leaks no tensors over 10 steps and per-sample loss passes", () => {
    const { model, params } = tinyMF();
    const opt = new Adam({ lr: 0.01 });
    const batch: Batch = { kind: "bpr", users: Int32Array.from([0, 1, 1]), pos: Int32Array.from([1, 1, 1]), neg: Int32Array.from([0, 2, 0]) };
    gradientStep(model, params, opt, batch, mode); // warm-up (backend-level caches)
    const before = tf.memory().numTensors;
    for (let s = 0; s < 10; s++) gradientStep(model, params, opt, batch, mode);
    perSampleLosses(model, params, batch, mode, 2);
    assert.equal(tf.memory().numTensors, before);
  });

  it("perSampleLosses is the same in chunks as in one pass, and matches softplus by hand", () => {
    const { model, params } = tinyMF();
    const batch: Batch = { kind: "bpr", users: Int32Array.from([0, 1, 1]), pos: Int32Array.from([1, 1, 0]), neg: Int32Array.from([0, 2, 2]) };
    const one = perSampleLosses(model, params, batch, mode, 100);
    const chunked = perSampleLosses(model, params, batch, mode, 2);
    assert.deepEqual(chunked, one);
    // sample 2: x = u1.i2 - u1.i0 = 0.16 - (-0.19) = 0.35
    [softplus(-0.05), softplus(0.1), softplus(0.35)].forEach((x, k) => assert.ok(Math.abs(one[k] - x) < 1e-6));
  });

  it("toParamGradients: rows only -> lazy rows summed; any whole-parameter leaf -> dense with rows added", () => {
    const ps = new ParamStore();
    ps.add("t", "table", [3, 2], { kind: "zeros" }, new Rng(1));
    ps.add("w", "table", [3, 2], { kind: "zeros" }, new Rng(1));
    const specs = [
      { key: "a", param: "t", rows: Int32Array.from([2, 0]) },
      { key: "b", param: "t", rows: Int32Array.from([2]) },
      { key: "c", param: "w" },
      { key: "d", param: "w", rows: Int32Array.from([1, 1]) },
      { key: "e", param: "w", rows: Int32Array.from([0]) },
    ];
    const g = toParamGradients(ps, specs, [
      Float32Array.from([1, 2, 3, 4]),
      Float32Array.from([10, 20]),
      Float32Array.from([1, 1, 1, 1, 1, 1]),
      Float32Array.from([5, 6, 7, 8]),
      undefined, // no gradient: ignored
    ]);
    const t = g.get(ps.get("t"));
    const w = g.get(ps.get("w"));
    assert.ok(t && t.kind === "rows" && w && w.kind === "dense");
    // row 2: [1,2] + [10,20] = [11,22]; row 0: [3,4]
    assert.deepEqual(Array.from(t.rows), [2, 0]);
    assert.deepEqual(Array.from(t.grad), [11, 22, 3, 4]);
    // dense ones, plus row 1 twice: [1+5+7, 1+6+8]
    assert.deepEqual(Array.from(w.grad), [1, 1, 13, 15, 1, 1]);
  });
});
