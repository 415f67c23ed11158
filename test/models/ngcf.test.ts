import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples, type Interactions } from "../../src/data/interactions";
import { generateSynthetic, SYNTHETIC_PRESETS } from "../../src/data/synthetic";
import type { Batch, ModelContext } from "../../src/models/model";
import { createNGCF, dropoutAdjacency, dropoutMask, dropPositions, NGCF_DEFAULTS, ngcfLayerParams } from "../../src/models/ngcf";
import { mirrorIndex, normalizedAdjacency, nnz, structurePair, submatrix, toDense, transpose, type Csr } from "../../src/models/ops/csr";
import { positionsOf, receptiveField, type RowSet } from "../../src/models/propagation";
import type { ParamStore } from "../../src/models/ops/embedding-table";
import { Rng } from "../../src/util/rng";
import { analyticGradient, assertGradientsMatch, checkGradients, checkSecondOrder, fixedMode, sampleLosses, sampleWeights } from "./gradcheck";

function context(nUsers: number, nItems: number, pairs: ReadonlyArray<readonly [number, number]>): ModelContext {
  const train = fromTriples(nUsers, nItems, pairs.map((p) => p[0]), pairs.map((p) => p[1]), new Uint8Array(pairs.length));
  return { nUsers, nItems, train };
}

const TINY = context(5, 7, [[0, 0], [0, 2], [1, 1], [1, 3], [2, 4], [3, 0], [3, 5], [4, 2], [4, 3], [4, 6]]);
const TINY_BATCH: Batch = { kind: "bpr", users: Int32Array.from([0, 1, 3, 4, 4]), pos: Int32Array.from([2, 1, 5, 3, 6]), neg: Int32Array.from([1, 0, 6, 0, 1]) };

/** Dense float64 L = D^-1/2 A D^-1/2, from the pairs directly (independent of csr.ts). */
function denseLaplacian(train: Interactions): Float64Array {
  const n = train.nUsers + train.nItems;
  const deg = new Float64Array(n);
  const edges: Array<[number, number]> = [];
  for (let u = 0; u < train.nUsers; u++) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      edges.push([u, train.nUsers + train.items[k]]);
      deg[u]++;
      deg[train.nUsers + train.items[k]]++;
    }
  }
  const l = new Float64Array(n * n);
  for (const [u, v] of edges) l[u * n + v] = l[v * n + u] = 1 / Math.sqrt(deg[u] * deg[v]);
  return l;
}

/** NGCF's final embeddings [N x d (K+1)] in float64 by plain loops over Eq. 7, without dropout. */
function referenceFinal(ctx: ModelContext, params: ParamStore, d: number, layers: number, slope: number): Float64Array {
  const n = ctx.nUsers + ctx.nItems;
  const l = denseLaplacian(ctx.train);
  let e = new Float64Array(n * d);
  e.set(params.get("userEmb").data);
  e.set(params.get("itemEmb").data, ctx.nUsers * d);
  const out: Float64Array[] = [e];
  for (let k = 0; k < layers; k++) {
    const names = ngcfLayerParams(k);
    const w1 = params.get(names.w1).data;
    const w2 = params.get(names.w2).data;
    const b = params.get(names.b).data;
    const side = new Float64Array(n * d);
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) for (let j = 0; j < d; j++) side[r * d + j] += l[r * n + c] * e[c * d + j];
    const next = new Float64Array(n * d);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < d; j++) {
        let pre = b[j];
        for (let i = 0; i < d; i++) {
          pre += (side[r * d + i] + e[r * d + i]) * w1[i * d + j] + side[r * d + i] * e[r * d + i] * w2[i * d + j];
        }
        next[r * d + j] = pre > 0 ? pre : slope * pre;
      }
    }
    e = next;
    out.push(e);
  }
  const w = d * (layers + 1);
  const final = new Float64Array(n * w);
  for (let r = 0; r < n; r++) out.forEach((x, k) => final.set(x.subarray(r * d, (r + 1) * d), r * w + k * d));
  return final;
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

const softplus = (x: number): number => Math.log1p(Math.exp(x));

