import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples, type Interactions } from "../../src/data/interactions";
import { loadDataset } from "../../src/data/registry";
import { bprTriples } from "../../src/data/sampler";
import { generateSynthetic, SYNTHETIC_PRESETS } from "../../src/data/synthetic";
import { createLightGCN, LIGHTGCN_DEFAULTS } from "../../src/models/lightgcn";
import type { Batch, ModelContext } from "../../src/models/model";
import { normalizedAdjacency } from "../../src/models/ops/csr";
import { lightgcnOperator } from "../../src/models/propagation";
import { Rng } from "../../src/util/rng";
import { analyticGradient, assertGradientsMatch, checkGradients, checkSecondOrder, fixedMode, sampleLosses, sampleWeights } from "./gradcheck";

/** A context from (user, item) pairs. */
function context(nUsers: number, nItems: number, pairs: ReadonlyArray<readonly [number, number]>): ModelContext {
  const train = fromTriples(nUsers, nItems, pairs.map((p) => p[0]), pairs.map((p) => p[1]), new Uint8Array(pairs.length));
  return { nUsers, nItems, train };
}

/** The tiny gradient-check problem: 5 users, 7 items (item 6 has a single user, every user >= 1 item). */
const TINY = context(5, 7, [[0, 0], [0, 2], [1, 1], [1, 3], [2, 4], [3, 0], [3, 5], [4, 2], [4, 3], [4, 6]]);
const TINY_BATCH: Batch = { kind: "bpr", users: Int32Array.from([0, 1, 3, 4, 4]), pos: Int32Array.from([2, 1, 5, 3, 6]), neg: Int32Array.from([1, 0, 6, 0, 1]) };

/** Dense float64 D^-1/2 A D^-1/2 of the bipartite graph, from the pairs directly (independent of csr.ts). */
function denseAdjacency(train: Interactions): Float64Array {
  const n = train.nUsers + train.nItems;
  const deg = new Float64Array(n);
  const edges: Array<[number, number]> = [];
  for (let u = 0; u < train.nUsers; u++) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      const v = train.nUsers + train.items[k];
      edges.push([u, v]);
      deg[u]++;
      deg[v]++;
    }
  }
  const a = new Float64Array(n * n);
  for (const [u, v] of edges) {
    const w = 1 / Math.sqrt(deg[u] * deg[v]);
    a[u * n + v] = w;
    a[v * n + u] = w;
  }
  return a;
}

/** C = A B in float64, A [m x k], B [k x n]. */
function matmul(a: ArrayLike<number>, m: number, k: number, b: ArrayLike<number>, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      if (x !== 0) for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
    }
  }
  return c;
}

/** LightGCN's final embeddings in float64: mean over k = 0..K of A^k E0. */
function referenceFinal(train: Interactions, e0: ArrayLike<number>, d: number, layers: number): Float64Array {
  const n = train.nUsers + train.nItems;
  const a = denseAdjacency(train);
  const sum = Float64Array.from(e0);
  let ek = Float64Array.from(e0);
  for (let k = 1; k <= layers; k++) {
    ek = matmul(a, n, n, ek, d);
    for (let j = 0; j < sum.length; j++) sum[j] += ek[j];
  }
  return sum.map((x) => x / (layers + 1));
}

function e0Of(params: { get(name: string): { data: Float32Array } }): Float32Array {
  const u = params.get("userEmb").data;
  const i = params.get("itemEmb").data;
  const out = new Float32Array(u.length + i.length);
  out.set(u);
  out.set(i, u.length);
  return out;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  let scale = 0;
  for (let k = 0; k < got.length; k++) {
    worst = Math.max(worst, Math.abs(got[k] - want[k]));
    scale = Math.max(scale, Math.abs(want[k]));
  }
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(worst <= tol * scale, `${what}: max abs error ${worst} (scale ${scale})`);
}

const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, k) => k);

/** Both paths on one context, same parameters: losses, gradients and scores agree, and match the float64 reference. */
function comparePaths(ctx: ModelContext, batch: Batch, scoreUsers: Int32Array, tol: number): void {
  const op = createLightGCN(ctx, { propagation: "operator" }, new Rng(9));
  const sp = createLightGCN(ctx, { propagation: "spmm" }, new Rng(9));
  assert.equal(op.model.describe().propagation, "operator");
  assert.equal(sp.model.describe().propagation, "spmm");
  const mode = fixedMode(true);
  const lossOp = sampleLosses(op.model, op.params, batch, mode);
  const lossSp = sampleLosses(sp.model, sp.params, batch, mode);
  assertClose(lossOp, lossSp, tol, "per-sample losses");
  const w = sampleWeights(batch.users.length);
  const gOp = analyticGradient(op.model, op.params, batch, mode, w);
  const gSp = analyticGradient(sp.model, sp.params, batch, mode, w);
  for (const name of ["userEmb", "itemEmb"]) assertClose(gOp.get(name) as Float64Array, gSp.get(name) as Float64Array, tol, `gradient of ${name}`);
  // scores against the float64 reference
  const d = LIGHTGCN_DEFAULTS.dim;
  const ref = referenceFinal(ctx.train, e0Of(op.params), d, LIGHTGCN_DEFAULTS.layers);
  const want = new Float64Array(scoreUsers.length * ctx.nItems);
  scoreUsers.forEach((u, r) => {
    for (let i = 0; i < ctx.nItems; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += ref[u * d + j] * ref[(ctx.nUsers + i) * d + j];
      want[r * ctx.nItems + i] = s;
    }
  });
  assertClose(op.model.scorer(op.params)(scoreUsers), want, tol, "operator-path scores");
  assertClose(sp.model.scorer(sp.params)(scoreUsers), want, tol, "spmm-path scores");
}

