/**
 * The factored Phase II path (factored-meta.ts: per-sample gradient factors,
 * NeuMF's hook) against the general nested-gradient path (meta-step.ts,
 * scheduler-inputs.ts with path "general"), which shares with it only the
 * model's losses: meta loss, d l_meta / d psi, d l_meta / d selection and the
 * scheduler's features, for every option. Plus a finite-difference check of
 * d l_meta / d psi, the dense-covering cosines against autodiff per-sample
 * gradients at theta and a brute-force theta_hat, and the fallback to the
 * general path while dropout is drawn.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import type { Batch, ForwardMode, ModelInstance } from "../../src/models/model";
import { createNeuMF } from "../../src/models/neumf";
import { factoredFor, factoredMetaGradient, factoredSchedulerInputs } from "../../src/methods/sgdl/factored-meta";
import { factoredPointStats, forgetFactoredPoints } from "../../src/methods/sgdl/factored-cache";
import { concatBatches } from "../../src/methods/sgdl/factored-points";
import { metaGradient, resolveMetaOptions, type MetaGradient } from "../../src/methods/sgdl/meta-step";
import { schedulerInputs } from "../../src/methods/sgdl/scheduler-inputs";
import { psiTensors, weights, weightsOf } from "../../src/methods/sgdl/weighting";
import { objectiveGradients, perSampleLosses } from "../../src/training/step";
import { Rng } from "../../src/util/rng";
import { assertClose, assertSameGradient, relErr, spreadNet as net } from "./meta-compare";
import { analyticGradient, fixedMode, type ParamVectors } from "../models/gradcheck";
import { randomize } from "../models/model-fixtures";

const mode = (): ForwardMode => ({ training: true, rng: new Rng(5) });

/** NeuMF 5 users x 6 items, factors 4, 2 layers (tower 16-8-4), every parameter N(0, 0.6^2) (losses 0.02-1.3, no sample's tower all dead). */
function tinyNeuMF(dropout = 0): ModelInstance {
  const ctx = { nUsers: 5, nItems: 6, train: fromTriples(5, 6, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], new Uint8Array(5)) };
  const inst = createNeuMF(ctx, { factors: 4, layers: 2, dropout }, new Rng(8));
  randomize(inst.params, 0.6, 3);
  return inst;
}

const bce = (users: number[], items: number[], labels: number[]): Batch => ({ kind: "bce", users: Int32Array.from(users), items: Int32Array.from(items), labels: Float32Array.from(labels) });
// users 0, 1 and items 2, 4 shared between the batches, user 1 and item 2 twice within TRAIN; user 4 / item 1 only in MEM
const TRAIN = bce([0, 1, 1, 3, 0], [2, 2, 5, 0, 4], [1, 0, 1, 1, 0]);
const MEM = bce([1, 4, 0, 2], [2, 1, 4, 5], [1, 1, 0, 0]);

/** Per sample, the cosine between two per-parameter gradients over the named parameters (float64, eps 1e-8). */
function cosineOver(a: ParamVectors, b: ParamVectors, names: readonly string[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const name of names) {
    const x = a.get(name) as Float64Array;
    const y = b.get(name) as Float64Array;
    for (let j = 0; j < x.length; j++) {
      dot += x[j] * y[j];
      na += x[j] * x[j];
      nb += y[j] * y[j];
    }
  }
  return dot / Math.max(Math.sqrt(na * nb), 1e-8);
}

