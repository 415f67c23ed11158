import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import type { Batch, LeafTensors, Model, ModelContext } from "../../src/models/model";
import { createNeuMF, itemFirstLayer, userFirstLayer } from "../../src/models/neumf";
import { paramTensor } from "../../src/models/ops/embedding-table";
import { Rng } from "../../src/util/rng";
import { assertGradientsMatch, checkGradients, checkSecondOrder as checkHvp, fixedMode } from "./gradcheck";
import { randomize, leafValues, toTensors, softplus } from "./model-fixtures";

/** A context of nUsers x nItems with one training interaction per user (NeuMF never reads train). */
function context(nUsers: number, nItems: number): ModelContext {
  const users = Int32Array.from({ length: nUsers }, (_, u) => u);
  const items = Int32Array.from({ length: nUsers }, (_, u) => u % nItems);
  return { nUsers, nItems, train: fromTriples(nUsers, nItems, users, items, new Uint8Array(nUsers)) };
}





/**
 * NeuMF written out in float64 loops, independent of tfjs: per-sample logits from
 * leaf values (GMF product, concat -> layers x (Linear [in x out], ReLU), predict).
 */
function referenceLogits(L: Map<string, ArrayLike<number>>, n: number, factors: number, layers: number): Float64Array {
  const get = (k: string) => L.get(k) as ArrayLike<number>;
  const d = factors * 2 ** (layers - 1);
  const out = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    const joint: number[] = [];
    for (let k = 0; k < factors; k++) joint.push(get("userGmf")[s * factors + k] * get("itemGmf")[s * factors + k]);
    let x: number[] = [];
    for (let k = 0; k < d; k++) x.push(get("userMlp")[s * d + k]);
    for (let k = 0; k < d; k++) x.push(get("itemMlp")[s * d + k]);
    for (let l = 1; l <= layers; l++) {
      const w = get(`mlpW${l}`);
      const b = get(`mlpB${l}`);
      const nOut = x.length / 2;
      const y: number[] = [];
      for (let o = 0; o < nOut; o++) {
        let acc = b[o];
        for (let i = 0; i < x.length; i++) acc += x[i] * w[i * nOut + o];
        y.push(Math.max(0, acc));
      }
      x = y;
    }
    joint.push(...x);
    let logit = get("predictB")[0];
    for (let k = 0; k < joint.length; k++) logit += joint[k] * get("predictW")[k];
    out[s] = logit;
  }
  return out;
}

