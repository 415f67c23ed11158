import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples, type Interactions } from "../../src/data/interactions";
import { batchPlan, corruptedInput, createCDAE, sigmoidAnyOrder, trainRows } from "../../src/models/cdae";
import type { Batch, ModelContext } from "../../src/models/model";
import type { Csr } from "../../src/models/ops/csr";
import { Rng } from "../../src/util/rng";
import { assertGradientsMatch, checkGradients, checkSecondOrder as checkHvp, fixedMode } from "./gradcheck";
import { randomize, leafValues, toTensors, softplus } from "./model-fixtures";

// 6 users x 9 items; user 5 has no training item (hidden = sigmoid(V_u + b))
const rows: number[][] = [[0, 2, 5], [1, 2, 3, 8], [4], [0, 3, 6, 7], [2, 5, 6, 8], []];
function trainOf(r: number[][], nItems: number): Interactions {
  const users: number[] = [];
  const items: number[] = [];
  r.forEach((its, u) => its.forEach((i) => (users.push(u), items.push(i))));
  return fromTriples(r.length, nItems, users, items, new Uint8Array(users.length));
}
const train = trainOf(rows, 9);
const ctx: ModelContext = { nUsers: 6, nItems: 9, train };
const HIDDEN = 5;
// user 1 appears three times, item 2 twice; user 5 (empty row) once
const batch: Extract<Batch, { kind: "bce" }> = {
  kind: "bce",
  users: Int32Array.from([1, 0, 3, 1, 5, 4, 1, 2]),
  items: Int32Array.from([2, 7, 6, 4, 2, 8, 0, 1]),
  labels: Float32Array.from([1, 0, 1, 0, 0, 1, 0, 0]),
};
const weights = Float64Array.from([0.7, -1.3, 0.4, 1.1, 0.9, -0.5, 1.6, 0.3]);





/**
 * CDAE in float64 loops from leaf values and the distinct users' (corrupted) input
 * rows: position s reads row slot[s], logit = sigmoid(y~ W + V + b) . W'_i + b'_i.
 */
function referenceLogits(L: Map<string, ArrayLike<number>>, input: Csr, slot: Int32Array): Float64Array {
  const get = (k: string) => L.get(k) as ArrayLike<number>;
  const out = new Float64Array(slot.length);
  for (let s = 0; s < slot.length; s++) {
    const r = slot[s];
    let logit = get("decoderB")[s];
    for (let j = 0; j < HIDDEN; j++) {
      let z = get("userNode")[r * HIDDEN + j] + get("encoderB")[j];
      for (let k = input.indptr[r]; k < input.indptr[r + 1]; k++) z += input.values[k] * get("encoderW")[input.indices[k] * HIDDEN + j];
      logit += (1 / (1 + Math.exp(-z))) * get("decoderW")[s * HIDDEN + j];
    }
    out[s] = logit;
  }
  return out;
}

const plan = batchPlan(train, batch.users);

