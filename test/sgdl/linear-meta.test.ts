/**
 * The closed-form Phase II path for linear graph models (linear-meta.ts)
 * against the general nested-gradient path (meta-step.ts, scheduler-inputs.ts
 * with path "general"), which builds theta_hat on the whole tables: the two
 * share no code beyond the model's losses. Plus P P^T against a float64
 * triple loop and hand-computed cosines.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import { createLightGCN } from "../../src/models/lightgcn";
import type { Batch, ForwardMode, LinearRows, ModelContext, ModelInstance } from "../../src/models/model";
import { batchNodes, operatorOf } from "../../src/models/propagation";
import { bprRowCosines, gramBlock, linearFinalRows, linearMetaGradient, linearRowsFor, linearSchedulerInputs, operatorGram } from "../../src/methods/sgdl/linear-meta";
import { metaGradient, resolveMetaOptions } from "../../src/methods/sgdl/meta-step";
import { schedulerInputs } from "../../src/methods/sgdl/scheduler-inputs";
import { psiTensors, weights } from "../../src/methods/sgdl/weighting";
import { perSampleLosses } from "../../src/training/step";
import { Rng } from "../../src/util/rng";
import { assertClose, assertSameGradient, relErr, spreadNet as net } from "./meta-compare";

const mode = (): ForwardMode => ({ training: true, rng: new Rng(5) });

/** 5 users x 7 items, every user with items. */
const GRAPH_PAIRS = [[0, 0], [0, 2], [1, 1], [1, 3], [2, 4], [3, 0], [3, 5], [4, 2], [4, 3], [4, 6]] as const;
const CTX: ModelContext = {
  nUsers: 5,
  nItems: 7,
  train: fromTriples(5, 7, GRAPH_PAIRS.map((p) => p[0]), GRAPH_PAIRS.map((p) => p[1]), new Uint8Array(GRAPH_PAIRS.length)),
};

const bpr = (users: number[], pos: number[], neg: number[]): Batch => ({ kind: "bpr", users: Int32Array.from(users), pos: Int32Array.from(pos), neg: Int32Array.from(neg) });
// repeated users (0, 4) and items (1, 0, 3) within and across the batches; the memorized sample 3 has pos = neg
const TRAIN = bpr([0, 1, 3, 4, 0], [2, 1, 5, 3, 6], [1, 0, 6, 0, 3]);
const MEM = bpr([2, 4, 0, 1], [4, 6, 0, 3], [3, 1, 5, 3]);

/** LightGCN on the operator path, dim 4, embeddings N(0, 0.1^2) scaled to N(0, 0.8^2) so losses and weights spread. */
function tinyLightGCN(): ModelInstance {
  const inst = createLightGCN(CTX, { dim: 4, propagation: "operator" }, new Rng(4));
  for (const name of ["userEmb", "itemEmb"]) {
    const d = inst.params.get(name).data;
    for (let j = 0; j < d.length; j++) d[j] *= 8;
  }
  return inst;
}