/** J = sum_n c_n BCE_n in float64 (c_n random weights so every sample's wiring matters). */
function referenceObjective(L: Map<string, ArrayLike<number>>, batch: { labels: Float32Array }, c: Float64Array, factors: number, layers: number): number {
  const y = referenceLogits(L, c.length, factors, layers);
  let j = 0;
  for (let s = 0; s < c.length; s++) j += c[s] * (softplus(y[s]) - batch.labels[s] * y[s]);
  return j;
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

const FACTORS = 4;
const LAYERS = 3; // MLP embeddings 16, tower 32 -> 16 -> 8 -> 4
const ctx = context(5, 7);
// 8 samples, user 2 and item 3 repeated so per-position rows are exercised
const batch: Extract<Batch, { kind: "bce" }> = {
  kind: "bce",
  users: Int32Array.from([0, 2, 4, 2, 1, 3, 2, 0]),
  items: Int32Array.from([3, 1, 6, 3, 0, 5, 2, 3]),
  labels: Float32Array.from([1, 0, 1, 1, 0, 0, 1, 0]),
};
const weights = Float64Array.from([0.7, -1.3, 0.4, 1.1, 0.9, -0.5, 1.6, 0.3]);

/** D^T H D of J by tf.grad of tf.grad against float64 second differences of the reference. */
function checkSecondOrder(): void {
  const { model, params } = createNeuMF(ctx, { factors: FACTORS, layers: LAYERS }, new Rng(9));
  randomize(params, 0.5, 10);
  const specs = model.leaves(batch);
  const keys = specs.map((s) => s.key);
  const L = leafValues(model, params, batch);
  const rng = new Rng(11);
  const D = new Map<string, Float32Array>();
  for (const k of keys) D.set(k, Float32Array.from(L.get(k) as Float32Array, () => rng.normal()));
  const mode = { training: true, rng: new Rng(12) };
  const c = tf.tensor1d(Float32Array.from(weights));
  const dhd = tf.tidy(() => {
    const t = toTensors(model, batch, L, params);
    const dt = keys.map((k) => tf.tensor(D.get(k) as Float32Array, t[k].shape));
    const J = (...xs: tf.Tensor[]) => {
      const m: Record<string, tf.Tensor> = {};
      keys.forEach((k, i) => (m[k] = xs[i]));
      return tf.sum(tf.mul(c, model.losses(m, batch, mode)));
    };
    const gDotD = (...xs: tf.Tensor[]) => tf.addN(tf.grads(J)(xs).map((g, i) => tf.sum(tf.mul(g, dt[i])))) as tf.Scalar;
    const hd = tf.grads(gDotD)(keys.map((k) => t[k]));
    return tf.addN(hd.map((g, i) => tf.sum(tf.mul(g, dt[i])))).dataSync()[0];
  });
  const at = (eps: number) => {
    const m = new Map<string, ArrayLike<number>>();
    for (const k of keys) m.set(k, Float64Array.from(L.get(k) as Float32Array, (v, i) => v + eps * (D.get(k) as Float32Array)[i]));
    return referenceObjective(m, batch, weights, FACTORS, LAYERS);
  };
  const e = 1e-4;
  const fd = (at(e) - 2 * at(0) + at(-e)) / (e * e);
  assert.ok(Math.abs(fd) > 1e-2, `curvature too small to test: ${fd}`);
  assert.ok(Math.abs(dhd - fd) < 2e-3 * Math.abs(fd), `D^T H D: tf ${dhd}, finite differences ${fd}`);
  c.dispose();
}

describe("NeuMF (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  it("initialises as T-CE: embeddings N(0, 0.01^2), MLP xavier-uniform, predict kaiming-uniform, biases 0", () => {
    const { params } = createNeuMF(context(3000, 4000), {}, new Rng(1));
    for (const name of ["userGmf", "itemGmf", "userMlp", "itemMlp"]) {
      const x = params.get(name).data;
      let s = 0;
      let s2 = 0;
      for (const v of x) {
        s += v;
        s2 += v * v;
      }
      const mean = s / x.length;
      const std = Math.sqrt(s2 / x.length - mean * mean);
      // n >= 96,000 draws: the sample std of N(0, 0.01^2) is within 1 % w.p. > 0.99
      assert.ok(Math.abs(std - 0.01) < 1e-4, `${name} std ${std}`);
      assert.ok(Math.abs(mean) < 2e-4, `${name} mean ${mean}`);
    }
    assert.deepEqual(params.get("userMlp").shape, [3000, 128]);
    // xavier bound sqrt(6 / (fan_in + fan_out)): W1 256x128 -> 0.125, W2 128x64 -> 0.1768, W3 64x32 -> 0.25
    const bounds: Record<string, number> = { mlpW1: 0.125, mlpW2: Math.sqrt(6 / 192), mlpW3: 0.25 };
    for (const [name, bound] of Object.entries(bounds)) {
      const x = params.get(name).data;
      let maxAbs = 0;
      let s2 = 0;
      for (const v of x) {
        maxAbs = Math.max(maxAbs, Math.abs(v));
        s2 += v * v;
      }
      assert.ok(maxAbs <= bound && maxAbs > 0.97 * bound, `${name}: max |w| ${maxAbs}, bound ${bound}`);
      // U(-b, b) has variance b^2 / 3; n >= 2048 draws keep the sample variance within 10 %
      assert.ok(Math.abs(s2 / x.length / (bound * bound / 3) - 1) < 0.1, `${name}: variance ${s2 / x.length}`);
    }
    // kaiming_uniform_(a=1, 'sigmoid'): gain 1, bound = sqrt(3 / fan_in) = sqrt(3 / 64) = 0.21651
    const pw = params.get("predictW").data;
    assert.equal(pw.length, 64);
    for (const v of pw) assert.ok(Math.abs(v) <= 0.21651, `predictW ${v}`);
    assert.ok(Math.max(...pw.map(Math.abs)) > 0.15, "predictW does not fill its range");
    for (const name of ["mlpB1", "mlpB2", "mlpB3", "predictB"]) assert.ok(params.get(name).data.every((v) => v === 0), `${name} not zero`);
  });

  it("kaiming bound sqrt(3 / fan_in) holds on a wide predict layer (fan_in 1024 -> 0.054127)", () => {
    const { params } = createNeuMF(context(4, 4), { factors: 512, layers: 1 }, new Rng(2));
    const pw = params.get("predictW").data;
    assert.equal(pw.length, 1024);
    const bound = Math.sqrt(3 / 1024);
    let s2 = 0;
    for (const v of pw) {
      assert.ok(Math.abs(v) <= bound);
      s2 += v * v;
    }
    assert.ok(Math.abs(s2 / pw.length / (bound * bound / 3) - 1) < 0.15, `variance ${s2 / pw.length}`);
  });

  it("per-sample logits and BCE losses equal a float64 reference", () => {
    const { model, params } = createNeuMF(ctx, { factors: FACTORS, layers: LAYERS }, new Rng(3));
    randomize(params, 0.5, 4);
    const L = leafValues(model, params, batch);
    const mode = { training: true, rng: new Rng(5) };
    const [logits, losses] = tf.tidy(() => {
      const t = toTensors(model, batch, L, params);
      return [model.logits(t, batch, mode), model.losses(t, batch, mode)];
    });
    const want = referenceLogits(L, 8, FACTORS, LAYERS);
    assertClose(logits.dataSync(), want, 1e-5, "logits");
    const wantLoss = Array.from(want, (y, s) => softplus(y) - batch.labels[s] * y);
    assertClose(losses.dataSync(), wantLoss, 1e-5, "losses");
    assert.ok(want.some((y) => Math.abs(y) > 0.5), "logits too small to tell anything");
    tf.dispose([logits, losses]);
  });

  it("gradients w.r.t. every leaf agree with float64 central differences", () => {
    const { model, params } = createNeuMF(ctx, { factors: FACTORS, layers: LAYERS }, new Rng(6));
    randomize(params, 0.5, 7);
    const specs = model.leaves(batch);
    const L = leafValues(model, params, batch);
    const mode = { training: true, rng: new Rng(8) };
    const c = tf.tensor1d(Float32Array.from(weights));
    const grads = tf.tidy(() => {
      const t = toTensors(model, batch, L, params);
      const keys = specs.map((s) => s.key);
      const f = (...xs: tf.Tensor[]) => {
        const m: Record<string, tf.Tensor> = {};
        keys.forEach((k, i) => (m[k] = xs[i]));
        return tf.sum(tf.mul(c, model.losses(m, batch, mode)));
      };
      return tf.grads(f)(keys.map((k) => t[k]));
    });
    const h = 1e-6;
    let checked = 0;
    specs.forEach((s, gi) => {
      const base = L.get(s.key) as Float32Array;
      const g = grads[gi].dataSync();
      const fd = new Float64Array(base.length);
      for (let k = 0; k < base.length; k++) {
        const shifted = (delta: number) => {
          const m = new Map<string, ArrayLike<number>>(L);
          const x = Float64Array.from(base);
          x[k] += delta;
          m.set(s.key, x);
          return referenceObjective(m, batch, weights, FACTORS, LAYERS);
        };
        fd[k] = (shifted(h) - shifted(-h)) / (2 * h);
        checked++;
      }
      assertClose(g, fd, 2e-4, `dJ/d${s.key}`);
    });
    assert.ok(checked > 900, `only ${checked} entries checked`);
    tf.dispose([...grads, c]);
  });


  it("the generic checker agrees on parameter gradients (rows folded) and Hessian-vector products, dropout 0.5 replayed", () => {
    const { model, params } = createNeuMF(ctx, { factors: FACTORS, layers: LAYERS, dropout: 0.5 }, new Rng(30));
    randomize(params, 0.5, 31);
    const mode = fixedMode(true, 32);
    // h = 1e-3: at the default 1e-2 some differences straddle a ReLU kink (piecewise-linear tower)
    assertGradientsMatch(checkGradients(model, params, batch, { mode, entries: 12, directions: 4, h: 1e-3 }), 1e-2, 2e-4);
    assertGradientsMatch(checkHvp(model, params, batch, { mode, directions: 3, h: 1e-3 }), 1e-2, 2e-4);
  });

  it("the split first layer equals the unsplit one: ReLU(p_u W1u + q_i W1i + b1) = ReLU([p_u, q_i] W1 + b1)", () => {
    const { params } = createNeuMF(ctx, { factors: FACTORS, layers: LAYERS }, new Rng(13));
    randomize(params, 0.5, 14);
    const d = 16;
    const h1 = 16;
    const [uHalf, iHalf] = tf.tidy(() => {
      const w1 = paramTensor(params.get("mlpW1")) as tf.Tensor2D;
      return [
        userFirstLayer(paramTensor(params.get("userMlp")) as tf.Tensor2D, w1).dataSync(),
        itemFirstLayer(paramTensor(params.get("itemMlp")) as tf.Tensor2D, w1, paramTensor(params.get("mlpB1")) as tf.Tensor1D).dataSync(),
      ];
    });
    const um = params.get("userMlp").data;
    const im = params.get("itemMlp").data;
    const w1 = params.get("mlpW1").data;
    const b1 = params.get("mlpB1").data;
    const got: number[] = [];
    const want: number[] = [];
    for (let u = 0; u < ctx.nUsers; u++) {
      for (let i = 0; i < ctx.nItems; i++) {
        for (let o = 0; o < h1; o++) {
          let acc = b1[o];
          for (let k = 0; k < d; k++) acc += um[u * d + k] * w1[k * h1 + o] + im[i * d + k] * w1[(d + k) * h1 + o];
          want.push(Math.max(0, acc));
          got.push(Math.max(0, uHalf[u * h1 + o] + iHalf[i * h1 + o]));
        }
      }
    }
    assertClose(got, want, 1e-5, "first layer");
    assert.ok(want.some((v) => v === 0) && want.some((v) => v > 0.1), "ReLU should be both on and off somewhere");
  });

  it("dropout draws from mode.rng in training (same seed, same losses) and is off in eval mode", () => {
    const { model, params } = createNeuMF(ctx, { factors: FACTORS, layers: LAYERS, dropout: 0.5 }, new Rng(15));
    randomize(params, 0.5, 16);
    const plain = createNeuMF(ctx, { factors: FACTORS, layers: LAYERS, dropout: 0 }, new Rng(15)).model;
    const L = leafValues(model, params, batch);
    const run = (m: Model, training: boolean, seed: number) =>
      tf.tidy(() => Array.from(m.losses(toTensors(m, batch, L, params) as LeafTensors, batch, { training, rng: new Rng(seed) }).dataSync()));
    const reference = run(plain, true, 1);
    assert.deepEqual(run(model, false, 1), reference, "eval mode must not drop");
    const a = run(model, true, 17);
    assert.deepEqual(run(model, true, 17), a, "same seed, same mask");
    assert.notDeepEqual(a, reference, "dropout 0.5 changed nothing");
    assert.notDeepEqual(run(model, true, 18), a, "another seed, same mask");
  });

  it("rejects a BPR batch", () => {
    const { model } = createNeuMF(ctx, { factors: FACTORS }, new Rng(1));
    assert.throws(() => model.leaves({ kind: "bpr", users: new Int32Array(1), pos: new Int32Array(1), neg: new Int32Array(1) }), /BCE batch/);
  });
});