function referenceObjective(L: Map<string, ArrayLike<number>>, input: Csr): number {
  const y = referenceLogits(L, input, plan.slot);
  let j = 0;
  for (let s = 0; s < weights.length; s++) j += weights[s] * (softplus(y[s]) - batch.labels[s] * y[s]);
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

/** D^T H D of J by tf.grad of tf.grad against float64 second differences of the reference. */
function checkSecondOrder(): void {
  const { model, params } = createCDAE(ctx, { hidden: HIDDEN }, new Rng(8));
  randomize(params, 0.7, 9);
  const keys = model.leaves(batch).map((s) => s.key);
  const L = leafValues(model, params, batch);
  const rng = new Rng(10);
  const D = new Map<string, Float32Array>();
  for (const k of keys) D.set(k, Float32Array.from(L.get(k) as Float32Array, () => rng.normal()));
  const input = corruptedInput(train, plan.distinct, plan.items, 0.5, { training: true, rng: new Rng(11) });
  const c = tf.tensor1d(Float32Array.from(weights));
  const dhd = tf.tidy(() => {
    const t = toTensors(model, batch, L, params);
    const dt = keys.map((k) => tf.tensor(D.get(k) as Float32Array, t[k].shape));
    const J = (...xs: tf.Tensor[]) => {
      const m: Record<string, tf.Tensor> = {};
      keys.forEach((k, i) => (m[k] = xs[i]));
      return tf.sum(tf.mul(c, model.losses(m, batch, { training: true, rng: new Rng(11) })));
    };
    const gDotD = (...xs: tf.Tensor[]) => tf.addN(tf.grads(J)(xs).map((g, i) => tf.sum(tf.mul(g, dt[i])))) as tf.Scalar;
    const hd = tf.grads(gDotD)(keys.map((k) => t[k]));
    return tf.addN(hd.map((g, i) => tf.sum(tf.mul(g, dt[i])))).dataSync()[0];
  });
  const at = (eps: number) => {
    const m = new Map<string, ArrayLike<number>>();
    for (const k of keys) m.set(k, Float64Array.from(L.get(k) as Float32Array, (v, i) => v + eps * (D.get(k) as Float32Array)[i]));
    return referenceObjective(m, input);
  };
  const e = 1e-4;
  const fd = (at(e) - 2 * at(0) + at(-e)) / (e * e);
  assert.ok(Math.abs(fd) > 1e-2, `curvature too small to test: ${fd}`);
  assert.ok(Math.abs(dhd - fd) < 2e-3 * Math.abs(fd), `D^T H D: tf ${dhd}, finite differences ${fd}`);
  c.dispose();
}

describe("CDAE (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  it("initialises W, V, W' xavier-uniform and the biases to 0", () => {
    const big = trainOf(Array.from({ length: 3000 }, (_, u) => [u % 2000]), 2000);
    const { params } = createCDAE({ nUsers: 3000, nItems: 2000, train: big }, {}, new Rng(1));
    // bound sqrt(6 / (rows + 100)): W, W' 2000 x 100 -> 0.053452; V 3000 x 100 -> sqrt(6 / 3100) = 0.043994
    const bounds: Record<string, number> = { encoderW: 0.053452, decoderW: 0.053452, userNode: 0.043994 };
    for (const [name, bound] of Object.entries(bounds)) {
      const x = params.get(name).data;
      let maxAbs = 0;
      let s2 = 0;
      for (const v of x) {
        maxAbs = Math.max(maxAbs, Math.abs(v));
        s2 += v * v;
      }
      assert.ok(maxAbs <= bound && maxAbs > 0.999 * bound, `${name}: max |w| ${maxAbs}, bound ${bound}`);
      // U(-b, b) has variance b^2 / 3; 200,000+ draws keep the sample variance within 1 %
      assert.ok(Math.abs(s2 / x.length / (bound * bound / 3) - 1) < 0.01, `${name}: variance ${s2 / x.length}`);
    }
    assert.deepEqual(params.get("decoderB").shape, [2000, 1]);
    for (const name of ["encoderB", "decoderB"]) assert.ok(params.get(name).data.every((v) => v === 0), `${name} not zero`);
  });

  it("plans a batch: distinct users, slots, the union of their items as encoder rows", () => {
    // users [1, 0, 3, 1, 5, 4, 1, 2]: distinct 1, 0, 3, 5, 4, 2; union of all rows = items 0..8
    assert.deepEqual(Array.from(plan.distinct), [1, 0, 3, 5, 4, 2]);
    assert.deepEqual(Array.from(plan.slot), [0, 1, 2, 0, 3, 4, 0, 5]);
    assert.deepEqual(Array.from(plan.items), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // user 1: {1,2,3,8}, user 0: {0,2,5} -> union {0,1,2,3,5,8}
    const small = batchPlan(train, Int32Array.from([1, 0, 1]));
    assert.deepEqual(Array.from(small.items), [0, 1, 2, 3, 5, 8]);
    assert.deepEqual(Array.from(small.slot), [0, 1, 0]);
    const { model } = createCDAE(ctx, { hidden: HIDDEN }, new Rng(1));
    const b: Batch = { kind: "bce", users: Int32Array.from([1, 0, 1]), items: Int32Array.from([4, 4, 7]), labels: new Float32Array(3) };
    const rowsOf = (key: string) => Array.from(model.leaves(b).find((s) => s.key === key)?.rows ?? []);
    assert.deepEqual(rowsOf("encoderW"), [0, 1, 2, 3, 5, 8]);
    assert.deepEqual(rowsOf("userNode"), [1, 0]);
    assert.deepEqual(rowsOf("decoderW"), [4, 4, 7]);
  });

  it("corruption is seeded, scaled by 1/(1-q), and off in eval mode", () => {
    const users = plan.distinct;
    const items = plan.items;
    const a = corruptedInput(train, users, items, 0.5, { training: true, rng: new Rng(7) });
    const again = corruptedInput(train, users, items, 0.5, { training: true, rng: new Rng(7) });
    assert.deepEqual(a, again, "same seed, same corruption");
    const seeds = [8, 9, 10, 11].map((s) => corruptedInput(train, users, items, 0.5, { training: true, rng: new Rng(s) }));
    assert.ok(seeds.some((c) => JSON.stringify(Array.from(c.indices)) !== JSON.stringify(Array.from(a.indices))), "other seeds, same corruption");
    assert.ok(a.values.every((v) => v === 2), "kept entries must be 1 / (1 - 0.5) = 2");
    const row = (c: Csr, r: number) => Array.from(c.indices.subarray(c.indptr[r], c.indptr[r + 1]));
    users.forEach((u, r) => assert.ok(row(a, r).every((col) => rows[u].includes(items[col])), `row ${r} holds an item user ${u} never had`));
    // eval mode: the full rows, value 1, and no draw from the rng
    const rng = new Rng(7);
    const full = corruptedInput(train, users, items, 0.5, { training: false, rng });
    assert.equal(rng.next(), new Rng(7).next(), "eval mode drew from the rng");
    users.forEach((u, r) => assert.deepEqual(row(full, r).map((col) => items[col]), rows[u]));
    assert.ok(full.values.every((v) => v === 1));
    // q = 0.5 over 4,000 items: kept ~ Binomial(4000, 0.5), sd 31.6; 6 sd = 190
    const wide = trainOf([Array.from({ length: 4000 }, (_, i) => i)], 4000);
    const one = Int32Array.from([0]);
    const kept = corruptedInput(wide, one, batchPlan(wide, one).items, 0.5, { training: true, rng: new Rng(3) }).indices.length;
    assert.ok(Math.abs(kept - 2000) < 190, `kept ${kept} of 4000`);
  });

  for (const training of [false, true]) {
    it(`per-sample logits equal a float64 reference (${training ? "training, corrupted" : "eval"} input)`, () => {
      const { model, params } = createCDAE(ctx, { hidden: HIDDEN }, new Rng(2));
      randomize(params, 0.7, 3);
      const L = leafValues(model, params, batch);
      const input = corruptedInput(train, plan.distinct, plan.items, 0.5, { training, rng: new Rng(4) });
      const logits = tf.tidy(() => model.logits(toTensors(model, batch, L, params), batch, { training, rng: new Rng(4) }).dataSync());
      // positions 0, 3 and 6 are all user 1: one corrupted row y~_1 for the three
      const want = referenceLogits(L, input, plan.slot);
      assertClose(logits, want, 1e-5, "logits");
      assert.ok(want.some((y) => Math.abs(y) > 0.5), "logits too small to tell anything");
    });
  }

  it("gradients w.r.t. every leaf agree with float64 central differences (corrupted input)", () => {
    const { model, params } = createCDAE(ctx, { hidden: HIDDEN }, new Rng(5));
    randomize(params, 0.7, 6);
    const specs = model.leaves(batch);
    const L = leafValues(model, params, batch);
    const input = corruptedInput(train, plan.distinct, plan.items, 0.5, { training: true, rng: new Rng(7) });
    const c = tf.tensor1d(Float32Array.from(weights));
    const grads = tf.tidy(() => {
      const t = toTensors(model, batch, L, params);
      const keys = specs.map((s) => s.key);
      const f = (...xs: tf.Tensor[]) => {
        const m: Record<string, tf.Tensor> = {};
        keys.forEach((k, i) => (m[k] = xs[i]));
        return tf.sum(tf.mul(c, model.losses(m, batch, { training: true, rng: new Rng(7) })));
      };
      return tf.grads(f)(keys.map((k) => t[k]));
    });
    const h = 1e-6;
    specs.forEach((s, gi) => {
      const base = L.get(s.key) as Float32Array;
      const fd = new Float64Array(base.length);
      for (let k = 0; k < base.length; k++) {
        const shifted = (delta: number) => {
          const m = new Map<string, ArrayLike<number>>(L);
          const x = Float64Array.from(base);
          x[k] += delta;
          m.set(s.key, x);
          return referenceObjective(m, input);
        };
        fd[k] = (shifted(h) - shifted(-h)) / (2 * h);
      }
      assertClose(grads[gi].dataSync(), fd, 2e-4, `dJ/d${s.key}`);
    });
    // a dropped item's encoder row gets exactly zero gradient (it is a leaf row but not in any y~_u)
    const encoder = grads[specs.findIndex((s) => s.key === "encoderW")].dataSync();
    const used = new Set(Array.from(input.indices));
    const unused = Array.from({ length: 9 }, (_, col) => col).filter((col) => !used.has(col));
    assert.ok(unused.length > 0, "seed 7 dropped no item everywhere; pick another seed");
    for (const col of unused) for (let j = 0; j < HIDDEN; j++) assert.equal(encoder[col * HIDDEN + j], 0);
    tf.dispose([...grads, c]);
  });


  it("the generic checker agrees on parameter gradients (rows folded) and Hessian-vector products, corruption replayed", () => {
    const { model, params } = createCDAE(ctx, { hidden: HIDDEN }, new Rng(30));
    randomize(params, 0.7, 31);
    const mode = fixedMode(true, 32);
    assertGradientsMatch(checkGradients(model, params, batch, { mode, directions: 4 }), 1e-2, 2e-4);
    assertGradientsMatch(checkHvp(model, params, batch, { mode, directions: 3 }), 1e-2, 2e-4);
  });

  it("rejects a BPR batch", () => {
    const { model } = createCDAE(ctx, { hidden: HIDDEN }, new Rng(1));
    assert.throws(() => model.leaves({ kind: "bpr", users: new Int32Array(1), pos: new Int32Array(1), neg: new Int32Array(1) }), /BCE batch/);
  });
});