for (const backend of ["cpu", "wasm"]) {
  describe(`NGCF forward (${backend})`, () => {
    before(async () => {
      const info = await initBackend(backend);
      assert.equal(info.name, backend);
    });

    it("by hand: one user, two items, dim 1, one layer", () => {
      // u0 - i0 is the only edge (L = 1 there), i1 is isolated. E0: u0 = 1, i0 = 2, i1 = -1; W1 = 0.5, W2 = 0.25, b = 0.1.
      // L E0 = (2, 1, 0); (L + I) E0 = (3, 3, -1); L E0 * E0 = (2, 2, 0)
      // pre = 0.5 (3, 3, -1) + 0.25 (2, 2, 0) + 0.1 = (2.1, 2.1, -0.4); E1 = LeakyReLU(pre) = (2.1, 2.1, -0.08)
      // final: u0 = (1, 2.1), i0 = (2, 2.1), i1 = (-1, -0.08); s(u0, i0) = 2 + 4.41 = 6.41, s(u0, i1) = -1 - 0.168 = -1.168
      const ctx = context(1, 2, [[0, 0]]);
      const { model, params } = createNGCF(ctx, { dim: 1, layers: 1 }, new Rng(1));
      params.get("userEmb").data.set([1]);
      params.get("itemEmb").data.set([2, -1]);
      params.get("W1_0").data.set([0.5]);
      params.get("W2_0").data.set([0.25]);
      params.get("b_0").data.set([0.1]);
      const batch: Batch = { kind: "bpr", users: Int32Array.from([0, 0]), pos: Int32Array.from([0, 1]), neg: Int32Array.from([1, 0]) };
      // softplus(-1.168 - 6.41) = softplus(-7.578) = 0.0005114525531061515; softplus(7.578) = 7.578511452553107
      const got = sampleLosses(model, params, batch, fixedMode(false));
      assert.ok(Math.abs(got[0] - 0.0005114525531061515) < 1e-6 * 0.0005114525531061515 + 1e-9, `loss 0: ${got[0]}`);
      assertClose([got[1]], [7.578511452553107], 1e-6, "loss 1");
      assertClose(model.scorer(params)(Int32Array.from([0])), [6.41, -1.168], 1e-6, "scores");
    });

    it("matches a float64 loop implementation of Eq. 7 (3 layers, dim 8), losses and scores", () => {
      const ds = generateSynthetic({ ...SYNTHETIC_PRESETS.quick, users: 30, items: 80, interactions: 450 });
      const ctx: ModelContext = { nUsers: ds.nUsers, nItems: ds.nItems, train: ds.train };
      const { model, params } = createNGCF(ctx, { dim: 8, layers: 3 }, new Rng(4));
      const d = 8;
      const width = d * 4;
      const ref = referenceFinal(ctx, params, d, 3, 0.2);
      const rng = new Rng(5);
      const users = Int32Array.from({ length: 16 }, () => rng.int(ctx.nUsers));
      const pos = Int32Array.from({ length: 16 }, () => rng.int(ctx.nItems));
      const neg = Int32Array.from({ length: 16 }, () => rng.int(ctx.nItems));
      const score = (u: number, i: number): number => {
        let s = 0;
        for (let j = 0; j < width; j++) s += ref[u * width + j] * ref[(ctx.nUsers + i) * width + j];
        return s;
      };
      const want = Array.from(users, (u, k) => softplus(score(u, neg[k]) - score(u, pos[k])));
      // eval mode: no dropout, whatever the rng
      assertClose(sampleLosses(model, params, { kind: "bpr", users, pos, neg }, fixedMode(false, 123)), want, 1e-5, "losses");
      const wantScores = Array.from({ length: 3 * ctx.nItems }, (_, k) => score(Math.floor(k / ctx.nItems), k % ctx.nItems));
      assertClose(model.scorer(params)(Int32Array.from([0, 1, 2])), wantScores, 1e-5, "scores");
      assert.equal(tf.memory().numTensors, 0);
    });

    it("training mode: dropout repeats with the seed, changes with it, and is off in eval mode", () => {
      const { model, params } = createNGCF(TINY, { dim: 4, layers: 2 }, new Rng(1));
      const a = sampleLosses(model, params, TINY_BATCH, fixedMode(true, 1));
      const b = sampleLosses(model, params, TINY_BATCH, fixedMode(true, 1));
      const c = sampleLosses(model, params, TINY_BATCH, fixedMode(true, 2));
      const e1 = sampleLosses(model, params, TINY_BATCH, fixedMode(false, 1));
      const e2 = sampleLosses(model, params, TINY_BATCH, fixedMode(false, 2));
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
      assert.notDeepEqual(a, e1);
      assert.deepEqual(e1, e2);
      const off = createNGCF(TINY, { dim: 4, layers: 2, nodeDropout: 0, messageDropout: 0 }, new Rng(1));
      assert.deepEqual(sampleLosses(off.model, off.params, TINY_BATCH, fixedMode(true, 1)), e1);
    });
  });
}

