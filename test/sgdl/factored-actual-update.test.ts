/**
 * SGDL's actual update (Eq. 9) from per-sample gradient factors
 * (factored-update.ts, NeuMF) against the autodiff one (gradientStep): the
 * gradient it hands Adam against per-sample autodiff gradients summed by hand
 * (rows of repeated users and items folded); parameters and Adam's state after
 * a meta step either way, with and without a selection, learned and frozen
 * psi, factors kept from the step or recomputed; the fallback to autodiff
 * while dropout is drawn or the caller brings its own step; and a short sgdl
 * run on synthetic quick, whose Phase II ends at the same parameters either way.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import type { Dataset } from "../../src/data/dataset";
import { fromTriples } from "../../src/data/interactions";
import { loadDataset } from "../../src/data/registry";
import { createMethod } from "../../src/methods/registry";
import { factoredPointStats, forgetFactoredPoints } from "../../src/methods/sgdl/factored-cache";
import { factoredActualUpdate } from "../../src/methods/sgdl/factored-update";
import { actualUpdateDefault, metaGradient, metaStep, resolveMetaOptions, type MetaStepInputs, type MetaStepResult } from "../../src/methods/sgdl/meta-step";
import { createWeighting, psiTensors, weights, weightsOf, type WeightingNet } from "../../src/methods/sgdl/weighting";
import type { Batch, ForwardMode, ModelInstance } from "../../src/models/model";
import { createNeuMF } from "../../src/models/neumf";
import type { ParamStore } from "../../src/models/ops/embedding-table";
import { createModel } from "../../src/models/registry";
import { Adam } from "../../src/training/adam";
import type { TrainEvent } from "../../src/training/events";
import { gradientStep, objectiveGradients, perSampleLosses } from "../../src/training/step";
import { train, type ModelFactory, type TrainResult } from "../../src/training/trainer";
import { Rng } from "../../src/util/rng";
import { randomize } from "../models/model-fixtures";

const mode = (): ForwardMode => ({ training: true, rng: new Rng(5) });

/** NeuMF 5 users x 6 items, factors 4, 2 layers (tower 16-8-4), every parameter N(0, 0.6^2), so no gradient is trivially zero. */
function tinyNeuMF(dropout = 0): ModelInstance {
  const ctx = { nUsers: 5, nItems: 6, train: fromTriples(5, 6, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], new Uint8Array(5)) };
  const inst = createNeuMF(ctx, { factors: 4, layers: 2, dropout }, new Rng(8));
  randomize(inst.params, 0.6, 3);
  return inst;
}

/** A weighting net with spread psi (PyTorch init, doubled), so the weights differ across samples and psi's step moves them. */
function spreadNet(): WeightingNet {
  const n = createWeighting({ hidden: 5, init: "pytorch" }, new Rng(13));
  for (const p of n.params.list()) for (let j = 0; j < p.data.length; j++) p.data[j] *= 2;
  return n;
}

const bce = (users: number[], items: number[], labels: number[]): Batch => ({ kind: "bce", users: Int32Array.from(users), items: Int32Array.from(items), labels: Float32Array.from(labels) });
// users 0 and 1 twice each, item 2 twice within TRAIN (their rows are folded); users 2, 4 and items 1, 3 not in TRAIN
const TRAIN = bce([0, 1, 1, 3, 0], [2, 2, 5, 0, 4], [1, 0, 1, 1, 0]);
const MEM = bce([1, 4, 0, 2], [2, 1, 4, 5], [1, 1, 0, 0]);

/** Largest |a - b| over the largest |b|; the reference must have some size for the comparison to mean anything. */
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol: number, minScale = 1e-6): void {
  assert.equal(a.length, b.length, what);
  let d = 0;
  let s = 0;
  for (let j = 0; j < b.length; j++) {
    d = Math.max(d, Math.abs(a[j] - b[j]));
    s = Math.max(s, Math.abs(b[j]));
  }
  assert.ok(s > minScale, `${what}: reference scale ${s} is too small for the comparison to mean anything`);
  assert.ok(d / s < tol, `${what}: relative error ${d / s} (scale ${s})`);
}