describe("sigmoidAnyOrder", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  // s = sigmoid(x): s' = s(1-s), s'' = s(1-s)(1-2s), s''' = s(1-s)(1-6s+6s^2)
  const xs = [-2.5, -0.4, 0.3, 1.7];
  const s = xs.map((x) => 1 / (1 + Math.exp(-x)));
  const want = [
    s,
    s.map((v) => v * (1 - v)),
    s.map((v) => v * (1 - v) * (1 - 2 * v)),
    s.map((v) => v * (1 - v) * (1 - 6 * v + 6 * v * v)),
  ];
  /** The n-th derivative of f, elementwise (f acts elementwise, so grad of the sum is the derivative). */
  const nth = (f: (x: tf.Tensor) => tf.Tensor, n: number): ((x: tf.Tensor) => tf.Tensor) => {
    let g = f;
    for (let k = 0; k < n; k++) {
      const inner = g;
      g = tf.grad((x: tf.Tensor) => tf.sum(inner(x)));
    }
    return g;
  };

  it("its value and first three derivatives equal the closed forms", () => {
    for (let n = 0; n <= 3; n++) {
      const got = tf.tidy(() => nth(sigmoidAnyOrder, n)(tf.tensor1d(xs)).dataSync());
      assertClose(got, want[n], 1e-5, `derivative ${n}`);
    }
  });

  it("is needed: tf.sigmoid's own second derivative throws or is wrong in tfjs 4.22 (it misses the saved output's path)", () => {
    // alone it throws "Cannot compute gradient"; with another path to x (here x^2 / 2) it silently drops the sigmoid's part
    assert.throws(() => tf.tidy(() => nth(tf.sigmoid, 2)(tf.tensor1d(xs))), /Cannot compute gradient/);
    const withPath = (x: tf.Tensor) => tf.add(tf.sigmoid(x), tf.mul(0.5, tf.square(x)));
    const got = tf.tidy(() => nth(withPath, 2)(tf.tensor1d(xs)).dataSync()); // should be s'' + 1
    const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - (want[2][i] + 1))));
    assert.ok(worst > 1e-3, `tf.sigmoid's second derivative is now right (${Array.from(got)}): sigmoidAnyOrder may be retired`);
    const safe = tf.tidy(() => nth((x: tf.Tensor) => tf.add(sigmoidAnyOrder(x), tf.mul(0.5, tf.square(x))), 2)(tf.tensor1d(xs)).dataSync());
    assertClose(safe, want[2].map((v) => v + 1), 1e-5, "sigmoidAnyOrder'' + 1");
  });
});