describe("NGCF dropout", () => {
  before(async () => {
    await initBackend("cpu");
  });
  const ds = generateSynthetic(SYNTHETIC_PRESETS.quick);
  const adj = normalizedAdjacency(ds.train);
  const total = nnz(adj);

  it("dropPositions: independent drops with probability p (rate, adjacent pairs, run lengths)", () => {
    for (const p of [0.1, 0.5]) {
      const n = 200000;
      const drops = dropPositions(n, p, new Rng(12));
      assert.deepEqual(dropPositions(n, p, new Rng(12)), drops);
      const hit = new Uint8Array(n);
      drops.forEach((k, m) => {
        assert.ok(k >= 0 && k < n && (m === 0 || k > drops[m - 1]), `position ${k} at ${m}`);
        hit[k] = 1;
      });
      // binomial count: mean n p, sd sqrt(n p (1 - p)); 5 sd
      assert.ok(Math.abs(drops.length - n * p) < 5 * Math.sqrt(n * p * (1 - p)), `p ${p}: ${drops.length} drops of ${n}`);
      // both of (k, k + 1) dropped: mean (n - 1) p^2; overlapping pairs: var = n (p^2 + 2 p^3 - 3 p^4)
      let pairs = 0;
      for (let k = 0; k + 1 < n; k++) pairs += hit[k] & hit[k + 1];
      const pairSd = Math.sqrt(n * (p * p + 2 * p ** 3 - 3 * p ** 4));
      assert.ok(Math.abs(pairs - (n - 1) * p * p) < 5 * pairSd, `p ${p}: ${pairs} adjacent pairs`);
      // kept runs between drops: P(run >= j) = (1 - p)^j; j = 5: 0.59049 for p = 0.1, 0.03125 for p = 0.5
      let long = 0;
      for (let m = 1; m < drops.length; m++) if (drops[m] - drops[m - 1] - 1 >= 5) long++;
      const q = (1 - p) ** 5;
      const runs = drops.length - 1;
      assert.ok(Math.abs(long / runs - q) < 5 * Math.sqrt((q * (1 - q)) / runs), `p ${p}: share of runs >= 5 is ${long / runs}, want ${q}`);
    }
    assert.equal(dropPositions(1000, 0, new Rng(1)).length, 0);
    assert.throws(() => dropPositions(10, 1, new Rng(1)), /\[0, 1\)/);
  });

  it("edge mode zeroes each entry with probability p, scales the rest by 1 / (1 - p); the transpose comes with it", () => {
    const { a: dropped, at } = dropoutAdjacency(adj, 0.1, "edge", new Rng(3));
    assert.equal(dropped.indices, adj.indices); // L's structure, shared
    let zeros = 0;
    for (let k = 0; k < total; k++) {
      if (dropped.values[k] === 0) zeros++;
      else assert.equal(dropped.values[k], Math.fround(adj.values[k] / 0.9));
    }
    // binomial: sd = sqrt(0.9 * 0.1 / nnz); allow 5 sd
    assert.ok(Math.abs(zeros / total - 0.1) < 5 * Math.sqrt(0.09 / total), `dropped ${zeros} of ${total}`);
    assert.deepEqual(Array.from(toDense(at)), Array.from(toDense(transpose(dropped))));
    assert.notDeepEqual(Array.from(at.values), Array.from(dropped.values)); // edge mode: L' is not symmetric
    assert.deepEqual(dropoutAdjacency(adj, 0.1, "edge", new Rng(3)).a, dropped);
    assert.deepEqual(Array.from(dropoutAdjacency(adj, 0, "edge", new Rng(3)).a.values), Array.from(adj.values));
    assert.throws(() => dropoutAdjacency(adj, 1, "edge", new Rng(3)), /\[0, 1\)/);
  });

  it("node mode drops whole columns (a node's outgoing messages) with probability p", () => {
    const { a: dropped, at } = dropoutAdjacency(adj, 0.1, "node", new Rng(3));
    const colState = new Map<number, boolean>(); // column -> dropped
    for (let k = 0; k < total; k++) {
      const gone = dropped.values[k] === 0;
      const seen = colState.get(adj.indices[k]);
      assert.ok(seen === undefined || seen === gone, `column ${adj.indices[k]} partly dropped`);
      colState.set(adj.indices[k], gone);
    }
    const share = [...colState.values()].filter((g) => !g).length / colState.size;
    const sd = Math.sqrt(0.09 / colState.size);
    assert.ok(Math.abs(share - 0.9) < 5 * sd, `kept ${share} of ${colState.size} nodes`);
    assert.deepEqual(Array.from(toDense(at)), Array.from(toDense(transpose(dropped))));
  });

  it("message dropout mask: zeros with probability p, else 1 / (1 - p); a row subset is those rows of the full mask", () => {
    const m = dropoutMask(100, 64, 0.1, new Rng(8));
    const v = m.dataSync();
    m.dispose();
    let zeros = 0;
    for (const x of v) {
      if (x === 0) zeros++;
      else assert.equal(x, Math.fround(1 / 0.9));
    }
    const sd = Math.sqrt(0.09 / v.length);
    assert.ok(Math.abs(zeros / v.length - 0.1) < 5 * sd, `zeros ${zeros / v.length}`);
    const ids = Int32Array.from([3, 17, 18, 99]);
    const pos = new Int32Array(100).fill(-1);
    ids.forEach((r, k) => (pos[r] = k));
    const sub = dropoutMask(100, 64, 0.1, new Rng(8), { ids, pos });
    const want = Array.from(ids).flatMap((r) => Array.from(v.subarray(r * 64, (r + 1) * 64)));
    assert.deepEqual(Array.from(sub.dataSync()), want);
    sub.dispose();
  });
});

