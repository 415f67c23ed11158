import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import {
  ParamStore,
  createParam,
  gatherRows,
  initValues,
  paramTensor,
  scatterAddRows,
  type Param,
} from "../../src/models/ops/embedding-table";
import { Adam, OPTIMIZER_SEMANTICS, type ParamGradient } from "../../src/training/adam";
import { Rng } from "../../src/util/rng";

function table(name: string, rows: number, dim: number, seed: number): Param {
  return createParam(name, "table", [rows, dim], { kind: "normal", std: 0.1 }, new Rng(seed));
}

function randomGrad(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** The reference: tfjs's own Adam (tf.train.adam) on a tf.Variable, fed the given dense gradients. */
function tfAdamReference(init: Float32Array, shape: number[], grads: Float32Array[], lr: number): Float32Array {
  const variable = tf.variable(tf.tensor(init, shape));
  const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  for (const g of grads) {
    const gt = tf.tensor(g, shape);
    opt.applyGradients([{ name: variable.name, tensor: gt }]);
    gt.dispose();
  }
  const out = variable.dataSync().slice() as Float32Array;
  opt.dispose();
  variable.dispose();
  return out;
}

describe("Adam", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("first step moves each coordinate by about lr * sign(g); second step by hand", () => {
    // t = 1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2, step = lr g / (|g| + eps)
    //   g = 0.5  -> 0.01 * 0.5 / (0.5 + 1e-8)        = 0.01 (to 2e-10)
    //   g = -2   -> -0.01
    //   g = 0    -> 0 (m = 0)
    //   g = 1e-3 -> 0.01 * 1e-3 / (1e-3 + 1e-8)      = 0.0099999000
    const p = createParam("w", "dense", [4], { kind: "zeros" }, new Rng(1));
    const adam = new Adam({ lr: 0.01 });
    adam.step([[p, { kind: "dense", grad: Float32Array.from([0.5, -2, 0, 1e-3]) }]]);
    const want1 = [-0.01, 0.01, 0, -0.00999990000099999];
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(p.data[i] - want1[i]) < 1e-9, `coord ${i}: ${p.data[i]}`);
    assert.equal(adam.iterations, 1);
    // t = 2 with g = 0 on coordinate 0 (g1 = 0.5): m = 0.9 * 0.05 = 0.045, v = 0.999 * 0.00025 = 0.00024975
    //   mhat = 0.045 / (1 - 0.81) = 0.236842, vhat = 0.00024975 / (1 - 0.998001) = 0.124937
    //   step = 0.01 * 0.236842 / sqrt(0.124937) = 0.01 * 0.670058 = 0.0067006 (= 0.5 x the g1 = 1 case: 0.00670058)
    adam.step([[p, { kind: "dense", grad: new Float32Array(4) }]]);
    assert.ok(Math.abs(p.data[0] - (-0.01 - 0.006700582446581134)) < 1e-8, `coord 0 after 2 steps: ${p.data[0]}`);
  });

  it("dense Adam equals tf.train.adam over 5 steps", () => {
    const p = createParam("w", "dense", [6, 5], { kind: "xavier-uniform" }, new Rng(2));
    const init = p.data.slice();
    const rng = new Rng(3);
    const grads = Array.from({ length: 5 }, () => randomGrad(30, rng));
    const adam = new Adam({ lr: 0.01 });
    for (const g of grads) adam.step([[p, { kind: "dense", grad: g }]]);
    const ref = tfAdamReference(init, [6, 5], grads, 0.01);
    assert.ok(maxAbsDiff(p.data, ref) < 1e-6, `max diff ${maxAbsDiff(p.data, ref)}`);
    assert.ok(maxAbsDiff(p.data, init) > 0.01, "the parameter moved");
  });

  it("lazy Adam equals dense Adam when every row is touched every step", () => {
    const rows = 7;
    const dim = 4;
    const p = table("E", rows, dim, 4);
    const init = p.data.slice();
    const rng = new Rng(5);
    const dense: Float32Array[] = [];
    const adam = new Adam({ lr: 0.01 });
    for (let s = 0; s < 5; s++) {
      const order = rng.shuffle(Int32Array.from({ length: rows }, (_, i) => i)); // all rows, shuffled
      const grad = randomGrad(rows * dim, rng);
      const full = new Float32Array(rows * dim);
      for (let n = 0; n < rows; n++) full.set(grad.subarray(n * dim, (n + 1) * dim), order[n] * dim);
      dense.push(full);
      adam.step([[p, { kind: "rows", rows: order, grad }]]);
    }
    const ref = tfAdamReference(init, [rows, dim], dense, 0.01);
    assert.ok(maxAbsDiff(p.data, ref) < 1e-6, `max diff ${maxAbsDiff(p.data, ref)}`);
  });

  it("lazy Adam leaves untouched rows (values and moments) alone, unlike dense Adam", () => {
    const dim = 2;
    const p = table("E", 3, dim, 6);
    const init = p.data.slice();
    const adam = new Adam({ lr: 0.01 });
    const g1 = Float32Array.from([1, 1, 1, 1, 1, 1]);
    adam.step([[p, { kind: "rows", rows: Int32Array.from([0, 1, 2]), grad: g1 }]]); // t = 1: all rows
    const afterStep1 = p.data.slice();
    const m1 = (adam.moments(p) as { m: Float32Array }).m.slice();
    const v1 = (adam.moments(p) as { v: Float32Array }).v.slice();
    adam.step([[p, { kind: "rows", rows: Int32Array.from([0]), grad: Float32Array.from([0, 0]) }]]); // t = 2: row 0 only
    // rows 1 and 2: bit-identical values and moments
    for (let i = dim; i < 3 * dim; i++) {
      assert.equal(p.data[i], afterStep1[i]);
      assert.equal((adam.moments(p) as { m: Float32Array }).m[i], m1[i]);
      assert.equal((adam.moments(p) as { v: Float32Array }).v[i], v1[i]);
    }
    // row 0 moved by the hand-computed second step for g1 = 1, g2 = 0: 0.01 * 0.670058 = 0.00670058
    assert.ok(Math.abs(afterStep1[0] - p.data[0] - 0.006700582446581134) < 1e-8);
    // dense Adam with zero gradients for rows 1, 2 moves them too: the two really differ
    const ref = tfAdamReference(init, [3, dim], [g1, new Float32Array(3 * dim)], 0.01);
    assert.ok(Math.abs(ref[dim] - afterStep1[dim]) > 0.006, "dense Adam moves a zero-gradient row");
    // (tfjs forms 1 - 0.999^t in float32, a cancellation that puts about 1e-5 relative error on its step)
    assert.ok(Math.abs(ref[0] - p.data[0]) < 1e-6, `the touched row agrees with dense Adam: ${ref[0]} vs ${p.data[0]}`);
  });

  it("a row first touched at step 3 uses the global step in its bias correction", () => {
    // t = 3, g = 1, zero moments: m = 0.1, v = 0.001, mhat = 0.1 / (1 - 0.9^3) = 0.369004,
    // vhat = 0.001 / (1 - 0.999^3) = 0.333667, step = 0.01 * 0.369004 / 0.577639 = 0.00638814
    const p = table("E", 2, 1, 7);
    const before = p.data[1];
    const adam = new Adam({ lr: 0.01 });
    for (let s = 0; s < 2; s++) adam.step([[p, { kind: "rows", rows: Int32Array.from([0]), grad: Float32Array.from([1]) }]]);
    assert.equal(p.data[1], before);
    adam.step([[p, { kind: "rows", rows: Int32Array.from([1]), grad: Float32Array.from([1]) }]]);
    assert.ok(Math.abs(before - p.data[1] - 0.006388135883394717) < 1e-8, `moved ${before - p.data[1]}`);
  });

  it("a repeated row in a row gradient is summed before the update", () => {
    const a = table("E", 3, 2, 8);
    const b = table("E", 3, 2, 8);
    const adamA = new Adam({ lr: 0.01 });
    const adamB = new Adam({ lr: 0.01 });
    adamA.step([[a, { kind: "rows", rows: Int32Array.from([2, 0, 2]), grad: Float32Array.from([1, 2, 3, 4, 0.5, -1]) }]]);
    // row 2: (1, 2) + (0.5, -1) = (1.5, 1); row 0: (3, 4)
    adamB.step([[b, { kind: "rows", rows: Int32Array.from([2, 0]), grad: Float32Array.from([1.5, 1, 3, 4]) }]]);
    assert.deepEqual([...a.data], [...b.data]);
  });

  it("rejects a gradient of the wrong size and a parameter given twice", () => {
    const p = table("E", 3, 2, 9);
    const adam = new Adam({ lr: 0.01 });
    assert.throws(() => adam.step([[p, { kind: "dense", grad: new Float32Array(5) }]]), /'E' has 5 values, parameter has 6/);
    assert.throws(() => adam.step([[p, { kind: "rows", rows: Int32Array.from([3]), grad: new Float32Array(2) }]]), /row 3 outside/);
    const g: ParamGradient = { kind: "dense", grad: new Float32Array(6) };
    assert.throws(() => adam.step([[p, g], [p, g]]), /given twice/);
  });

  it("names its semantics for result records", () => {
    assert.match(OPTIMIZER_SEMANTICS, /lazy/);
  });
});