/** One setup of a meta step: theta, psi, both Adams (the model's after one common plain step on MEM, so its moments are not zero). */
function setup(dropout = 0): { inst: ModelInstance; net: WeightingNet; optimizer: Adam; metaOptimizer: Adam; before: ParamStore } {
  const inst = tinyNeuMF(dropout);
  // eps 10: the step is ~ lr m / 10, linear in the gradient (a small eps makes Adam's first steps ~ lr sign(g))
  const optimizer = new Adam({ lr: 0.1, eps: 10 });
  gradientStep(inst.model, inst.params, optimizer, MEM, { training: false, rng: new Rng(1) });
  return { inst, net: spreadNet(), optimizer, metaOptimizer: new Adam({ lr: 0.05 }), before: inst.params.clone() };
}

/** A meta step of a setup on (TRAIN, MEM). */
function step(s: ReturnType<typeof setup>, extra: Partial<MetaStepInputs>, options: Parameters<typeof metaStep>[1]): MetaStepResult {
  const inp: MetaStepInputs = { model: s.inst.model, params: s.inst.params, optimizer: s.optimizer, net: s.net, metaOptimizer: s.metaOptimizer, train: TRAIN, memorized: MEM, mode: mode(), ...extra };
  return metaStep(inp, options);
}

/** Two setups after a meta step with the factored and with the autodiff actual update: the same parameters, Adam state and report. */
function assertSameStep(fast: ReturnType<typeof setup>, slow: ReturnType<typeof setup>, a: MetaStepResult, b: MetaStepResult, what: string): void {
  assert.equal(a.actualUpdate, "factored", what);
  assert.equal(b.actualUpdate, "autodiff", what);
  // everything before the actual update is the same computation: bit for bit
  assert.equal(a.metaLoss, b.metaLoss, what);
  assert.deepEqual(a.selectionGrad, b.selectionGrad, what);
  for (const p of fast.net.params.list()) assert.deepEqual(p.data, slow.net.params.get(p.name).data, `${what}: psi '${p.name}'`);
  assertClose(a.losses, b.losses, `${what}: losses`, 1e-6);
  assertClose(a.weights, b.weights, `${what}: weights`, 1e-6);
  assertClose([a.loss], [b.loss], `${what}: loss`, 1e-6);
  assert.equal(a.size, b.size);
  assert.equal(fast.optimizer.iterations, slow.optimizer.iterations, `${what}: Adam's t`);
  for (const p of fast.inst.params.list()) {
    const q = slow.inst.params.get(p.name);
    const before = fast.before.get(p.name).data;
    // the update itself (after - before), so that the tolerance is relative to what the step changed
    const du = p.data.map((x, j) => x - before[j]);
    const dv = q.data.map((x, j) => x - before[j]);
    assertClose(du, dv, `${what}: update of '${p.name}'`, 1e-5);
    const ma = fast.optimizer.moments(p);
    const mb = slow.optimizer.moments(q);
    assert.ok(ma !== undefined && mb !== undefined, `${what}: moments of '${p.name}'`);
    assertClose(ma.m, mb.m, `${what}: Adam m of '${p.name}'`, 1e-5);
    assertClose(ma.v, mb.v, `${what}: Adam v of '${p.name}'`, 1e-5, 1e-12);
  }
}