describe("LightGCN by hand", () => {
  before(async () => {
    await initBackend("cpu");
  });

  // One user, two items; the user's only item is item 0, item 1 is isolated. A(u0, i0) = 1 / sqrt(1 * 1) = 1.
  // E0: u0 = (1, 0), i0 = (0, 1), i1 = (4, 8). E1 = A E0: u0 = (0, 1), i0 = (1, 0), i1 = 0; E2 = E0 on u0, i0; E3 = E1.
  // final = mean of 4 layers: u0 = i0 = (0.5, 0.5), i1 = (4, 8) / 4 = (1, 2).
  // s(u0, i0) = 0.5, s(u0, i1) = 1.5.
  const ctx = context(1, 2, [[0, 0]]);
  for (const propagation of ["operator", "spmm"] as const) {
    const make = () => {
      const m = createLightGCN(ctx, { dim: 2, layers: 3, propagation }, new Rng(1));
      m.params.get("userEmb").data.set([1, 0]);
      m.params.get("itemEmb").data.set([0, 1, 4, 8]);
      return m;
    };

    it(`${propagation}: BPR loss, its gradient and the scores`, () => {
      const { model, params } = make();
      const batch: Batch = { kind: "bpr", users: Int32Array.from([0]), pos: Int32Array.from([0]), neg: Int32Array.from([1]) };
      const loss = sampleLosses(model, params, batch, fixedMode(true));
      // softplus(1.5 - 0.5) = ln(1 + e) = 1.3132616875182228
      assertClose(loss, [1.3132616875182228], 1e-6, "loss");
      // dL/ds_neg = sigmoid(1) = 0.7310585786300049; s_neg = final(u0) . final(i1), final(i1) = itemEmb[1] / 4,
      // so dL/d itemEmb[1] = sigmoid(1) * final(u0) / 4 = 0.7310585786300049 * (0.125, 0.125) = (0.09138232232875061, ...)
      const g = analyticGradient(model, params, batch, fixedMode(true), Float32Array.from([1]));
      const gi = g.get("itemEmb") as Float64Array;
      assertClose([gi[2], gi[3]], [0.09138232232875061, 0.09138232232875061], 1e-6, "gradient of the isolated item");
      assertClose(model.scorer(params)(Int32Array.from([0])), [0.5, 1.5], 1e-6, "scores");
    });

    it(`${propagation}: BCE batch uses the score as logit`, () => {
      const { model, params } = make();
      const batch: Batch = { kind: "bce", users: Int32Array.from([0, 0]), items: Int32Array.from([0, 1]), labels: Float32Array.from([1, 0]) };
      // softplus(-0.5) = 0.47407698418010663; softplus(1.5) = 1.7014132779827524
      assertClose(sampleLosses(model, params, batch, fixedMode(false)), [0.47407698418010663, 1.7014132779827524], 1e-6, "bce");
    });
  }

  it("rejects ids outside the graph and a context that disagrees with its split", () => {
    const { model, params } = createLightGCN(ctx, { dim: 2 }, new Rng(1));
    const bad: Batch = { kind: "bpr", users: Int32Array.from([0]), pos: Int32Array.from([0]), neg: Int32Array.from([2]) };
    assert.throws(() => sampleLosses(model, params, bad, fixedMode(true)), /item 2 at position 0 is outside \[0, 2\)/);
    assert.throws(() => model.scorer(params)(Int32Array.from([1])), /user 1 outside \[0, 1\)/);
    assert.throws(() => createLightGCN({ ...ctx, nItems: 3 }, {}, new Rng(1)), /context is 1 x 3 but its train split is 1 x 2/);
    assert.throws(() => createLightGCN(ctx, { layers: -1 }, new Rng(1)), /layers must be an integer >= 0/);
  });
});

