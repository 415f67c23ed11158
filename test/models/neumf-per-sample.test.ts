/**
 * NeuMF's per-sample gradients in factored form (models/neumf-per-sample.ts)
 * against autodiff: one tf.grads per sample (test/models/gradcheck.ts, a
 * one-hot weight vector) folded onto the parameters, versus the factors
 * (row n of a row leaf scattered onto its table row, outer(x_n, delta_n) for a
 * dense leaf). Plus the factor helpers of models/per-sample-gradients.ts
 * against sums of those per-sample gradients, and the dropout refusal.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import type { Batch, ModelInstance } from "../../src/models/model";
import { createNeuMF } from "../../src/models/neumf";
import { innerWith, weightedGradient, type PerSampleGradients } from "../../src/models/per-sample-gradients";
import { Rng } from "../../src/util/rng";
import { analyticGradient, fixedMode, makeLeaves, type ParamVectors } from "./gradcheck";
import { randomize } from "./model-fixtures";

/** NeuMF 5 users x 6 items, factors 2, 2 layers (MLP embeddings 4, tower 8-4-2), every parameter N(0, 0.6^2) so ReLUs are mixed. */
function tinyNeuMF(dropout = 0, seed = 3): ModelInstance {
  const ctx = { nUsers: 5, nItems: 6, train: fromTriples(5, 6, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], new Uint8Array(5)) };
  const inst = createNeuMF(ctx, { factors: 2, layers: 2, dropout }, new Rng(8));
  randomize(inst.params, 0.6, seed);
  return inst;
}

// user 1 twice, item 2 twice (rows shared across samples), soft label 0.3 on the last sample
const BATCH: Batch = { kind: "bce", users: Int32Array.of(0, 1, 1, 3, 4, 2), items: Int32Array.of(2, 2, 5, 0, 4, 1), labels: Float32Array.of(1, 0, 1, 1, 0, 0.3) };
const N = 6;