describe("embedding tables", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("a row appearing twice in a batch receives the summed gradient", () => {
    // L = sum_n <E[idx_n], c_n> with idx = [1, 3, 1]: dL/dE[1] = c_0 + c_2, dL/dE[3] = c_1
    const p = table("E", 4, 3, 10);
    const idx = Int32Array.from([1, 3, 1]);
    const c = Float32Array.from([1, 2, 3, 10, 20, 30, 0.5, -1, 4]);
    const leaf = gatherRows(p, idx);
    assert.deepEqual([...leaf.dataSync().slice(6, 9)], [...p.data.slice(3, 6)]); // position 2 holds row 1
    const g = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(e, tf.tensor2d(c, [3, 3]))))(leaf);
    const rg = scatterAddRows(3, [{ idx, grad: g.dataSync() as Float32Array }]);
    assert.deepEqual([...rg.rows], [1, 3]);
    assert.deepEqual([...rg.grad], [1.5, 1, 7, 10, 20, 30]);
    leaf.dispose();
    g.dispose();
  });

  it("scatterAddRows sums across several gathers of one table (positives and negatives)", () => {
    // pos idx [0, 2], neg idx [2, 2]: row 0 <- (1, 1); row 2 <- (2, 2) + (3, 3) + (4, 4) = (9, 9)
    const rg = scatterAddRows(2, [
      { idx: [0, 2], grad: Float32Array.from([1, 1, 2, 2]) },
      { idx: [2, 2], grad: Float32Array.from([3, 3, 4, 4]) },
    ]);
    assert.deepEqual([...rg.rows], [0, 2]);
    assert.deepEqual([...rg.grad], [1, 1, 9, 9]);
  });

  it("initialisation is reproducible per seed and differs between seeds", () => {
    const a = table("E", 50, 8, 42);
    const b = table("E", 50, 8, 42);
    const c = table("E", 50, 8, 43);
    assert.deepEqual([...a.data], [...b.data]);
    assert.notDeepEqual([...a.data], [...c.data]);
    const s1 = new ParamStore();
    const s2 = new ParamStore();
    for (const s of [s1, s2]) {
      const rng = new Rng(7);
      s.add("user", "table", [5, 4], { kind: "normal", std: 0.1 }, rng);
      s.add("W", "dense", [4, 3], { kind: "xavier-uniform" }, rng);
    }
    assert.deepEqual([...s1.get("W").data], [...s2.get("W").data]);
  });

  it("normal(std) and Xavier-uniform draw from the right distributions", () => {
    // normal std 0.1 over 20,000 draws: sample std within 0.1 +- 0.002 (its s.e. is 0.1/sqrt(40000) = 0.0005)
    const n = initValues({ kind: "normal", std: 0.1 }, [200, 100], new Rng(1));
    let sum = 0;
    let sq = 0;
    for (const x of n) {
      sum += x;
      sq += x * x;
    }
    const mean = sum / n.length;
    const std = Math.sqrt(sq / n.length - mean * mean);
    assert.ok(Math.abs(mean) < 0.003, `mean ${mean}`);
    assert.ok(Math.abs(std - 0.1) < 0.002, `std ${std}`);
    // Xavier for [300, 100]: bound = sqrt(6 / 400) = 0.122474; U(-b, b) has variance b^2 / 3 = 0.005
    const x = initValues({ kind: "xavier-uniform" }, [300, 100], new Rng(2));
    let lo = Infinity;
    let hi = -Infinity;
    let xs = 0;
    for (const v of x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      xs += v * v;
    }
    assert.ok(hi <= 0.1224745 && lo >= -0.1224745, `range [${lo}, ${hi}]`);
    assert.ok(hi > 0.122 && lo < -0.122, "the range is used");
    assert.ok(Math.abs(xs / x.length - 0.005) < 0.0002, `variance ${xs / x.length}`);
    assert.throws(() => initValues({ kind: "xavier-uniform" }, [5], new Rng(3)), /2-D/);
  });

  it("leaf tensors copy the values, so an update does not alias them; clone is deep", () => {
    const store = new ParamStore();
    const w = store.add("W", "dense", [2, 2], { kind: "normal", std: 1 }, new Rng(3));
    const t = paramTensor(w);
    const copy = store.clone();
    const first = w.data[0];
    w.data[0] += 1;
    assert.equal(t.dataSync()[0], first);
    assert.equal(copy.get("W").data[0], first);
    assert.throws(() => store.get("nope"), /no parameter 'nope'/);
    assert.throws(() => store.add("W", "dense", [1], { kind: "zeros" }, new Rng(1)), /already exists/);
    t.dispose();
  });
});