describe("SGDL's actual update from per-sample gradient factors (cpu)", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("hands Adam sum_k (w_k / |B|) grad L_k: per-sample autodiff gradients summed by hand, repeated rows folded, untouched rows left alone", () => {
    const { model, params } = tinyNeuMF();
    const net = spreadNet();
    const before = params.clone();
    const losses = perSampleLosses(model, params, TRAIN, mode());
    const w = weightsOf(net, losses);
    // beta1 = 0: after one step Adam's m is the gradient it was given
    const adam = new Adam({ lr: 0.01, beta1: 0 });
    forgetFactoredPoints();
    const res = factoredActualUpdate({ model, params, optimizer: adam, train: TRAIN, mode: mode() }, (l) => weights(psiTensors(net.params), l));
    assert.ok(res !== null);
    assert.equal(res.kept, false, "nothing kept: one pass of the hook");
    assert.equal(adam.iterations, 1);
    // the reference: each sample's own gradient by autodiff at theta (a batch of one), times w_k / 5, summed in float64
    const want = new Map<string, Float64Array>();
    for (const p of before.list()) want.set(p.name, new Float64Array(p.data.length));
    const contribution: Record<string, number[]> = {}; // user 1's userGmf row, per sample
    for (let k = 0; k < 5; k++) {
      const one = bce([TRAIN.users[k]], [(TRAIN as { items: Int32Array }).items[k]], [(TRAIN as { labels: Float32Array }).labels[k]]);
      const { grads } = objectiveGradients(model, before, one, mode());
      for (const [p, g] of grads) {
        const sum = want.get(p.name) as Float64Array;
        const c = w[k] / 5;
        if (g.kind === "dense") g.grad.forEach((x, j) => (sum[j] += c * x));
        else {
          const d = g.grad.length / g.rows.length;
          g.rows.forEach((r, n) => {
            for (let j = 0; j < d; j++) sum[r * d + j] += c * g.grad[n * d + j];
          });
          if (p.name === "userGmf" && TRAIN.users[k] === 1) contribution[k] = Array.from(g.grad.subarray(0, 4), (x) => c * x);
        }
      }
    }
    for (const p of params.list()) {
      const m = adam.moments(p);
      assert.ok(m !== undefined, `'${p.name}' got no gradient`);
      assertClose(m.m, want.get(p.name) as Float64Array, `gradient of '${p.name}'`, 1e-5);
    }
    // user 1 is read by samples 1 and 2: its row's gradient is the sum of both, and each part shows
    const row1 = Array.from((adam.moments(params.get("userGmf")) as { m: Float32Array }).m.subarray(4, 8));
    const [c1, c2] = [contribution[1], contribution[2]];
    assertClose(row1, c1.map((x, j) => x + c2[j]), "user 1's folded row", 1e-5);
    assert.ok(Math.max(...c1.map(Math.abs)) > 1e-3 && Math.max(...c2.map(Math.abs)) > 1e-3, "both samples contribute to user 1's row");
    // rows no sample reads (users 2, 4; items 1, 3): untouched, no moments
    for (const [name, rows, d] of [["userGmf", [2, 4], 4], ["itemGmf", [1, 3], 4], ["userMlp", [2, 4], 8], ["itemMlp", [1, 3], 8]] as const) {
      const m = (adam.moments(params.get(name)) as { m: Float32Array }).m;
      for (const r of rows) {
        for (let j = r * d; j < (r + 1) * d; j++) {
          assert.equal(m[j], 0, `${name} row ${r}: moment`);
          assert.equal(params.get(name).data[j], before.get(name).data[j], `${name} row ${r}: value`);
        }
      }
    }
    // the loss reported: (1/|B|) sum_k w_k L_k at theta, here in float64
    const wl = Array.from(losses).reduce((s, l, k) => s + w[k] * l, 0) / 5;
    assert.ok(Math.abs(res.loss - wl) < 1e-6, `loss ${res.loss} vs ${wl}`);
    assertClose(res.losses, losses, "losses", 1e-6);
    assertClose(res.weights, w, "weights", 1e-6);
  });

  for (const weighting of ["learned", "frozen"] as const) {
    for (const withSelection of [false, true]) {
      it(`a meta step's parameters and Adam state equal the autodiff actual update's (${weighting} psi, ${withSelection ? "with" : "no"} selection)`, () => {
        const fast = setup();
        const slow = setup();
        const selection = withSelection ? tf.tensor2d([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]) : undefined;
        const options = { weighting, eta1: 5, metaLr: 0.05 };
        forgetFactoredPoints();
        const a = step(fast, { selection }, options);
        forgetFactoredPoints();
        const b = step(slow, { selection, actualUpdate: "autodiff" }, options);
        assertSameStep(fast, slow, a, b, `${weighting}, ${withSelection ? "selection" : "none"}`);
        if (weighting === "learned") {
          const psi0 = spreadNet();
          const moved = fast.net.params.list().some((p) => p.data.some((x, j) => x !== psi0.params.get(p.name).data[j]));
          assert.ok(moved, "psi moved before the actual update (Eq. 9 takes the new psi)");
        }
        selection?.dispose();
      });
    }
  }

  it("B_t's factors: kept from the step's meta-gradient at this theta, else recomputed (meta loss at the memorized batch's assumed update): the same update", () => {
    const { model, params } = tinyNeuMF();
    const net = spreadNet();
    const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(net.params), l);
    const inp = { model, params, optimizer: new Adam({ lr: 0.01 }), train: TRAIN, mode: mode() };
    forgetFactoredPoints();
    assert.equal(factoredActualUpdate(inp, wOf, true), null, "nothing kept yet: keptOnly declines, and does nothing");
    assert.equal(inp.optimizer.iterations, 0);
    metaGradient({ model, params, net, train: TRAIN, memorized: MEM, mode: mode() }, resolveMetaOptions({ eta1: 5 }, 0.01));
    const kept = factoredActualUpdate(inp, wOf, true);
    assert.ok(kept !== null && kept.kept, "the meta-gradient's factors of B_t at theta are reused");
    assert.equal(factoredActualUpdate(inp, wOf, true), null, "theta moved: the kept factors no longer match");
    // a meta step whose meta-gradient never reads B_t (assumed update from B_m): recomputed, still the autodiff update's numbers
    const fast = setup();
    const slow = setup();
    const options = { eta1: 5, metaLr: 0.05, assumedFrom: "memorized" as const };
    forgetFactoredPoints();
    const a = step(fast, {}, options);
    assert.equal(factoredPointStats().thetaHits, 0, "B_t was not kept");
    const b = step(slow, { actualUpdate: "autodiff" }, options);
    assertSameStep(fast, slow, a, b, "recomputed");
  });

  it("falls back to autodiff while dropout is drawn, with a caller's own step, or when asked (the very same numbers as gradientStep)", () => {
    // dropout 0.3 in training mode: the hook declines, the step is gradientStep's (masks from the same stream)
    const d1 = setup(0.3);
    const d2 = setup(0.3);
    const a = step(d1, {}, { eta1: 5 });
    const b = step(d2, { actualUpdate: "autodiff" }, { eta1: 5 });
    assert.equal(a.actualUpdate, "autodiff");
    assert.deepEqual(a.weights, b.weights);
    assert.equal(a.loss, b.loss);
    for (const p of d1.inst.params.list()) assert.deepEqual(p.data, d2.inst.params.get(p.name).data, `dropout: '${p.name}'`);
    assert.ok(d1.inst.params.list().some((p) => p.data.some((x, j) => x !== d1.before.get(p.name).data[j])), "the step moved theta");
    // a caller's actualStep is always used (the factored update cannot know what it does)
    const s = setup();
    let calls = 0;
    const own = step(s, { actualStep: (batch, objective) => (calls++, gradientStep(s.inst.model, s.inst.params, s.optimizer, batch, mode(), objective)) }, { eta1: 5 });
    assert.equal(calls, 1);
    assert.equal(own.actualUpdate, "autodiff");
    // the process-wide default (whole-run comparisons), restored after
    const t = setup();
    actualUpdateDefault.path = "autodiff";
    try {
      assert.equal(step(t, {}, { eta1: 5 }).actualUpdate, "autodiff");
    } finally {
      actualUpdateDefault.path = "auto";
    }
    assert.equal(step(t, {}, { eta1: 5 }).actualUpdate, "factored");
    // a bad path is refused before anything moves
    const u = setup();
    assert.throws(() => step(u, { actualUpdate: "fast" as "auto" }, { eta1: 5 }), /actualUpdate must be "auto" or "autodiff"/);
    assert.equal(u.optimizer.iterations, 1, "no step taken");
    for (const p of u.net.params.list()) assert.deepEqual(p.data, spreadNet().params.get(p.name).data, "psi unchanged");
  });

  it("leaks no tensors (kept, recomputed, with and without a selection)", () => {
    const s = setup();
    const selection = tf.ones([4]);
    const run = (k: number): void => {
      if (k % 3 === 0) forgetFactoredPoints();
      step(s, { selection: k % 2 === 0 ? selection : undefined }, { eta1: 5, assumedFrom: k % 4 === 1 ? "memorized" : "train" });
    };
    run(0); // warm-up
    const n0 = tf.memory().numTensors;
    for (let k = 0; k < 8; k++) run(k);
    assert.equal(tf.memory().numTensors, n0);
    selection.dispose();
  });
});

