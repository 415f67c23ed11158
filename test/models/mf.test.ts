import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import { createMF } from "../../src/models/mf";
import type { Batch, Model, ModelContext } from "../../src/models/model";
import { gatherRows, type ParamStore } from "../../src/models/ops/embedding-table";
import { Rng } from "../../src/util/rng";
import { assertGradientsMatch, checkGradients, checkSecondOrder, fixedMode } from "./gradcheck";
import { softplus } from "./model-fixtures";

function context(nUsers: number, nItems: number): ModelContext {
  const users = Int32Array.from({ length: nUsers }, (_, u) => u);
  const items = Int32Array.from({ length: nUsers }, (_, u) => u % nItems);
  return { nUsers, nItems, train: fromTriples(nUsers, nItems, users, items, new Uint8Array(nUsers)) };
}

function leafTensors(model: Model, params: ParamStore, b: Batch): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const s of model.leaves(b)) out[s.key] = gatherRows(params.get(s.param), s.rows ?? new Int32Array(0));
  return out;
}


function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= rtol * scale, `${what}[${i}]: got ${got[i]}, want ${want[i]} (scale ${scale})`);
  }
}

/** A 2-D MF with hand-set embeddings: users (1, 0), (0, 2); items (1, 1), (3, 0), (0, -1). */
function handMF(loss: "bpr" | "bce") {
  const inst = createMF(context(2, 3), { dim: 2, loss }, new Rng(1));
  inst.params.get("userEmb").data.set([1, 0, 0, 2]);
  inst.params.get("itemEmb").data.set([1, 1, 3, 0, 0, -1]);
  return inst;
}

describe("MF (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  it("draws userEmb and itemEmb from N(0, 0.1^2), dim 64", () => {
    const { params } = createMF(context(2000, 3000), {}, new Rng(1));
    for (const name of ["userEmb", "itemEmb"]) {
      const x = params.get(name).data;
      assert.equal(x.length, (name === "userEmb" ? 2000 : 3000) * 64);
      let s = 0;
      let s2 = 0;
      for (const v of x) {
        s += v;
        s2 += v * v;
      }
      const mean = s / x.length;
      const std = Math.sqrt(s2 / x.length - mean * mean);
      assert.ok(Math.abs(std - 0.1) < 1e-3, `${name} std ${std}`);
      assert.ok(Math.abs(mean) < 2e-3, `${name} mean ${mean}`);
    }
  });

  it("BPR per sample is softplus(s_neg - s_pos) on hand-set embeddings", () => {
    const { model, params } = handMF("bpr");
    // user 0 (1,0): pos item 1 (3,0) -> 3, neg item 0 (1,1) -> 1: softplus(1 - 3) = ln(1 + e^-2) = 0.126928
    // user 1 (0,2): pos item 0 (1,1) -> 2, neg item 2 (0,-1) -> -2: softplus(-2 - 2) = ln(1 + e^-4) = 0.018149
    // user 1 (0,2): pos item 2 -> -2, neg item 1 (3,0) -> 0: softplus(0 + 2) = ln(1 + e^2) = 2.126928
    const b: Batch = { kind: "bpr", users: Int32Array.from([0, 1, 1]), pos: Int32Array.from([1, 0, 2]), neg: Int32Array.from([0, 2, 1]) };
    const got = tf.tidy(() => model.losses(leafTensors(model, params, b), b, { training: true, rng: new Rng(0) }).dataSync());
    assertClose(got, [0.126928, 0.018149, 2.126928], 1e-5, "BPR");
    const s = tf.tidy(() => model.scores(leafTensors(model, params, b), b).dataSync());
    assert.deepEqual(Array.from(s), [3, 2, -2]);
  });

  it("BCE per sample is softplus(y) - label y when configured for BCE", () => {
    const { model, params } = handMF("bce");
    // y = 3 (u0, i1), label 1: softplus(-3) = 0.048587; y = -2 (u1, i2), label 0: softplus(-2) = 0.126928
    const b: Batch = { kind: "bce", users: Int32Array.from([0, 1]), items: Int32Array.from([1, 2]), labels: Float32Array.from([1, 0]) };
    const got = tf.tidy(() => model.losses(leafTensors(model, params, b), b, { training: true, rng: new Rng(0) }).dataSync());
    assertClose(got, [0.048587, 0.126928], 1e-5, "BCE");
    assert.equal(model.loss, "bce");
    assert.throws(() => createMF(context(2, 3), {}, new Rng(1)).model.leaves(b), /configured for 'bpr'/);
  });

  it("BPR gradients agree with float64 central differences", () => {
    const { model, params } = createMF(context(4, 6), { dim: 3 }, new Rng(2));
    const rng = new Rng(3);
    for (const p of params.list()) for (let k = 0; k < p.data.length; k++) p.data[k] = rng.normal();
    const b: Extract<Batch, { kind: "bpr" }> = { kind: "bpr", users: Int32Array.from([0, 3, 0, 2]), pos: Int32Array.from([1, 5, 2, 1]), neg: Int32Array.from([4, 1, 1, 0]) };
    const c = [0.5, -1.2, 0.9, 1.4];
    const specs = model.leaves(b);
    const values = specs.map((s) => Float64Array.from(gatherRows(params.get(s.param), s.rows ?? new Int32Array(0)).dataSync()));
    const J = (v: Float64Array[]): number => {
      let j = 0;
      for (let n = 0; n < 4; n++) {
        let sp = 0;
        let sn = 0;
        for (let k = 0; k < 3; k++) {
          sp += v[0][n * 3 + k] * v[1][n * 3 + k];
          sn += v[0][n * 3 + k] * v[2][n * 3 + k];
        }
        j += c[n] * softplus(sn - sp);
      }
      return j;
    };
    const grads = tf.tidy(() => {
      const t = leafTensors(model, params, b);
      const keys = specs.map((s) => s.key);
      const ct = tf.tensor1d(c);
      return tf.grads((...xs: tf.Tensor[]) => {
        const m: Record<string, tf.Tensor> = {};
        keys.forEach((k, i) => (m[k] = xs[i]));
        return tf.sum(tf.mul(ct, model.losses(m, b, { training: true, rng: new Rng(0) })));
      })(keys.map((k) => t[k]));
    });
    specs.forEach((s, gi) => {
      const fd = values[gi].map((_, k) => {
        const plus = values.map((v) => v.slice());
        const minus = values.map((v) => v.slice());
        plus[gi][k] += 1e-6;
        minus[gi][k] -= 1e-6;
        return (J(plus) - J(minus)) / 2e-6;
      });
      assertClose(grads[gi].dataSync(), fd, 1e-4, `dJ/d${s.key}`);
    });
    tf.dispose(grads);
  });

  it("the generic checker agrees on parameter gradients (repeated rows folded) and Hessian-vector products", () => {
    const { model, params } = createMF(context(4, 6), { dim: 3 }, new Rng(5));
    const rng = new Rng(6);
    for (const p of params.list()) for (let k = 0; k < p.data.length; k++) p.data[k] = rng.normal();
    // item 1 is a positive twice and a negative twice; user 0 twice
    const b: Batch = { kind: "bpr", users: Int32Array.from([0, 3, 0, 2]), pos: Int32Array.from([1, 5, 2, 1]), neg: Int32Array.from([4, 1, 1, 0]) };
    const report = checkGradients(model, params, b, { mode: fixedMode(true) });
    assert.equal(report.entries.length, 4 * 3 + 6 * 3 + 3);
    assertGradientsMatch(report, 1e-2, 1e-4);
    assertGradientsMatch(checkSecondOrder(model, params, b, { mode: fixedMode(true) }), 1e-2, 1e-4);
  });
});