for (const backend of ["cpu", "wasm"]) {
  describe(`NeuMF scorer (${backend})`, () => {
    before(async () => {
      assert.equal((await initBackend(backend)).name, backend);
    });

    it("scores every (user, item) as the per-sample forward's logit, across chunk boundaries", () => {
      // 40 users x 700 items: 11 users per 8,192-pair chunk, so a block of 30 spans three chunks
      const big = context(40, 700);
      const { model, params } = createNeuMF(big, { factors: FACTORS, layers: LAYERS }, new Rng(20));
      randomize(params, 0.5, 21);
      const block = Int32Array.from([3, 39, 0, 17, 3, 25, 8, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35]);
      const scorer = model.scorer(params);
      const scores = scorer(block);
      // the scorer is a snapshot: changing the parameters afterwards does not change its scores
      const saved = params.clone();
      for (const q of params.list()) q.data.fill(0.25);
      assert.deepEqual(scorer(block), scores, "the scorer read parameters changed after it was made");
      for (const q of saved.list()) params.get(q.name).data.set(q.data);
      assert.equal(scores.length, block.length * 700);
      const users = new Int32Array(block.length * 700);
      const items = new Int32Array(block.length * 700);
      for (let r = 0; r < block.length; r++) for (let i = 0; i < 700; i++) {
        users[r * 700 + i] = block[r];
        items[r * 700 + i] = i;
      }
      const all: Batch = { kind: "bce", users, items, labels: new Float32Array(users.length) };
      const L = leafValues(model, params, all);
      const logits = tf.tidy(() => model.logits(toTensors(model, all, L, params), all, { training: false, rng: new Rng(0) }).dataSync());
      assertClose(scores, logits, 1e-5, "scores");
    });
  });
}

for (const backend of ["cpu", "wasm"]) {
  describe(`NeuMF second order (${backend})`, () => {
    before(async () => {
      assert.equal((await initBackend(backend)).name, backend);
    });

    it("second directional derivative D^T H D (tf.grad of tf.grad) agrees with float64 differences", checkSecondOrder);
  });
}