for (const backend of ["cpu", "wasm"]) {
  describe(`CDAE scorer (${backend})`, () => {
    before(async () => {
      assert.equal((await initBackend(backend)).name, backend);
    });

    it("scores every (user, item) as the eval-mode per-sample logit", () => {
      const { model, params } = createCDAE(ctx, { hidden: HIDDEN }, new Rng(12));
      randomize(params, 0.7, 13);
      const block = Int32Array.from([4, 0, 5, 2, 3, 1, 0]);
      const scorer = model.scorer(params);
      const scores = scorer(block);
      // the scorer is a snapshot: changing the parameters afterwards does not change its scores
      const saved = params.clone();
      for (const q of params.list()) q.data.fill(0.25);
      assert.deepEqual(scorer(block), scores, "the scorer read parameters changed after it was made");
      for (const q of saved.list()) params.get(q.name).data.set(q.data);
      const users = new Int32Array(block.length * 9);
      const items = new Int32Array(block.length * 9);
      for (let r = 0; r < block.length; r++) for (let i = 0; i < 9; i++) {
        users[r * 9 + i] = block[r];
        items[r * 9 + i] = i;
      }
      const all: Batch = { kind: "bce", users, items, labels: new Float32Array(users.length) };
      const L = leafValues(model, params, all);
      const logits = tf.tidy(() => model.logits(toTensors(model, all, L, params), all, { training: false, rng: new Rng(0) }).dataSync());
      assertClose(scores, logits, 1e-5, "scores");
      // and the uncorrupted input rows the scorer uses are the training rows
      const r = trainRows(train, Int32Array.from([3, 5]));
      assert.deepEqual(Array.from(r.indices), rows[3]);
      assert.deepEqual(Array.from(r.indptr), [0, 4, 4]);
    });
  });
}

for (const backend of ["cpu", "wasm"]) {
  describe(`CDAE second order (${backend})`, () => {
    before(async () => {
      assert.equal((await initBackend(backend)).name, backend);
    });

    it("second directional derivative D^T H D (tf.grad of tf.grad) agrees with float64 differences", checkSecondOrder);
  });
}