for (const backend of ["cpu", "wasm"]) {
  describe(`MF scorer (${backend})`, () => {
    before(async () => {
      assert.equal((await initBackend(backend)).name, backend);
    });

    it("scores every (user, item) as the per-sample score p_u . q_i", () => {
      const { model, params } = createMF(context(5, 11), { dim: 8 }, new Rng(4));
      const block = Int32Array.from([4, 1, 1, 0]);
      const scorer = model.scorer(params);
      const scores = scorer(block);
      // the scorer is a snapshot: changing the parameters afterwards does not change its scores
      const saved = params.clone();
      for (const q of params.list()) q.data.fill(0.25);
      assert.deepEqual(scorer(block), scores, "the scorer read parameters changed after it was made");
      for (const q of saved.list()) params.get(q.name).data.set(q.data);
      const users = Int32Array.from({ length: 44 }, (_, k) => block[Math.floor(k / 11)]);
      const items = Int32Array.from({ length: 44 }, (_, k) => k % 11);
      const b: Batch = { kind: "bpr", users, pos: items, neg: items };
      const want = tf.tidy(() => model.scores(leafTensors(model, params, b), b).dataSync());
      assertClose(scores, want, 1e-5, "scores");
      // and by hand for one pair, in float64
      const u = params.get("userEmb").data.subarray(4 * 8, 5 * 8);
      const q = params.get("itemEmb").data.subarray(7 * 8, 8 * 8);
      const dot = Array.from(u).reduce((acc, v, k) => acc + v * q[k], 0);
      assert.ok(Math.abs(scores[7] - dot) < 1e-6, `score(4, 7) ${scores[7]} vs ${dot}`);
    });
  });
}