describe("LightGCN operator and configuration", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("the operator is (I + A + A^2 + A^3) / 4", () => {
    const n = TINY.nUsers + TINY.nItems;
    const a = denseAdjacency(TINY.train);
    const eye = new Float64Array(n * n);
    for (let r = 0; r < n; r++) eye[r * n + r] = 1;
    const a2 = matmul(a, n, n, a, n);
    const a3 = matmul(a2, n, n, a, n);
    const want = eye.map((x, k) => (x + a[k] + a2[k] + a3[k]) / 4);
    assertClose(lightgcnOperator(normalizedAdjacency(TINY.train), 3), want, 1e-6, "P");
  });

  it("auto picks the operator up to operatorMaxNodes nodes, SpMM above", () => {
    const nodes = TINY.nUsers + TINY.nItems; // 12
    assert.equal(createLightGCN(TINY, { operatorMaxNodes: nodes }, new Rng(1)).model.describe().propagation, "operator");
    assert.equal(createLightGCN(TINY, { operatorMaxNodes: nodes - 1 }, new Rng(1)).model.describe().propagation, "spmm");
    assert.equal(LIGHTGCN_DEFAULTS.lr, 1e-3);
  });

  it("leaves are the two whole tables", () => {
    const { model, params } = createLightGCN(TINY, {}, new Rng(1));
    assert.deepEqual(model.leaves(TINY_BATCH), [
      { key: "userEmb", param: "userEmb" },
      { key: "itemEmb", param: "itemEmb" },
    ]);
    assert.deepEqual(params.get("userEmb").shape, [5, 64]);
    assert.deepEqual(params.get("itemEmb").shape, [7, 64]);
  });

  it("init normal0.1 has std 0.1; xavier is uniform within sqrt(6 / (rows + dim))", () => {
    const ctx = context(400, 600, [[0, 0]]);
    const normal = createLightGCN(ctx, { init: "normal0.1", propagation: "spmm" }, new Rng(2)).params.get("itemEmb").data;
    let s2 = 0;
    for (const x of normal) s2 += x * x;
    // 38,400 draws: the sample std has standard error 0.1 / sqrt(2 * 38400) = 0.00036; allow 5 of them
    assert.ok(Math.abs(Math.sqrt(s2 / normal.length) - 0.1) < 0.0018, `std ${Math.sqrt(s2 / normal.length)}`);
    const xavier = createLightGCN(ctx, { init: "xavier", propagation: "spmm" }, new Rng(2)).params.get("itemEmb").data;
    const bound = Math.sqrt(6 / (600 + 64)); // 0.09506
    let max = 0;
    for (const x of xavier) max = Math.max(max, Math.abs(x));
    assert.ok(max <= bound && max > 0.99 * bound, `max |x| ${max}, bound ${bound}`);
  });
});

describe("LightGCN gradients against finite differences (cpu, 5 users, 7 items, dim 4, 2 layers)", () => {
  before(async () => {
    await initBackend("cpu");
  });
  for (const propagation of ["operator", "spmm"] as const) {
    const make = () => {
      const m = createLightGCN(TINY, { dim: 4, layers: 2, propagation }, new Rng(1));
      for (const p of m.params.list()) for (let j = 0; j < p.data.length; j++) p.data[j] *= 10; // std 1: losses far from linear
      return m;
    };
    it(`${propagation}: first order, every entry and 3 directions`, () => {
      const { model, params } = make();
      const report = checkGradients(model, params, TINY_BATCH, { mode: fixedMode(true) });
      assert.equal(report.entries.length, 5 * 4 + 7 * 4 + 3);
      assertGradientsMatch(report, 1e-3, 1e-4);
    });
    it(`${propagation}: second order (Hessian-vector products)`, () => {
      const { model, params } = make();
      assertGradientsMatch(checkSecondOrder(model, params, TINY_BATCH, { mode: fixedMode(true) }), 1e-3, 1e-4);
    });
  }
});

for (const backend of ["cpu", "wasm"]) {
  describe(`LightGCN: operator and SpMM paths agree (${backend})`, () => {
    before(async () => {
      const info = await initBackend(backend);
      assert.equal(info.name, backend);
    });

    it("synthetic quick (200 users, 300 items), batch 128", () => {
      const ds = generateSynthetic(SYNTHETIC_PRESETS.quick);
      const ctx: ModelContext = { nUsers: ds.nUsers, nItems: ds.nItems, train: ds.train };
      const t = bprTriples(ds.train, 5);
      const pick = Int32Array.from({ length: 128 }, (_, k) => (k * 37) % t.users.length);
      const batch: Batch = { kind: "bpr", users: pick.map((k) => t.users[k]), pos: pick.map((k) => t.pos[k]), neg: pick.map((k) => t.neg[k]) };
      comparePaths(ctx, batch, all(20), 2e-5);
      assert.equal(tf.memory().numTensors, 0);
    });

    it("ml-100k-sgdl, batch 128", (t) => {
      if (!process.env.SGDL_DATA_DIR) return t.skip("SGDL_DATA_DIR not set");
      const ds = loadDataset("ml-100k-sgdl");
      const ctx: ModelContext = { nUsers: ds.nUsers, nItems: ds.nItems, train: ds.train };
      const triples = bprTriples(ds.train, 7);
      const pick = Int32Array.from({ length: 128 }, (_, k) => (k * 523) % triples.users.length);
      const batch: Batch = { kind: "bpr", users: pick.map((k) => triples.users[k]), pos: pick.map((k) => triples.pos[k]), neg: pick.map((k) => triples.neg[k]) };
      comparePaths(ctx, batch, Int32Array.from([0, 1, 100, 496]), 2e-5);
    });
  });
}