describe("factored Phase II path (cpu)", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("applies to NeuMF on BCE batches; concatBatches keeps both batches in order", () => {
    const { model } = tinyNeuMF();
    assert.equal(factoredFor(model, [TRAIN, MEM]), model.perSampleGradients);
    const both = concatBatches(TRAIN, MEM);
    assert.equal(both.kind, "bce");
    assert.deepEqual(Array.from(both.users), [0, 1, 1, 3, 0, 1, 4, 0, 2]);
    if (both.kind === "bce") {
      assert.deepEqual(Array.from(both.items), [2, 2, 5, 0, 4, 2, 1, 4, 5]);
      assert.deepEqual(Array.from(both.labels), [1, 0, 1, 1, 0, 1, 1, 0, 0]);
    }
    assert.throws(() => concatBatches(TRAIN, { kind: "bpr", users: Int32Array.of(0), pos: Int32Array.of(1), neg: Int32Array.of(2) }), /kinds/);
  });

  it("meta loss, every psi gradient and the selection gradient equal the general path (train / memorized, no / vector / matrix selection, learned / frozen)", () => {
    const { model, params } = tinyNeuMF();
    const wnet = net();
    const vector = tf.tensor1d([1, 0.5, 2, 0]);
    const matrix = tf.tensor2d([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]]); // picks memorized samples 2, 0, 2
    let checked = 0;
    for (const assumedFrom of ["train", "memorized"] as const) {
      for (const weighting of ["learned", "frozen"] as const) {
        for (const [name, selection] of [["none", undefined], ["vector", vector], ["matrix", matrix]] as const) {
          const o = resolveMetaOptions({ eta1: 5, assumedFrom, weighting, metaLossWhenFrozen: true }, 1e-3); // large eta1: theta_hat far from theta
          const inp = { model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode(), selection };
          const gen = metaGradient({ ...inp, path: "general" }, o);
          const fast = factoredMetaGradient(inp, o);
          assert.ok(fast !== null);
          assertSameGradient(fast, gen, `${assumedFrom}/${weighting}/${name}`);
          assert.deepEqual(metaGradient(inp, o), fast, "'auto' dispatches to the factored path");
          checked++;
        }
      }
    }
    assert.equal(checked, 12);
    // frozen without a selection or a request: nothing computed, as the general path
    const frozen = resolveMetaOptions({ weighting: "frozen" }, 1e-3);
    assert.deepEqual(factoredMetaGradient({ model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode() }, frozen), { metaLoss: null, psiGrads: null, selectionGrad: null });
    tf.dispose([vector, matrix]);
  });

  it("d l_meta / d psi matches central differences of the factored meta loss along it (float32, h = 1e-2)", () => {
    const { model, params } = tinyNeuMF();
    const wnet = net();
    const o = resolveMetaOptions({ eta1: 5 }, 1e-3);
    const inp = { model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode() };
    const g = factoredMetaGradient(inp, o);
    assert.ok(g !== null && g.psiGrads !== null);
    const grads = g.psiGrads;
    const norm = Math.sqrt(grads.reduce((s, x) => s + x.reduce((t, v) => t + v * v, 0), 0));
    assert.ok(norm > 1e-3, `|d l_meta / d psi| = ${norm}: too small to check`);
    const list = wnet.params.list();
    const at = (h: number): number => {
      const saved = list.map((p) => p.data.slice());
      list.forEach((p, i) => {
        for (let j = 0; j < p.data.length; j++) p.data[j] += (h * grads[i][j]) / norm;
      });
      const r = factoredMetaGradient(inp, o);
      list.forEach((p, i) => p.data.set(saved[i]));
      return (r as MetaGradient).metaLoss as number;
    };
    const h = 1e-2;
    const fd = (at(h) - at(-h)) / (2 * h); // the directional derivative along grad / |grad| is |grad|
    assert.ok(Math.abs(fd - norm) < 2e-3 * norm + 1e-5, `finite difference ${fd} vs |grad| ${norm}`);
  });

  it("scheduler inputs (loss, cosines 'all' and 'group' over the row leaves) equal the general path, from the train or the memorized batch", () => {
    const { model, params } = tinyNeuMF();
    const wnet = net();
    const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    const ETA1 = 20; // weights ~0.03-0.1 here: a large step makes the cosines clearly < 1
    for (const cosine of ["all", "group"] as const) {
      for (const source of [TRAIN, MEM]) {
        const what = `${cosine}/${source === TRAIN ? "train" : "memorized"}`;
        const gen = schedulerInputs(model, params, source, MEM, wOf, ETA1, cosine, mode, "general");
        const fast = factoredSchedulerInputs(model, params, source, MEM, wOf, ETA1, cosine, mode);
        assert.ok(fast !== null);
        assert.equal(gen.columns, cosine === "all" ? 2 : 5); // loss + userGmf, itemGmf, userMlp, itemMlp
        assert.equal(fast.columns, gen.columns);
        assertClose(fast.losses, gen.losses, `${what} losses`);
        for (let c = 0; c < gen.columns; c++) {
          const col = (x: Float32Array): number[] => Array.from({ length: 4 }, (_, m) => x[m * gen.columns + c]);
          assertClose(col(fast.features), col(gen.features), `${what} column ${c}`);
        }
        assert.ok(Array.from({ length: 4 }, (_, m) => fast.features[m * gen.columns + 1]).some((x) => x < 0.99), `${what}: theta_hat barely moved`);
        assert.deepEqual(schedulerInputs(model, params, source, MEM, wOf, ETA1, cosine, mode), fast, "'auto' dispatches to the factored path");
      }
    }
  });

  it("coverDense: cosines over every parameter equal those of autodiff per-sample gradients at theta and a brute-force theta_hat", () => {
    const { model, params } = tinyNeuMF();
    const wnet = net();
    const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    const ETA1 = 20; // weights ~0.03-0.1 here: a large step makes the cosines clearly < 1
    // theta_hat: the trainer's full gradient of mean(w L) on TRAIN, w = g(L(theta)) as constants
    const w = weightsOf(wnet, perSampleLosses(model, params, TRAIN, mode()));
    const { grads } = objectiveGradients(model, params, TRAIN, mode(), (l) => tf.mean(tf.mul(tf.tensor1d(w), l)) as tf.Scalar);
    const hat = params.clone();
    for (const [p, g] of grads) {
      const q = hat.get(p.name);
      if (g.kind === "dense") for (let j = 0; j < q.data.length; j++) q.data[j] -= ETA1 * g.grad[j];
      else g.rows.forEach((r, n) => {
        for (let j = 0; j < q.shape[1]; j++) q.data[r * q.shape[1] + j] -= ETA1 * g.grad[n * q.shape[1] + j];
      });
    }
    const names = params.list().map((p) => p.name); // userGmf, itemGmf, userMlp, itemMlp, then the dense ones in leaf order
    assert.deepEqual(names, ["userGmf", "itemGmf", "userMlp", "itemMlp", "mlpW1", "mlpB1", "mlpW2", "mlpB2", "predictW", "predictB"]);
    const perSample = (ps: typeof params, m: number): ParamVectors => {
      const onehot = new Float32Array(4);
      onehot[m] = 1;
      return analyticGradient(model, ps, MEM, fixedMode(false), onehot);
    };
    const all = factoredSchedulerInputs(model, params, TRAIN, MEM, wOf, ETA1, "all", mode, { coverDense: true });
    const group = factoredSchedulerInputs(model, params, TRAIN, MEM, wOf, ETA1, "group", mode, { coverDense: true });
    assert.ok(all !== null && group !== null);
    assert.equal(all.columns, 2);
    assert.equal(group.columns, 1 + names.length);
    const rowsOnly = factoredSchedulerInputs(model, params, TRAIN, MEM, wOf, ETA1, "all", mode) as { features: Float32Array };
    let differs = false;
    for (let m = 0; m < 4; m++) {
      const a = perSample(params, m);
      const b = perSample(hat, m);
      assertClose([all.features[2 * m + 1]], [cosineOver(a, b, names)], `all, sample ${m}`, 1e-5, 1e-3);
      names.forEach((name, k) => {
        const want = cosineOver(a, b, [name]);
        assert.ok(Math.abs(group.features[m * group.columns + 1 + k] - want) < 1e-5, `group ${name}, sample ${m}: ${group.features[m * group.columns + 1 + k]} vs ${want}`);
      });
      if (Math.abs(rowsOnly.features[2 * m + 1] - all.features[2 * m + 1]) > 1e-3) differs = true;
    }
    assert.ok(differs, "covering the dense leaves must change some cosine");
    // the general path cannot cover dense leaves
    assert.throws(() => schedulerInputs(model, params, TRAIN, MEM, wOf, ETA1, "all", mode, "general", { coverDense: true }), /dense leaves/);
  });

  it("a step's meta-gradient reuses the scheduler inputs' points (bit-identical to a cold one); a changed theta or psi is a miss, never stale", () => {
    const { model, params } = tinyNeuMF();
    const wnet = net();
    const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    const selection = tf.tensor1d([1, 0.5, 2, 1]);
    const o = resolveMetaOptions({ eta1: 20 }, 1e-3);
    const inp = { model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode(), selection };
    forgetFactoredPoints();
    const cold = factoredMetaGradient(inp, o);
    assert.deepEqual(factoredPointStats(), { thetaHits: 0, thetaMisses: 1, hatHits: 0, hatMisses: 1 });
    // a step: scheduler inputs (training off, as phase2.ts), then the meta step at the same theta and psi
    forgetFactoredPoints();
    factoredSchedulerInputs(model, params, TRAIN, MEM, wOf, 20, "all", () => ({ training: false, rng: new Rng(1) }));
    const warm = factoredMetaGradient(inp, o);
    assert.deepEqual(factoredPointStats(), { thetaHits: 1, thetaMisses: 2, hatHits: 1, hatMisses: 1 });
    assert.deepEqual(warm, cold);
    // psi moves (as after psi's Adam step): theta is reused, theta_hat is not
    const b2 = wnet.params.get("b2").data;
    b2[0] += 0.5;
    const moved = factoredMetaGradient(inp, o) as MetaGradient;
    assert.deepEqual(factoredPointStats(), { thetaHits: 2, thetaMisses: 2, hatHits: 1, hatMisses: 2 });
    assertSameGradient(moved, metaGradient({ ...inp, path: "general" }, o), "after psi moved");
    assert.ok(relErr(moved.psiGrads?.[0] as Float32Array, (cold as MetaGradient).psiGrads?.[0] as Float32Array).err > 1e-3, "psi's change must show");
    b2[0] -= 0.5;
    // theta moves in place (as the actual update): one table row the memorized batch reads, and a dense weight
    params.get("itemMlp").data[2 * 8 + 3] += 0.3; // item 2 (MLP embeddings of 8): read by TRAIN and MEM
    params.get("mlpW2").data[5] -= 0.2;
    const after = factoredMetaGradient(inp, o) as MetaGradient;
    assert.equal(factoredPointStats().thetaHits, 2, "theta changed: no hit");
    assertSameGradient(after, metaGradient({ ...inp, path: "general" }, o), "after theta moved");
    selection.dispose();
  });

  it("falls back to the general path while dropout is drawn (training mode, dropout > 0): the very same numbers", () => {
    const { model, params } = tinyNeuMF(0.3);
    const wnet = net();
    const selection = tf.tensor1d([1, 0.5, 2, 1]);
    const o = resolveMetaOptions({ eta1: 5 }, 1e-3);
    const inp = { model, params, net: wnet, train: TRAIN, memorized: MEM, selection };
    assert.equal(factoredMetaGradient({ ...inp, mode: mode() }, o), null);
    assert.deepEqual(metaGradient({ ...inp, mode: mode() }, o), metaGradient({ ...inp, mode: mode(), path: "general" }, o));
    const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    assert.equal(factoredSchedulerInputs(model, params, TRAIN, MEM, wOf, 5, "all", mode), null);
    assert.deepEqual(schedulerInputs(model, params, TRAIN, MEM, wOf, 5, "all", mode), schedulerInputs(model, params, TRAIN, MEM, wOf, 5, "all", mode, "general"));
    // with training off (the scheduler's own forward mode) dropout is not drawn and the factored path applies
    const off = (): ForwardMode => ({ training: false, rng: new Rng(5) });
    const fast = factoredSchedulerInputs(model, params, TRAIN, MEM, wOf, 5, "group", off);
    assert.ok(fast !== null);
    assertClose(fast.features, schedulerInputs(model, params, TRAIN, MEM, wOf, 5, "group", off, "general").features, "training off");
    selection.dispose();
  });

  it("leaks no tensors (meta-gradient with and without a selection, learned and frozen; scheduler inputs)", () => {
    const { model, params } = tinyNeuMF();
    const wnet = net();
    const selection = tf.ones([4]);
    const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    const run = (k: number): void => {
      const o = resolveMetaOptions({ weighting: k % 2 === 0 ? "learned" : "frozen", assumedFrom: k % 3 === 0 ? "memorized" : "train", metaLossWhenFrozen: true }, 1e-3);
      factoredMetaGradient({ model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode(), selection: k % 4 < 2 ? selection : undefined }, o);
      factoredSchedulerInputs(model, params, k % 2 === 0 ? TRAIN : MEM, MEM, wOf, 1e-3, k % 2 === 0 ? "all" : "group", mode, { coverDense: k % 3 === 0 });
    };
    run(0); // warm-up
    const n0 = tf.memory().numTensors;
    for (let k = 0; k < 8; k++) run(k);
    assert.equal(tf.memory().numTensors, n0);
    selection.dispose();
  });
});