describe("Receptive field and sparse helpers, by hand", () => {
  // path graph u0 - i0 - u1 - i1 - u2 (nodes u0 = 0, u1 = 1, u2 = 2, i0 = 3, i1 = 4)
  const path = normalizedAdjacency(fromTriples(3, 2, [0, 1, 1, 2], [0, 0, 1, 1], new Uint8Array(4)));

  it("receptiveField: R_K = the nodes, R_k adds the neighbours; whole once above the share", () => {
    const f = receptiveField(path, Int32Array.from([0, 0]), 2, 1);
    assert.deepEqual(f.map((r) => (r === null ? null : Array.from(r.ids))), [[0, 1, 3], [0, 3], [0]]);
    assert.deepEqual(Array.from((f[0] as RowSet).pos), [0, 1, -1, 2, -1]);
    // 5 nodes, share 0.5: R_0 would hold 3 > 2.5 nodes, so it is taken whole
    assert.deepEqual(receptiveField(path, Int32Array.from([0]), 2, 0.5).map((r) => (r === null ? null : Array.from(r.ids))), [null, [0, 3], [0]]);
    assert.deepEqual(positionsOf(Int32Array.from([3, 0, 3]), f[1]), Int32Array.from([1, 0, 1]));
    assert.throws(() => positionsOf(Int32Array.from([1]), f[1]), /node 1 is not in the row set/);
  });

  it("mirrorIndex and structurePair: the transpose on L's own structure", () => {
    // entries (row, col): k0 (0,3) k1 (1,3) k2 (1,4) k3 (2,4) k4 (3,0) k5 (3,1) k6 (4,1) k7 (4,2)
    assert.deepEqual(Array.from(path.indices), [3, 3, 4, 4, 0, 1, 1, 2]);
    const mirror = mirrorIndex(path);
    assert.deepEqual(Array.from(mirror), [4, 5, 6, 7, 0, 1, 2, 3]);
    const values = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const { a, at } = structurePair(path, values, mirror);
    assert.deepEqual(Array.from(at.values), [5, 6, 7, 8, 1, 2, 3, 4]);
    assert.deepEqual(Array.from(toDense(at)), Array.from(toDense(transpose(a))));
    const oneWay: Csr = { rows: 2, cols: 2, indptr: Int32Array.from([0, 1, 1]), indices: Int32Array.from([1]), values: Float32Array.from([1]) };
    assert.throws(() => mirrorIndex(oneWay), /entry \(0, 1\) has no mirror/);
  });

  it("submatrix: chosen rows, columns renumbered by position", () => {
    // L(0, 3) = 1 / sqrt(deg u0 deg i0) = 1 / sqrt(1 * 2) = 0.70710678; L(1, 3) = L(1, 4) = 1 / sqrt(2 * 2) = 0.5
    // rows [1, 0], columns {0, 1, 3, 4} at positions 0..3: row 1 -> (2: 0.5), (3: 0.5); row 0 -> (2: 0.70710678)
    const sub = submatrix(path, Int32Array.from([1, 0]), Int32Array.from([0, 1, -1, 2, 3]), 4);
    assert.equal(sub.rows, 2);
    assert.equal(sub.cols, 4);
    assert.deepEqual(Array.from(sub.indptr), [0, 2, 3]);
    assert.deepEqual(Array.from(sub.indices), [2, 3, 2]);
    assert.deepEqual(Array.from(sub.values), [0.5, 0.5, Math.fround(Math.SQRT1_2)]);
    // row 3 (i0) reaches u1 = column 1, which is not chosen
    assert.throws(() => submatrix(path, Int32Array.from([3]), Int32Array.from([0, -1, -1, 1, 2]), 3), /row 3 has column 1/);
  });
});