describe("sgdl runs with the factored actual update (wasm, synthetic quick, NeuMF)", () => {
  let data: Dataset;
  const neumf: ModelFactory = (mc, rng) => createModel("neumf", mc, { lr: 1e-3, factors: 8, layers: 2 }, rng);
  // paper options, per-user normalisation, +100 points (Eq. 3's threshold 0): the switch at epoch 1, then one Phase II epoch (26 steps of 512)
  const options = { normalize: "per-user", shift: 1 };
  const settings = { epochs: 2, batchSize: 512, lr: 1e-3, evalFreq: 1, stopStep: 10, ks: [5, 20] };
  const run = async (path: "auto" | "autodiff", extra: Record<string, boolean> = {}): Promise<{ res: TrainResult; hits: number; phase2Steps: number }> => {
    const events: TrainEvent[] = [];
    forgetFactoredPoints();
    actualUpdateDefault.path = path;
    try {
      const res = await train({ dataset: data, createModel: neumf, method: createMethod("sgdl", { ...options, ...extra }), settings, seed: 2020, onEvent: (e) => void events.push(e) });
      const phase2Epochs = new Set(res.epochs.filter((e) => e.phase === "self-guided").map((e) => e.epoch));
      const phase2Steps = events.filter((e) => e.type === "batch" && phase2Epochs.has(e.epoch)).length;
      return { res, hits: factoredPointStats().thetaHits, phase2Steps };
    } finally {
      actualUpdateDefault.path = "auto";
    }
  };

  before(async () => {
    await initBackend("wasm");
    data = loadDataset("synthetic", { preset: "quick" });
  });

  it("a Phase II epoch ends at the same parameters with the factored and the autodiff actual update", async () => {
    const atSwitch = await run("auto", { stopAtSwitch: true });
    const fast = await run("auto");
    const slow = await run("autodiff");
    assert.deepEqual(fast.res.epochs.map((e) => e.phase), ["memorization", "self-guided"]);
    assert.ok(fast.phase2Steps > 10, `${fast.phase2Steps} Phase II steps`);
    // every Phase II step of the factored run took B_t's kept factors (one more kept lookup per step than the autodiff run's)
    assert.equal(fast.hits - slow.hits, fast.phase2Steps);
    // the same trajectory up to float32 summation order: differences ~1e-7 of what Phase II changed
    for (const p of fast.res.params.list()) {
      const q = slow.res.params.get(p.name).data;
      const s = atSwitch.res.params.get(p.name).data;
      const moved = p.data.map((x, j) => x - s[j]);
      assertClose(moved, q.map((x, j) => x - s[j]), `Phase II's change of '${p.name}'`, 1e-4, 1e-4);
    }
    assert.ok(Math.abs(fast.res.epochs[1].loss - slow.res.epochs[1].loss) < 1e-6, `Phase II loss ${fast.res.epochs[1].loss} vs ${slow.res.epochs[1].loss}`);
  });
});