describe("linear Phase II path (cpu)", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("LightGCN's hook states a true fact: losses = BPR of P[rows] E0 (float64), operator path only", () => {
    const { model, params } = tinyLightGCN();
    const lin = model.linearRows as LinearRows;
    assert.ok(lin !== undefined);
    assert.equal(lin.nodes, 12);
    assert.equal(lin.operator, operatorOf(CTX.train, 3));
    assert.deepEqual(Array.from(lin.rows(MEM)), Array.from(batchNodes(MEM, 5, 7)));
    const d = 4;
    const e0 = [...params.get("userEmb").data, ...params.get("itemEmb").data];
    const rows = lin.rows(TRAIN);
    const f = Array.from(rows, (r) => Array.from({ length: d }, (_, j) => {
      let s = 0;
      for (let c = 0; c < lin.nodes; c++) s += lin.operator[r * lin.nodes + c] * e0[c * d + j];
      return s;
    }));
    const b = TRAIN.users.length;
    const dot = (x: number[], y: number[]): number => x.reduce((s, v, j) => s + v * y[j], 0);
    const expected = Array.from({ length: b }, (_, k) => Math.log1p(Math.exp(dot(f[k], f[2 * b + k]) - dot(f[k], f[b + k]))));
    assertClose(perSampleLosses(model, params, TRAIN, mode()), expected, "losses");
    assert.equal(createLightGCN(CTX, { dim: 4, propagation: "spmm" }, new Rng(4)).model.linearRows, undefined);
    assert.equal(linearRowsFor(model, [TRAIN, MEM]), lin);
    assert.equal(linearRowsFor(model, [TRAIN, { kind: "bce", users: Int32Array.of(0), items: Int32Array.of(1), labels: Float32Array.of(1) }]), null);
  });

  it("operatorGram is P P^T = P^2 (P symmetric) by a float64 triple loop, cached per operator; gramBlock picks K[rowsA, rowsB]", () => {
    const lin = tinyLightGCN().model.linearRows as LinearRows;
    const n = lin.nodes;
    const p = lin.operator;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs(p[i * n + j] - p[j * n + i]) < 1e-7, "P is symmetric");
    const k = operatorGram(lin);
    let maxK = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < n; c++) s += p[i * n + c] * p[c * n + j];
        maxK = Math.max(maxK, Math.abs(s));
        assert.ok(Math.abs(k[i * n + j] - s) < 1e-6, `K[${i}, ${j}] = ${k[i * n + j]}, P^2 = ${s}`);
      }
    }
    assert.ok(maxK > 0.1);
    assert.equal(operatorGram(lin), k, "second call: the cached array");
    // K[[3, 0], [1, 3, 3]]
    const blk = gramBlock(k, n, Int32Array.of(3, 0), Int32Array.of(1, 3, 3));
    assert.deepEqual(Array.from(blk), [k[3 * n + 1], k[3 * n + 3], k[3 * n + 3], k[1], k[3], k[3]]);
  });

  it("linearFinalRows is P[nodes] E0 (float64), and follows the tables when they change (no stale cache)", () => {
    const { model, params } = tinyLightGCN();
    const lin = model.linearRows as LinearRows;
    const d = 4;
    const brute = (nodes: number[]): number[] => {
      const e0 = [...params.get("userEmb").data, ...params.get("itemEmb").data];
      return nodes.flatMap((r) => Array.from({ length: d }, (_, j) => {
        let s = 0;
        for (let c = 0; c < lin.nodes; c++) s += lin.operator[r * lin.nodes + c] * e0[c * d + j];
        return s;
      }));
    };
    const nodes = [3, 7, 3, 11, 0]; // a repeat: copied per position
    const a = linearFinalRows(lin, params, Int32Array.from(nodes));
    assert.equal(a.dim, d);
    assertClose(a.data, brute(nodes), "rows");
    // partly cached nodes (7, 3) with new ones (5)
    assertClose(linearFinalRows(lin, params, Int32Array.of(7, 5, 3)).data, brute([7, 5, 3]), "rows, partly cached");
    // one table value changes in place (as Adam does): every row that reads it must change
    params.get("itemEmb").data[0] += 0.5; // item 0 = node 5
    const b = linearFinalRows(lin, params, Int32Array.from(nodes));
    assertClose(b.data, brute(nodes), "rows after the change");
    assert.ok(relErr(b.data, a.data).err > 1e-3, "the change did not move the rows: the test cannot see a stale cache");
    // and the meta-gradient after the change is the general path's at the new tables
    const o = resolveMetaOptions({ eta1: 20 }, 1e-3);
    const inp = { model, params, net: net(), train: TRAIN, memorized: MEM, mode: mode() };
    assertSameGradient(linearMetaGradient(inp, o), metaGradient({ ...inp, path: "general" }, o), "after the change");
    assert.throws(() => linearFinalRows(lin, params, Int32Array.of(12)), /outside/);
  });

  it("meta loss, every psi gradient and the selection gradient equal the general path (train / memorized, no / vector / matrix selection, learned / frozen)", () => {
    const { model, params } = tinyLightGCN();
    const wnet = net();
    const vector = tf.tensor1d([1, 0.5, 2, 0]);
    // one-hot rows pick memorized samples 2, 0, 2 (and sample 3, whose pos = neg)
    const matrix = tf.tensor2d([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]);
    let checked = 0;
    for (const assumedFrom of ["train", "memorized"] as const) {
      for (const weighting of ["learned", "frozen"] as const) {
        for (const [name, selection] of [["none", undefined], ["vector", vector], ["matrix", matrix]] as const) {
          const o = resolveMetaOptions({ eta1: 20, assumedFrom, weighting, metaLossWhenFrozen: true }, 1e-3); // large eta1: theta_hat far from theta
          const inp = { model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode(), selection };
          const gen = metaGradient({ ...inp, path: "general" }, o);
          const fast = linearMetaGradient(inp, o);
          assertSameGradient(fast, gen, `${assumedFrom}/${weighting}/${name}`);
          // "auto" dispatches to the fast path: the very same numbers
          assert.deepEqual(metaGradient(inp, o), fast);
          checked++;
        }
      }
    }
    assert.equal(checked, 12);
    tf.dispose([vector, matrix]);
  });

  it("frozen without a selection or a request computes nothing, as the general path", () => {
    const { model, params } = tinyLightGCN();
    const o = resolveMetaOptions({ weighting: "frozen" }, 1e-3);
    const r = linearMetaGradient({ model, params, net: net(), train: TRAIN, memorized: MEM, mode: mode() }, o);
    assert.deepEqual(r, { metaLoss: null, psiGrads: null, selectionGrad: null });
  });

  it("scheduler inputs (loss, cosines 'all' and 'group') equal the general path, from the train or the memorized batch", () => {
    const { model, params } = tinyLightGCN();
    const wnet = net();
    const weightsOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    const ETA1 = 100; // weights ~0.1 here: a large step makes the cosines clearly < 1
    for (const cosine of ["all", "group"] as const) {
      for (const source of [TRAIN, MEM]) {
        const what = `${cosine}/${source === TRAIN ? "train" : "memorized"}`;
        const gen = schedulerInputs(model, params, source, MEM, weightsOf, ETA1, cosine, mode, "general");
        const fast = linearSchedulerInputs(model, params, source, MEM, weightsOf, ETA1, cosine);
        assert.equal(fast.columns, cosine === "all" ? 2 : 3);
        assert.equal(fast.columns, gen.columns);
        assertClose(fast.losses, gen.losses, `${what} losses`);
        for (let c = 0; c < gen.columns; c++) {
          const col = (x: Float32Array): number[] => Array.from({ length: 4 }, (_, m) => x[m * gen.columns + c]);
          assertClose(col(fast.features), col(gen.features), `${what} column ${c}`);
        }
        // the memorized sample 3 has pos = neg: no gradient at all, cosines 0
        for (let c = 1; c < gen.columns; c++) assert.equal(fast.features[3 * gen.columns + c], 0);
        // the cosines are not all 1 (theta_hat moved the rows) and "auto" is the fast path
        assert.ok(Array.from({ length: 3 }, (_, m) => fast.features[m * gen.columns + 1]).some((x) => x < 0.99), `${what}: theta_hat barely moved`);
        assert.deepEqual(schedulerInputs(model, params, source, MEM, weightsOf, ETA1, cosine, mode), fast);
      }
    }
  });

  it("bprRowCosines by hand: d = 2, one sample with distinct items, one with pos = neg", () => {
    // layout [u0, u1, p0, p1, n0, n1]; sample 1 reads item 3 twice, so p1 = n1
    const batch = bpr([0, 1], [2, 3], [5, 3]);
    const fA = Float32Array.from([1, 0, 1, 2, 0, 1, 0.5, 0.5, 1, 1, 0.5, 0.5]);
    const fB = Float32Array.from([1, 1, 3, 1, 0, 1, 0.5, 0.5, 2, 0, 0.5, 0.5]);
    // sample 0, A: u (1,0), p (0,1), n (1,1): x = 1 - 0 = 1, s = sigmoid(1): gu = s(1,0), gp = -s(1,0), gn = s(1,0)
    //           B: u (1,1), p (0,1), n (2,0): x = 2 - 1 = 1, s = sigmoid(1): gu = s(2,-1), gp = -s(1,1), gn = s(1,1)
    // user: (1,0).(2,-1) / (1 sqrt 5) = 2/sqrt5; item: [(-1,0),(1,0)].[(-1,-1),(1,1)] = 2 over sqrt2 * 2 = 1/sqrt2
    // all: dot 2 + 1 + 1 = 4, |a|^2 = 3, |b|^2 = 5 + 2 + 2 = 9: 4 / (3 sqrt 3)
    // sample 1: n - p = 0 and gp + gn = 0: every gradient is zero, cosines 0 (the eps floor)
    const all = bprRowCosines(fA, fB, batch, 2, "all");
    assert.deepEqual(all.groups, ["all"]);
    assertClose(all.cosines, [4 / (3 * Math.sqrt(3)), 0], "all", 1e-6);
    const group = bprRowCosines(fA, fB, batch, 2, "group");
    assert.deepEqual(group.groups, ["user", "item"]);
    assertClose(group.cosines, [2 / Math.sqrt(5), 1 / Math.sqrt(2), 0, 0], "group", 1e-6);
    assert.throws(() => bprRowCosines(fA, fB.subarray(2), batch, 2, "all"), /final rows/);
  });

  it("leaks no tensors (meta-gradient with a selection, learned and frozen; scheduler inputs)", () => {
    const { model, params } = tinyLightGCN();
    const wnet = net();
    const selection = tf.ones([4]);
    const weightsOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    const run = (k: number): void => {
      const o = resolveMetaOptions({ weighting: k % 2 === 0 ? "learned" : "frozen", assumedFrom: k % 3 === 0 ? "memorized" : "train", metaLossWhenFrozen: true }, 1e-3);
      linearMetaGradient({ model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode(), selection: k % 4 < 2 ? selection : undefined }, o);
      linearSchedulerInputs(model, params, k % 2 === 0 ? TRAIN : MEM, MEM, weightsOf, 1e-3, k % 2 === 0 ? "all" : "group");
    };
    run(0); // warm-up
    const n0 = tf.memory().numTensors;
    for (let k = 0; k < 8; k++) run(k);
    assert.equal(tf.memory().numTensors, n0);
    selection.dispose();
  });

  it("refuses a model without linear rows", () => {
    const { model, params } = createLightGCN(CTX, { dim: 4, propagation: "spmm" }, new Rng(4));
    const o = resolveMetaOptions({}, 1e-3);
    assert.throws(() => linearMetaGradient({ model, params, net: net(), train: TRAIN, memorized: MEM, mode: mode() }, o), /no linear rows/);
    assert.throws(() => linearSchedulerInputs(model, params, TRAIN, MEM, () => tf.ones([5]), 1e-3, "all"), /no linear rows/);
  });
});