describe("NGCF parameters and description", () => {
  it("tables, per-layer Xavier weights and biases; defaults from the paper", () => {
    const { model, params } = createNGCF(TINY, {}, new Rng(1));
    assert.deepEqual(
      params.list().map((p) => `${p.name}:${p.kind}:${p.shape.join("x")}`),
      ["userEmb:table:5x64", "itemEmb:table:7x64", "W1_0:dense:64x64", "W2_0:dense:64x64", "b_0:dense:1x64",
        "W1_1:dense:64x64", "W2_1:dense:64x64", "b_1:dense:1x64", "W1_2:dense:64x64", "W2_2:dense:64x64", "b_2:dense:1x64"],
    );
    assert.deepEqual(model.leaves(TINY_BATCH).map((s) => s.key), params.list().map((p) => p.name));
    const bound = Math.sqrt(6 / 128); // Xavier-uniform bound of a 64 x 64 weight
    for (const x of params.get("W1_0").data) assert.ok(Math.abs(x) <= bound);
    const d = model.describe();
    assert.equal(d.propagation, "spmm");
    assert.equal(d.propagationRows, "batch receptive field");
    assert.equal(createNGCF(TINY, { propagationRows: "all" }, new Rng(1)).model.describe().propagationRows, "all nodes");
    assert.equal(d.nodeDropout, 0.1);
    assert.equal(d.edges, 10);
    assert.equal(NGCF_DEFAULTS.lr, 1e-4);
    assert.throws(() => createNGCF(TINY, { messageDropout: 1 }, new Rng(1)), /messageDropout must be in \[0, 1\)/);
  });
});

/** A sparse random graph: every user has `perUser` distinct random items, so a small batch's receptive field is a small part of it. */
function sparseContext(nUsers: number, nItems: number, perUser: number, seed: number): ModelContext {
  const rng = new Rng(seed);
  const pairs: Array<[number, number]> = [];
  for (let u = 0; u < nUsers; u++) {
    const items = new Set<number>();
    while (items.size < perUser) items.add(rng.int(nItems));
    for (const i of items) pairs.push([u, i]);
  }
  return context(nUsers, nItems, pairs);
}

/** Max |a - b| over max |b|, over all parameters. */
function relativeGap(a: Map<string, Float64Array>, b: Map<string, Float64Array>): { gap: number; scale: number } {
  let worst = 0;
  let scale = 0;
  for (const [name, want] of b) {
    const got = a.get(name) as Float64Array;
    for (let k = 0; k < want.length; k++) {
      worst = Math.max(worst, Math.abs(got[k] - want[k]));
      scale = Math.max(scale, Math.abs(want[k]));
    }
  }
  return { gap: worst / scale, scale };
}