describe("factored Phase II path (wasm)", () => {
  before(async () => {
    await initBackend("wasm");
  });

  it("a scheduler-inputs + meta-gradient step equals the general path on wasm (the backend the runs use)", () => {
    const { model, params } = tinyNeuMF();
    const wnet = net();
    const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(wnet.params), l);
    const matrix = tf.tensor2d([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]);
    for (const cosine of ["all", "group"] as const) {
      forgetFactoredPoints();
      const fast = factoredSchedulerInputs(model, params, TRAIN, MEM, wOf, 20, cosine, mode);
      assert.ok(fast !== null);
      assertClose(fast.features, schedulerInputs(model, params, TRAIN, MEM, wOf, 20, cosine, mode, "general").features, `wasm inputs ${cosine}`, 1e-4);
      const o = resolveMetaOptions({ eta1: 20 }, 1e-3);
      const inp = { model, params, net: wnet, train: TRAIN, memorized: MEM, mode: mode(), selection: matrix };
      const warm = factoredMetaGradient(inp, o);
      assert.equal(factoredPointStats().hatHits, 1, "the meta-gradient reused the inputs' theta_hat");
      assert.ok(warm !== null);
      assertSameGradient(warm, metaGradient({ ...inp, path: "general" }, o), `wasm meta (${cosine})`);
    }
    matrix.dispose();
  });
});