/** The factors at the current parameters as plain arrays (losses, rows by key, x and delta by key). */
function factorValues(inst: ModelInstance, batch: Batch, training = false): { losses: Float32Array; rows: Map<string, Float32Array>; x: Map<string, Float32Array | null>; delta: Map<string, Float32Array> } {
  const hook = inst.model.perSampleGradients;
  assert.ok(hook !== undefined, "NeuMF has the hook");
  let out: ReturnType<typeof factorValues> | undefined;
  tf.tidy(() => {
    const g = hook.gradients(makeLeaves(inst.params, inst.model.leaves(batch)), batch, { training, rng: new Rng(1) }) as PerSampleGradients;
    assert.ok(g !== null);
    const rows = new Map(Object.entries(g.rows).map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
    const x = new Map(Object.entries(g.dense).map(([k, f]) => [k, f.x === null ? null : (f.x.dataSync().slice() as Float32Array)]));
    const delta = new Map(Object.entries(g.dense).map(([k, f]) => [k, f.delta.dataSync().slice() as Float32Array]));
    out = { losses: g.losses.dataSync().slice() as Float32Array, rows, x, delta };
  });
  assert.ok(out !== undefined);
  return out;
}

/** Sample n's gradient per parameter from the factors (float64). */
function sampleGradient(inst: ModelInstance, batch: Batch, f: ReturnType<typeof factorValues>, n: number): ParamVectors {
  const out: ParamVectors = new Map();
  for (const p of inst.params.list()) out.set(p.name, new Float64Array(p.data.length));
  for (const s of inst.model.leaves(batch)) {
    const acc = out.get(s.param) as Float64Array;
    if (s.rows !== undefined) {
      const g = f.rows.get(s.key) as Float32Array;
      const d = g.length / N;
      for (let j = 0; j < d; j++) acc[s.rows[n] * d + j] += g[n * d + j];
      continue;
    }
    const delta = f.delta.get(s.key) as Float32Array;
    const out2 = delta.length / N;
    const x = f.x.get(s.key);
    if (x === null || x === undefined) {
      for (let j = 0; j < out2; j++) acc[j] += delta[n * out2 + j];
      continue;
    }
    const inn = x.length / N;
    for (let i = 0; i < inn; i++) for (let j = 0; j < out2; j++) acc[i * out2 + j] += x[n * inn + i] * delta[n * out2 + j];
  }
  return out;
}

/** Largest |a - b| over every parameter, relative to the largest |b|. */
function maxRelErr(a: ParamVectors, b: ParamVectors): { err: number; scale: number } {
  let d = 0;
  let s = 0;
  for (const [name, y] of b) {
    const x = a.get(name) as Float64Array;
    for (let j = 0; j < y.length; j++) {
      d = Math.max(d, Math.abs(x[j] - y[j]));
      s = Math.max(s, Math.abs(y[j]));
    }
  }
  return { err: d / s, scale: s };
}

describe("NeuMF per-sample gradients (cpu)", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("every sample's gradient (all 12 parameters) equals autodiff's one tf.grads per sample, to 1e-5", () => {
    const inst = tinyNeuMF();
    const f = factorValues(inst, BATCH);
    // the losses are the model's own
    const own = tf.tidy(() => inst.model.losses(makeLeaves(inst.params, inst.model.leaves(BATCH)), BATCH, { training: false, rng: new Rng(1) }).dataSync().slice());
    for (let n = 0; n < N; n++) assert.ok(Math.abs(f.losses[n] - own[n]) < 1e-6, `loss ${n}`);
    let active = 0;
    for (let n = 0; n < N; n++) {
      const onehot = new Float32Array(N);
      onehot[n] = 1;
      const auto = analyticGradient(inst.model, inst.params, BATCH, fixedMode(false), onehot);
      const { err, scale } = maxRelErr(sampleGradient(inst, BATCH, f, n), auto);
      assert.ok(scale > 1e-3, `sample ${n}: gradient scale ${scale}`);
      assert.ok(err < 1e-5, `sample ${n}: relative error ${err}`);
      // the ReLU masks differ across samples: some hidden units are off for some samples and on for others
      const g1 = auto.get("mlpB1") as Float64Array;
      active += g1.filter((v) => v !== 0).length;
    }
    assert.ok(active > 0 && active < N * 4, `hidden-layer units on in ${active} of ${N * 4} (sample, unit) pairs: the masks must be mixed`);
  });

  it("the factor helpers: sum_n c_n g_n and <g_n, V> equal sums of the per-sample gradients", () => {
    const inst = tinyNeuMF();
    const fa = factorValues(inst, BATCH);
    const ga = Array.from({ length: N }, (_, n) => sampleGradient(inst, BATCH, fa, n));
    const c = [0.5, -1, 2, 0.25, 1.5, -0.75];
    const hook = inst.model.perSampleGradients;
    assert.ok(hook !== undefined);
    const vRng = new Rng(9);
    for (const key of ["mlpW1", "mlpB2", "predictW", "predictB"]) {
      const p = inst.params.get(key);
      const V = Float32Array.from({ length: p.data.length }, () => vRng.normal());
      let got = { sum: new Float32Array(0), inner: new Float32Array(0) };
      tf.tidy(() => {
        const g = hook.gradients(makeLeaves(inst.params, inst.model.leaves(BATCH)), BATCH, { training: false, rng: new Rng(1) }) as PerSampleGradients;
        got = {
          sum: weightedGradient(g.dense[key], tf.tensor1d(c), p.shape).dataSync().slice() as Float32Array,
          inner: innerWith(g.dense[key], tf.tensor(V, [...p.shape])).dataSync().slice() as Float32Array,
        };
      });
      const close = (x: number, y: number, what: string): void => assert.ok(Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(y)), `${key} ${what}: ${x} vs ${y}`);
      assert.equal(got.sum.length, p.data.length);
      for (let j = 0; j < p.data.length; j++) close(got.sum[j], ga.reduce((s, g, n) => s + c[n] * (g.get(key) as Float64Array)[j], 0), `sum[${j}]`);
      for (let n = 0; n < N; n++) close(got.inner[n], (ga[n].get(key) as Float64Array).reduce((s, x, j) => s + x * V[j], 0), `inner[${n}]`);
    }
  });

  it("with dropout > 0: null in training mode (drawing nothing), the no-dropout gradients with training off", () => {
    const inst = tinyNeuMF(0.4);
    const hook = inst.model.perSampleGradients;
    assert.ok(hook !== undefined);
    const rng = new Rng(12);
    const before = rng.getState();
    assert.equal(hook.applies({ training: true, rng }), false);
    assert.equal(hook.applies({ training: false, rng }), true);
    let g: PerSampleGradients | null | undefined;
    tf.tidy(() => {
      g = hook.gradients(makeLeaves(inst.params, inst.model.leaves(BATCH)), BATCH, { training: true, rng });
    });
    assert.equal(g, null);
    assert.deepEqual(rng.getState(), before, "no draws from the mode's rng");
    const f = factorValues(inst, BATCH, false);
    const onehot = new Float32Array(N);
    onehot[2] = 1;
    const { err } = maxRelErr(sampleGradient(inst, BATCH, f, 2), analyticGradient(inst.model, inst.params, BATCH, fixedMode(false), onehot));
    assert.ok(err < 1e-5, `training off: relative error ${err}`);
  });

  it("refuses a BPR batch", () => {
    const inst = tinyNeuMF();
    const bpr: Batch = { kind: "bpr", users: Int32Array.of(0), pos: Int32Array.of(1), neg: Int32Array.of(2) };
    assert.throws(() => (inst.model.perSampleGradients as NonNullable<typeof inst.model.perSampleGradients>).gradients({}, bpr, { training: false, rng: new Rng(1) }), /BCE batch/);
  });
});