describe("NGCF on the batch's receptive field (cpu): the full propagation's losses and gradients", () => {
  before(async () => {
    await initBackend("cpu");
  });
  const ctx = sparseContext(40, 60, 3, 21);
  const batch: Batch = { kind: "bpr", users: Int32Array.from([4, 31, 4]), pos: Int32Array.from([7, 50, 12]), neg: Int32Array.from([58, 3, 7]) };
  const adj = normalizedAdjacency(ctx.train);

  for (const layers of [2, 3]) {
    it(`${layers} layers: same losses and gradients (all leaves) as propagating all nodes, without and with dropout`, () => {
      // the premise: the last two layers are restricted, so both the csrRows and the submatrix paths run
      const fields = receptiveField(adj, Int32Array.from([4, 31, 40 + 7, 40 + 50, 40 + 12, 40 + 58, 40 + 3]), layers, 0.5);
      assert.ok(fields[layers] !== null && fields[layers - 1] !== null, `receptive field sizes ${fields.map((f) => f?.ids.length ?? "all").join(", ")}`);
      if (layers === 3) assert.equal(fields[0], null, "premise: R_0 is taken whole for 3 layers");
      if (layers === 2) assert.notEqual(fields[0], null, "premise: R_0 is a subset for 2 layers");
      const field = createNGCF(ctx, { dim: 8, layers }, new Rng(4));
      const all = createNGCF(ctx, { dim: 8, layers, propagationRows: "all" }, new Rng(4));
      const weights = sampleWeights(3);
      for (const training of [false, true]) {
        const mode = fixedMode(training, 9);
        const got = sampleLosses(field.model, field.params, batch, mode);
        assertClose(got, sampleLosses(all.model, all.params, batch, mode), 1e-5, `losses, training ${training}`);
        if (training) assert.notDeepEqual(got, sampleLosses(field.model, field.params, batch, fixedMode(false))); // dropout did act
        const { gap, scale } = relativeGap(analyticGradient(field.model, field.params, batch, mode, weights), analyticGradient(all.model, all.params, batch, mode, weights));
        assert.ok(scale > 0 && gap <= 1e-5, `gradients, training ${training}: relative gap ${gap}`);
      }
    });
  }

  // h = 1e-3 as above; a sample of entries per parameter (100 nodes) and 3 directions
  for (const training of [false, true]) {
    it(`finite differences on the restricted path, first and second order, ${training ? "with dropout" : "eval mode"}`, () => {
      const { model, params } = createNGCF(ctx, { dim: 4, layers: 2 }, new Rng(1));
      assertGradientsMatch(checkGradients(model, params, batch, { mode: fixedMode(training), h: 1e-3, entries: 12 }), 2e-3, 2e-3);
      assertGradientsMatch(checkSecondOrder(model, params, batch, { mode: fixedMode(training), h: 1e-3 }), 2e-3, 2e-3);
    });
  }
});

describe("NGCF gradients against finite differences (cpu, 5 users, 7 items, dim 4, 2 layers)", () => {
  before(async () => {
    await initBackend("cpu");
  });
  // h = 1e-3: LeakyReLU has kinks, and a larger step crosses some of them
  for (const training of [false, true]) {
    it(`first order, every entry and 3 directions, ${training ? "with dropout (fixed seed)" : "eval mode"}`, () => {
      const { model, params } = createNGCF(TINY, { dim: 4, layers: 2 }, new Rng(1));
      const report = checkGradients(model, params, TINY_BATCH, { mode: fixedMode(training), h: 1e-3 });
      assert.equal(report.entries.length, 5 * 4 + 7 * 4 + 2 * (16 + 16 + 4) + 3);
      assertGradientsMatch(report, 2e-3, 2e-3);
    });
    it(`second order (Hessian-vector products), ${training ? "with dropout" : "eval mode"}`, () => {
      const { model, params } = createNGCF(TINY, { dim: 4, layers: 2 }, new Rng(1));
      assertGradientsMatch(checkSecondOrder(model, params, TINY_BATCH, { mode: fixedMode(training), h: 1e-3 }), 2e-3, 2e-3);
    });
  }
});
