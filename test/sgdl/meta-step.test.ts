import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import { createCDAE } from "../../src/models/cdae";
import { createLightGCN } from "../../src/models/lightgcn";
import { createMF } from "../../src/models/mf";
import type { Batch, ForwardMode, Model, ModelContext, ModelInstance } from "../../src/models/model";
import { createNeuMF } from "../../src/models/neumf";
import { createNGCF } from "../../src/models/ngcf";
import type { ParamStore } from "../../src/models/ops/embedding-table";
import { assumedLeaves, metaGradient, metaObjective, metaStep, resolveMetaOptions, type MetaStepOptions } from "../../src/methods/sgdl/meta-step";
import { createWeighting, weights, weightsOf, type WeightingNet } from "../../src/methods/sgdl/weighting";
import { Adam } from "../../src/training/adam";
import { gradientStep, objectiveGradients, perSampleLosses } from "../../src/training/step";
import { Rng } from "../../src/util/rng";
import { analyticGradient, fixedMode, makeLeaves, type ParamVectors } from "../models/gradcheck";

const mode = (): ForwardMode => ({ training: true, rng: new Rng(5) });
const modeFactory = fixedMode(true);

/** A context whose train split has one interaction per user (MF and NeuMF never read it). */
function context(nUsers: number, nItems: number, pairs?: ReadonlyArray<readonly [number, number]>): ModelContext {
  const ps = pairs ?? Array.from({ length: nUsers }, (_, u) => [u, u % nItems] as const);
  return { nUsers, nItems, train: fromTriples(nUsers, nItems, ps.map((p) => p[0]), ps.map((p) => p[1]), new Uint8Array(ps.length)) };
}

const bpr = (users: number[], pos: number[], neg: number[]): Batch => ({ kind: "bpr", users: Int32Array.from(users), pos: Int32Array.from(pos), neg: Int32Array.from(neg) });
const bce = (users: number[], items: number[], labels: number[]): Batch => ({ kind: "bce", users: Int32Array.from(users), items: Int32Array.from(items), labels: Float32Array.from(labels) });

/**
 * MF, 4 users x 8 items, dim 3, N(0, 0.5^2). The training batch repeats user 0
 * and item 1 (as positive and negative); the memorized batch shares users 0, 2
 * and items 0-4 with it, while user 3 and item 7 appear only in the memorized batch.
 */
function tinyMF(): ModelInstance {
  return createMF(context(4, 8), { dim: 3, initStd: 0.5 }, new Rng(21));
}
const MF_TRAIN = bpr([0, 1, 0, 2], [1, 2, 3, 1], [4, 1, 5, 0]);
const MF_MEM = bpr([0, 3, 2], [1, 7, 4], [2, 3, 0]);

/** NeuMF, 5 users x 6 items, factors 2, 2 layers (MLP embeddings 4), embeddings N(0, 0.01^2) scaled up to N(0, 0.5^2). */
function tinyNeuMF(): ModelInstance {
  const inst = createNeuMF(context(5, 6), { factors: 2, layers: 2 }, new Rng(8));
  for (const name of ["userGmf", "itemGmf", "userMlp", "itemMlp"]) {
    const d = inst.params.get(name).data;
    for (let j = 0; j < d.length; j++) d[j] *= 50;
  }
  return inst;
}
const NEUMF_TRAIN = bce([0, 1, 1, 3, 0], [2, 2, 5, 0, 4], [1, 0, 1, 1, 0]);
const NEUMF_MEM = bce([1, 4, 0, 2], [2, 1, 4, 5], [1, 1, 1, 0]);

/** LightGCN on a 5-user, 7-item graph (operator path), embeddings N(0, 0.1^2). */
function tinyLightGCN(): ModelInstance {
  return createLightGCN(context(5, 7, GRAPH_PAIRS), {}, new Rng(4));
}
const LGN_TRAIN = bpr([0, 1, 3, 4], [2, 1, 5, 3], [1, 0, 6, 0]);
const LGN_MEM = bpr([2, 4, 0], [4, 6, 0], [3, 1, 5]);

/** The 5-user, 7-item graph of the graph and CDAE checks (every user has items; CDAE reads unions of users' item rows). */
const GRAPH_PAIRS = [[0, 0], [0, 2], [1, 1], [1, 3], [2, 4], [3, 0], [3, 5], [4, 2], [4, 3], [4, 6]] as const;

/** CDAE without corruption (deterministic), hidden 3: row leaves of unique rows (item unions, distinct users), per-position rows and a dense bias. */
function tinyCDAE(): ModelInstance {
  return createCDAE(context(5, 7, GRAPH_PAIRS), { hidden: 3, dropout: 0 }, new Rng(6));
}
const CDAE_TRAIN = bce([0, 1, 1, 3], [2, 1, 6, 5], [1, 1, 0, 1]);
const CDAE_MEM = bce([1, 4, 2], [3, 2, 0], [1, 1, 0]);

/** NGCF without dropout (deterministic), dim 4, 2 layers: whole tables through nonlinear layers. */
function tinyNGCF(): ModelInstance {
  return createNGCF(context(5, 7, GRAPH_PAIRS), { dim: 4, layers: 2, nodeDropout: 0, messageDropout: 0 }, new Rng(2));
}

/** theta_hat by brute force: the trainer's full gradient of mean(w L) (rows folded by scatter-add), subtracted from a copy of every parameter. */
function bruteHat(model: Model, params: ParamStore, batch: Batch, w: Float32Array, eta1: number): ParamStore {
  const { grads } = objectiveGradients(model, params, batch, mode(), (l) => tf.mean(tf.mul(tf.tensor1d(w), l)) as tf.Scalar);
  const hat = params.clone();
  for (const [p, g] of grads) {
    const q = hat.get(p.name);
    if (g.kind === "dense") {
      for (let j = 0; j < q.data.length; j++) q.data[j] -= eta1 * g.grad[j];
    } else {
      const dim = q.shape[1];
      g.rows.forEach((r, n) => {
        for (let j = 0; j < dim; j++) q.data[r * dim + j] -= eta1 * g.grad[n * dim + j];
      });
    }
  }
  return hat;
}

/** The memorized batch's leaves from assumedLeaves with constant weights w, by key. */
function hatLeaves(model: Model, params: ParamStore, source: Batch, target: Batch, w: Float32Array, eta1: number): Map<string, Float32Array> {
  const specs = model.leaves(target);
  const ts = tf.tidy(() => {
    const leaves = assumedLeaves(model, params, source, target, () => tf.tensor1d(w), eta1, mode());
    return specs.map((s) => leaves[s.key]);
  });
  const out = new Map(specs.map((s, k) => [s.key, ts[k].dataSync().slice() as Float32Array]));
  tf.dispose(ts);
  return out;
}

/** d l_meta / d w_k with constant per-sample weights w (a leaf of the outer tape), and l_meta. */
function metaGradW(model: Model, params: ParamStore, source: Batch, target: Batch, w: Float32Array, eta1: number): { value: number; grad: Float32Array } {
  const wt = tf.tensor1d(w);
  const { value, grads } = tf.engine().gradients(() => metaObjective(model, params, source, target, () => wt, eta1, mode()), [wt], undefined, true);
  const out = { value: value.dataSync()[0], grad: grads[0].dataSync().slice() as Float32Array };
  tf.dispose([wt, value, grads[0]]);
  return out;
}

/** sum over parameters of a . b (float64). */
function dotParams(a: ParamVectors, b: ParamVectors): number {
  let s = 0;
  for (const [name, x] of a) {
    const y = b.get(name) as Float64Array;
    for (let j = 0; j < x.length; j++) s += x[j] * y[j];
  }
  return s;
}

/** Eq. 16's factor per training sample, from first-order gradients only: -eta1/|B_t| <grad L_meta(theta_hat), grad L_k(theta)>. */
function eq16(model: Model, params: ParamStore, train: Batch, mem: Batch, w: Float32Array, eta1: number): Float64Array {
  const hat = bruteHat(model, params, train, w, eta1);
  const bm = mem.users.length;
  const gMeta = analyticGradient(model, hat, mem, modeFactory, new Float32Array(bm).fill(1 / bm));
  const bt = train.users.length;
  return Float64Array.from({ length: bt }, (_, k) => {
    const onehot = new Float32Array(bt);
    onehot[k] = 1;
    return (-eta1 / bt) * dotParams(gMeta, analyticGradient(model, params, train, modeFactory, onehot));
  });
}

/** Largest |a - b| relative to the largest |b| (and that largest |b|). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; scale: number } {
  let d = 0;
  let s = 0;
  for (let j = 0; j < b.length; j++) {
    d = Math.max(d, Math.abs(a[j] - b[j]));
    s = Math.max(s, Math.abs(b[j]));
  }
  return { err: d / s, scale: s };
}

// ---------- an independent float64 MF (BPR) for the meta-gradient check ----------

type Psi = { w1: number[]; b1: number[]; w2: number[]; b2: number[] };
const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const rowOf = (a: Float64Array, r: number, d: number): Float64Array => a.subarray(r * d, (r + 1) * d);
const dotv = (a: Float64Array, b: Float64Array): number => a.reduce((s, x, j) => s + x * b[j], 0);

/** g(L; psi) in float64. */
function g64(psi: Psi, l: number): number {
  let y = psi.b2[0];
  for (let j = 0; j < psi.w1.length; j++) y += psi.w2[j] * Math.max(0, l * psi.w1[j] + psi.b1[j]);
  return sig(y);
}

/**
 * l_meta(psi) for MF with BPR in float64, closed form: x_k = u.(q_neg - q_pos),
 * L_k = softplus(x_k), dL_k/dx_k = sigmoid(x_k); with c_k = g(L_k) sigmoid(x_k) / |B|:
 * dU[u] += c_k (q_neg - q_pos), dQ[pos] -= c_k u, dQ[neg] += c_k u; theta_hat = theta - eta1 d;
 * l_meta = mean_m softplus(x_m(theta_hat)).
 */
function mfMetaLoss64(U0: Float32Array, Q0: Float32Array, d: number, psi: Psi, src: Batch, mem: Batch, eta1: number): number {
  if (src.kind !== "bpr" || mem.kind !== "bpr") throw new Error("bpr only");
  const U = Float64Array.from(U0);
  const Q = Float64Array.from(Q0);
  const dU = new Float64Array(U.length);
  const dQ = new Float64Array(Q.length);
  const B = src.users.length;
  for (let k = 0; k < B; k++) {
    const u = rowOf(U, src.users[k], d);
    const qp = rowOf(Q, src.pos[k], d);
    const qn = rowOf(Q, src.neg[k], d);
    const x = dotv(u, qn) - dotv(u, qp);
    const c = (g64(psi, softplus(x)) * sig(x)) / B;
    for (let j = 0; j < d; j++) {
      dU[src.users[k] * d + j] += c * (qn[j] - qp[j]);
      dQ[src.pos[k] * d + j] -= c * u[j];
      dQ[src.neg[k] * d + j] += c * u[j];
    }
  }
  const Uh = U.map((x, j) => x - eta1 * dU[j]);
  const Qh = Q.map((x, j) => x - eta1 * dQ[j]);
  let s = 0;
  for (let m = 0; m < mem.users.length; m++) {
    const u = rowOf(Uh, mem.users[m], d);
    s += softplus(dotv(u, rowOf(Qh, mem.neg[m], d)) - dotv(u, rowOf(Qh, mem.pos[m], d)));
  }
  return s / mem.users.length;
}

/** psi of a net as float64 arrays. */
function psi64(net: WeightingNet): Psi {
  const get = (n: string) => Array.from(net.params.get(n).data);
  return { w1: get("w1"), b1: get("b1"), w2: get("w2"), b2: get("b2") };
}

const NAMES = ["w1", "b1", "w2", "b2"] as const;

describe("SGDL meta step (Eq. 7-9)", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("meta-gradient d l_meta / d psi agrees with directional differences of an independent float64 MF", () => {
    const { model, params } = tinyMF();
    const net = createWeighting({ hidden: 6, init: "pytorch" }, new Rng(13));
    // a large eta1 (toolchain.md) makes d l_meta / d psi O(0.1), far above float32 rounding; the reference is
    // float64 throughout, so central differences with h = 1e-4 are exact to O(h^2) ~ 1e-8 and 1e-5 relative is a tight bound
    const eta1 = 10;
    for (const assumedFrom of ["train", "memorized"] as const) {
      const o = resolveMetaOptions({ eta1, assumedFrom }, 1e-3);
      const mg = metaGradient({ model, params, net, train: MF_TRAIN, memorized: MF_MEM, mode: mode() }, o);
      const psiGrads = mg.psiGrads as Float32Array[];
      const base = psi64(net);
      const src = assumedFrom === "train" ? MF_TRAIN : MF_MEM;
      const U = params.get("userEmb").data;
      const Q = params.get("itemEmb").data;
      const l0 = mfMetaLoss64(U, Q, 3, base, src, MF_MEM, eta1);
      assert.ok(Math.abs((mg.metaLoss as number) - l0) <= 1e-5 * Math.abs(l0), `${assumedFrom}: meta loss ${mg.metaLoss} vs float64 ${l0}`);
      const rng = new Rng(77);
      let norm = 0;
      for (const g of psiGrads) for (const x of g) norm += x * x;
      assert.ok(Math.sqrt(norm) > 1e-3, `${assumedFrom}: |d l_meta / d psi| = ${Math.sqrt(norm)} is too small to check anything`);
      for (let r = 0; r < 3; r++) {
        const dir = NAMES.map((n) => base[n].map(() => rng.normal()));
        const h = 1e-4;
        const at = (sign: number): Psi => {
          const p = { w1: [...base.w1], b1: [...base.b1], w2: [...base.w2], b2: [...base.b2] };
          NAMES.forEach((n, i) => p[n].forEach((_, j) => (p[n][j] += sign * h * dir[i][j])));
          return p;
        };
        const numeric = (mfMetaLoss64(U, Q, 3, at(1), src, MF_MEM, eta1) - mfMetaLoss64(U, Q, 3, at(-1), src, MF_MEM, eta1)) / (2 * h);
        let analytic = 0;
        dir.forEach((di, i) => di.forEach((x, j) => (analytic += x * psiGrads[i][j])));
        assert.ok(Math.abs(analytic - numeric) <= 1e-5 * Math.abs(numeric), `${assumedFrom} direction ${r}: analytic ${analytic}, numeric ${numeric}`);
      }
    }
  });

  for (const [label, make, train, mem] of [
    ["MF (per-position rows)", tinyMF, MF_TRAIN, MF_MEM],
    ["NeuMF (rows + dense layers)", tinyNeuMF, NEUMF_TRAIN, NEUMF_MEM],
    ["LightGCN (whole tables)", tinyLightGCN, LGN_TRAIN, LGN_MEM],
    ["CDAE (unions of rows, distinct users, dense bias)", tinyCDAE, CDAE_TRAIN, CDAE_MEM],
    ["NGCF (whole tables, nonlinear layers)", tinyNGCF, LGN_TRAIN, LGN_MEM],
  ] as const) {
    it(`${label}: match-matrix theta_hat equals the brute-force full-table theta_hat`, () => {
      const { model, params } = make();
      const w = Float32Array.from({ length: train.users.length }, (_, k) => 0.3 + 0.2 * k);
      const eta1 = 2;
      const got = hatLeaves(model, params, train, mem, w, eta1);
      const want = makeLeaves(bruteHat(model, params, train, w, eta1), model.leaves(mem));
      const theta = makeLeaves(params, model.leaves(mem));
      let moved = 0;
      for (const s of model.leaves(mem)) {
        const a = got.get(s.key) as Float32Array;
        const b = want[s.key].dataSync();
        const t0 = theta[s.key].dataSync();
        for (let j = 0; j < b.length; j++) {
          assert.ok(Math.abs(a[j] - b[j]) <= 2e-6 * (1 + Math.abs(b[j])), `${s.key}[${j}]: ${a[j]} vs brute force ${b[j]}`);
          if (Math.abs(b[j] - t0[j]) > 1e-4) moved++;
        }
      }
      assert.ok(moved > 0, "theta_hat equals theta: the check proves nothing");
      tf.dispose([...Object.values(want), ...Object.values(theta)]);
      if (model.name === "mf") {
        // user 3 and item 7 are not in the training batch: their memorized rows keep theta exactly;
        // user 0 and items 1, 2, 4, 0 are in both and moved
        const user = got.get("user") as Float32Array;
        const itemPos = got.get("itemPos") as Float32Array;
        const U = params.get("userEmb").data;
        const Q = params.get("itemEmb").data;
        assert.deepEqual(Array.from(user.subarray(3, 6)), Array.from(U.subarray(9, 12)));
        assert.deepEqual(Array.from(itemPos.subarray(3, 6)), Array.from(Q.subarray(21, 24)));
        assert.notDeepEqual(Array.from(user.subarray(0, 3)), Array.from(U.subarray(0, 3)));
        assert.notDeepEqual(Array.from(itemPos.subarray(0, 3)), Array.from(Q.subarray(3, 6)));
      }
    });

    it(`${label}: d l_meta / d w_k = -eta1/|B_t| <grad L_meta(theta_hat), grad L_k(theta)> (Eq. 16), and d l_meta / d psi follows by the chain rule`, () => {
      const { model, params } = make();
      const net = createWeighting({ hidden: 5, init: "pytorch" }, new Rng(3));
      const eta1 = model.name === "lightgcn" ? 200 : 5;
      const losses = perSampleLosses(model, params, train, mode());
      const w = weightsOf(net, losses);
      const expected = eq16(model, params, train, mem, w, eta1);
      const got = metaGradW(model, params, train, mem, w, eta1).grad;
      const e = relErr(got, expected);
      assert.ok(e.scale > 1e-6, `Eq. 16 factors are all ~0 (${e.scale})`);
      assert.ok(e.err < 1e-4, `d l_meta / d w: ${Array.from(got)} vs Eq. 16 ${Array.from(expected)}`);
      // d l_meta / d psi = sum_k (d l_meta / d w_k) d w_k / d psi
      const list = net.params.list();
      const chain = tf.tidy(() => {
        const xs = list.map((p) => tf.tensor(p.data.slice(), [...p.shape]));
        return tf.grads((...ps: tf.Tensor[]) => {
          const psi: Record<string, tf.Tensor> = {};
          list.forEach((p, i) => (psi[p.name] = ps[i]));
          return tf.sum(tf.mul(tf.tensor1d(Float32Array.from(expected)), weights(psi, tf.tensor1d(losses))));
        })(xs);
      });
      const want = chain.flatMap((t) => Array.from(t.dataSync()));
      tf.dispose(chain);
      const mg = metaGradient({ model, params, net, train, memorized: mem, mode: mode() }, resolveMetaOptions({ eta1 }, 1e-3));
      const have = (mg.psiGrads as Float32Array[]).flatMap((g) => Array.from(g));
      const c = relErr(have, want);
      assert.ok(c.err < 1e-4, `d l_meta / d psi off by ${c.err} of ${c.scale}`);
    });
  }

  it("Eq. 16: a training sample aligned with the memorized batch gains weight, an opposed one loses weight", () => {
    // one user, u = [1, 0]; q1 = [0.5, 0], q2 = [-0.5, 0]. Memorized: (u0, +1, -2). Training: A = (u0, +1, -2) (aligned),
    // B = (u0, +2, -1) (opposed: grad L_B = -sigmoid(-x) grad x vs grad L_A = sigmoid(x) grad x, x = u.(q2 - q1) = -1).
    const inst = createMF(context(1, 3), { dim: 2 }, new Rng(1));
    inst.params.get("userEmb").data.set([1, 0]);
    inst.params.get("itemEmb").data.set([0, 0, 0.5, 0, -0.5, 0]);
    const train = bpr([0, 0], [1, 2], [2, 1]);
    const mem = bpr([0], [1], [2]);
    // L_A = softplus(-1) = 0.3133, L_B = softplus(1) = 1.3133. Hidden unit 1 = relu(0.5 - L) fires for A only,
    // unit 2 = relu(L - 0.5) for B only, w2 = [2, 2], b2 = 0: each weight has its own unit, so one Adam step
    // moves z_A by at least (h_A + w2 + w2 L_A - 1) eta2 = (0.187 + 2 + 0.627 - 1) eta2 in the direction of -d l / d w_A.
    const net = createWeighting({ hidden: 2 }, new Rng(1));
    net.params.get("w1").data.set([-1, 1]);
    net.params.get("b1").data.set([0.5, -0.5]);
    net.params.get("w2").data.set([2, 2]);
    net.params.get("b2").data.set([0]);
    const eta1 = 0.5;
    const losses = perSampleLosses(inst.model, inst.params, train, mode());
    assert.ok(Math.abs(losses[0] - 0.3132617) < 1e-6 && Math.abs(losses[1] - 1.3132617) < 1e-6);
    const before = weightsOf(net, losses);
    const dw = metaGradW(inst.model, inst.params, train, mem, before, eta1).grad;
    assert.ok(dw[0] < 0 && dw[1] > 0, `d l_meta / d w = [${dw[0]}, ${dw[1]}]: expected [-, +]`);
    const res = metaStep(
      { model: inst.model, params: inst.params, optimizer: new Adam({ lr: 1e-3 }), net, metaOptimizer: new Adam({ lr: 0.01 }), train, memorized: mem, mode: mode() },
      { eta1, metaLr: 0.01 },
    );
    assert.ok(res.weights[0] > before[0], `aligned sample: weight ${before[0]} -> ${res.weights[0]}, expected up`);
    assert.ok(res.weights[1] < before[1], `opposed sample: weight ${before[1]} -> ${res.weights[1]}, expected down`);
  });

  it("frozen weighting leaves psi unchanged and equals a weighted plain step", () => {
    const a = tinyMF();
    const b = tinyMF();
    const net = createWeighting({ hidden: 4, init: "pytorch" }, new Rng(2));
    const psiBefore = net.params.clone();
    const w = weightsOf(net, perSampleLosses(a.model, a.params, MF_TRAIN, mode()));
    const res = metaStep(
      { model: a.model, params: a.params, optimizer: new Adam({ lr: 0.05 }), net, metaOptimizer: new Adam({ lr: 0.05 }), train: MF_TRAIN, memorized: MF_MEM, mode: mode() },
      { weighting: "frozen" },
    );
    for (const p of net.params.list()) assert.deepEqual(Array.from(p.data), Array.from(psiBefore.get(p.name).data), `psi '${p.name}' changed`);
    assert.equal(res.metaLoss, null);
    assert.equal(res.psiGradNorm, null);
    const ref = gradientStep(b.model, b.params, new Adam({ lr: 0.05 }), MF_TRAIN, mode(), (l) => tf.mean(tf.mul(tf.tensor1d(w), l)) as tf.Scalar);
    assert.ok(Math.abs(res.loss - ref.loss) < 1e-7, `loss ${res.loss} vs ${ref.loss}`);
    assert.deepEqual(Array.from(res.weights), Array.from(w));
    for (const name of ["userEmb", "itemEmb"]) {
      const x = a.params.get(name).data;
      const y = b.params.get(name).data;
      for (let j = 0; j < x.length; j++) assert.ok(Math.abs(x[j] - y[j]) < 1e-7, `${name}[${j}]: ${x[j]} vs ${y[j]}`);
    }
    // the step moved theta (so the comparison can fail)
    assert.notDeepEqual(Array.from(a.params.get("userEmb").data), Array.from(tinyMF().params.get("userEmb").data));
    // asked for, the frozen meta loss is the learned one's (same psi, same theta)
    const c = tinyMF();
    const frozen = metaGradient({ model: c.model, params: c.params, net, train: MF_TRAIN, memorized: MF_MEM, mode: mode() }, resolveMetaOptions({ weighting: "frozen", metaLossWhenFrozen: true }, 0.05));
    const learned = metaGradient({ model: c.model, params: c.params, net, train: MF_TRAIN, memorized: MF_MEM, mode: mode() }, resolveMetaOptions({}, 0.05));
    assert.equal(frozen.metaLoss, learned.metaLoss);
    assert.equal(frozen.psiGrads, null);
  });

  it("the actual update uses the new psi (Eq. 9)", () => {
    const a = tinyMF();
    const thetaBefore = a.params.clone();
    const net = createWeighting({ hidden: 4, init: "pytorch" }, new Rng(2));
    const psiOld = net.params.clone();
    // eps 10: the model's Adam step is ~ lr g / 10, so it scales with the weights (a fresh Adam's first step is ~ sign(g) otherwise)
    const adam = (): Adam => new Adam({ lr: 0.1, eps: 10 });
    const res = metaStep(
      { model: a.model, params: a.params, optimizer: adam(), net, metaOptimizer: new Adam({ lr: 0.2 }), train: MF_TRAIN, memorized: MF_MEM, mode: mode() },
      { eta1: 10, metaLr: 0.2 },
    );
    const losses = perSampleLosses(a.model, thetaBefore, MF_TRAIN, mode());
    const wNew = weightsOf(net, losses);
    const wOld = weightsOf({ config: net.config, params: psiOld }, losses);
    assert.deepEqual(Array.from(res.weights), Array.from(wNew));
    assert.ok(Math.max(...wNew.map((x, k) => Math.abs(x - wOld[k]))) > 0.01, "psi barely moved: the test cannot tell old from new");
    const stepWith = (w: Float32Array): ParamStore => {
      const p = thetaBefore.clone();
      gradientStep(a.model, p, adam(), MF_TRAIN, mode(), (l) => tf.mean(tf.mul(tf.tensor1d(w), l)) as tf.Scalar);
      return p;
    };
    const maxDiff = (p: ParamStore): number => {
      let d = 0;
      for (const name of ["userEmb", "itemEmb"]) {
        const x = a.params.get(name).data;
        const y = p.get(name).data;
        for (let j = 0; j < x.length; j++) d = Math.max(d, Math.abs(x[j] - y[j]));
      }
      return d;
    };
    assert.ok(maxDiff(stepWith(wNew)) < 1e-7, `theta differs from a step with the new weights by ${maxDiff(stepWith(wNew))}`);
    assert.ok(maxDiff(stepWith(wOld)) > 1e-5, `theta equals a step with the OLD weights (diff ${maxDiff(stepWith(wOld))})`);
  });

  it("selection: a vector of ones is the plain mean, a one-hot matrix equals its count vector, d l / d s_m = L_m(theta_hat) / |B_m|", () => {
    const { model, params } = tinyMF();
    const net = createWeighting({ hidden: 4, init: "pytorch" }, new Rng(6));
    const o = resolveMetaOptions({ eta1: 3 }, 1e-3);
    const run = (selection?: tf.Tensor) => metaGradient({ model, params, net, train: MF_TRAIN, memorized: MF_MEM, mode: mode(), selection }, o);
    const plain = run();
    const ones = tf.ones([3]);
    const withOnes = run(ones);
    assert.ok(Math.abs((withOnes.metaLoss as number) - (plain.metaLoss as number)) < 1e-7);
    // rows pick memorized samples 2, 0, 2, 2 -> counts [1, 0, 3], l = (L_0 + 3 L_2) / 4
    const S = tf.tensor2d([[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 0, 1]]);
    const counts = tf.tensor1d([1, 0, 3]);
    const byMatrix = run(S);
    const byCounts = run(counts);
    // vector form divides by |B_m| = 3, the matrix form by its 4 rows
    assert.ok(Math.abs((byMatrix.metaLoss as number) - ((byCounts.metaLoss as number) * 3) / 4) < 1e-6);
    const w = weightsOf(net, perSampleLosses(model, params, MF_TRAIN, mode()));
    const lm = perSampleLosses(model, bruteHat(model, params, MF_TRAIN, w, 3), MF_MEM, mode());
    const sg = withOnes.selectionGrad as Float32Array;
    lm.forEach((l, m) => assert.ok(Math.abs(sg[m] - l / 3) < 1e-6, `d l / d s_${m} = ${sg[m]}, L_m / 3 = ${l / 3}`));
    // for the matrix: d l / d S[r, m] = L_m / R
    const sgm = byMatrix.selectionGrad as Float32Array;
    assert.equal(sgm.length, 12);
    for (let r = 0; r < 4; r++) lm.forEach((l, m) => assert.ok(Math.abs(sgm[r * 3 + m] - l / 4) < 1e-6));
    assert.throws(() => run(tf.ones([2])), /selection must be/);
    tf.dispose([ones, S, counts]);
  });

  it("embedding-level selection (the code's): the loss-level meta loss and psi gradient, d l / d S[r, m] from the final rows at theta_hat by hand", () => {
    const cases: { label: string; inst: ModelInstance; train: Batch; mem: Batch; paths: ("auto" | "general")[] }[] = [
      { label: "MF (row leaves)", inst: tinyMF(), train: MF_TRAIN, mem: MF_MEM, paths: ["general"] },
      { label: "LightGCN (final rows)", inst: tinyLightGCN(), train: LGN_TRAIN, mem: LGN_MEM, paths: ["auto", "general"] },
    ];
    const picks = [2, 0, 2];
    for (const { label, inst, train, mem, paths } of cases) {
      const { model, params } = inst;
      const net = createWeighting({ hidden: 4, init: "pytorch" }, new Rng(6));
      const b = mem.users.length;
      const S = tf.tensor2d(picks.map((k) => Array.from({ length: b }, (_, m) => (m === k ? 1 : 0))));
      // the memorized batch's user, positive and negative rows at theta_hat (brute force), float64
      const eta1 = 3;
      const hat = bruteHat(model, params, train, weightsOf(net, perSampleLosses(model, params, train, mode())), eta1);
      const rowsAt = tf.tidy(() => {
        const leaves = makeLeaves(hat, model.leaves(mem));
        const split = model.perSampleRows !== undefined ? model.perSampleRows(leaves, mem, mode()).rows : { user: leaves.user, pos: leaves.itemPos, neg: leaves.itemNeg }; // MF's row leaves
        return [split.user, split.pos, split.neg].map((t) => t as tf.Tensor2D);
      });
      const d = rowsAt[0].shape[1];
      const [U, P, N] = rowsAt.map((t) => Array.from({ length: b }, (_, m) => Array.from(t.dataSync().slice(m * d, (m + 1) * d), Number)));
      tf.dispose(rowsAt);
      const dot = (a: number[], c: number[]): number => a.reduce((acc, x, j) => acc + x * c[j], 0);
      const sub = (a: number[], c: number[]): number[] => a.map((x, j) => x - c[j]);
      const expected = picks.map((k) => {
        const sig = 1 / (1 + Math.exp(-dot(U[k], sub(N[k], P[k])))); // BPR: L = softplus(u.n - u.p)
        return Array.from({ length: b }, (_, m) => (sig * (dot(U[m], sub(N[k], P[k])) + dot(U[k], sub(N[m], P[m])))) / picks.length);
      });
      for (const path of paths) {
        const run = (selectionLevel: "loss" | "embedding") =>
          metaGradient({ model, params, net, train, memorized: mem, mode: mode(), selection: S, path }, resolveMetaOptions({ eta1, selectionLevel }, 1e-3));
        const byLoss = run("loss");
        const byRows = run("embedding");
        assert.ok(Math.abs((byRows.metaLoss as number) - (byLoss.metaLoss as number)) < 1e-6, `${label} ${path}: meta loss ${byRows.metaLoss} vs ${byLoss.metaLoss}`);
        (byRows.psiGrads as Float32Array[]).forEach((g, i) => g.forEach((x, j) => {
          const y = (byLoss.psiGrads as Float32Array[])[i][j];
          assert.ok(Math.abs(x - y) <= 1e-5 * Math.max(1e-6, Math.abs(y)) + 1e-9, `${label} ${path}: d l / d psi differs (${x} vs ${y})`);
        }));
        const got = byRows.selectionGrad as Float32Array;
        let moved = 0;
        expected.forEach((row, r) => row.forEach((e, m) => {
          assert.ok(Math.abs(got[r * b + m] - e) < 1e-5, `${label} ${path}: d l / d S[${r}, ${m}] = ${got[r * b + m]}, by hand ${e}`);
          moved = Math.max(moved, Math.abs(got[r * b + m] - (byLoss.selectionGrad as Float32Array)[r * b + m]));
        }));
        assert.ok(moved > 1e-4, `${label} ${path}: the embedding-level gradient equals the loss-level one`);
      }
      S.dispose();
    }
    const neumf = tinyNeuMF();
    const onehot = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 4);
    assert.throws(
      () => metaGradient({ ...neumf, net: createWeighting({}, new Rng(1)), train: NEUMF_TRAIN, memorized: NEUMF_MEM, mode: mode(), selection: onehot }, resolveMetaOptions({ selectionLevel: "embedding" }, 1e-3)),
      /needs BPR batches/,
    );
    onehot.dispose();
  });

  it("leaks no tensors over 10 steps (learned, with a selection, and frozen)", () => {
    const { model, params } = tinyLightGCN();
    const net = createWeighting({}, new Rng(1));
    const optimizer = new Adam({ lr: 0.01 });
    const metaOptimizer = new Adam({ lr: 0.01 });
    const selection = tf.ones([3]);
    const inputs = { model, params, optimizer, net, metaOptimizer, train: LGN_TRAIN, memorized: LGN_MEM, mode: mode() };
    metaStep(inputs); // warm-up (kernels, caches)
    const n0 = tf.memory().numTensors;
    for (let k = 0; k < 10; k++) {
      const options: Partial<MetaStepOptions> = k % 3 === 2 ? { weighting: "frozen" } : {};
      metaStep({ ...inputs, selection: k % 2 === 0 ? selection : undefined }, options);
    }
    assert.equal(tf.memory().numTensors, n0);
    selection.dispose();
  });

  it("checks its inputs", () => {
    const { model, params } = tinyMF();
    const net = createWeighting({}, new Rng(1));
    const inputs = { model, params, optimizer: new Adam({ lr: 0.01 }), net, metaOptimizer: new Adam({ lr: 0.01 }), train: MF_TRAIN, memorized: MF_MEM, mode: mode() };
    assert.throws(() => metaStep(inputs, { eta1: 0 }), /eta1/);
    assert.throws(() => metaStep(inputs, { weighting: "fixed" as "frozen" }), /weighting/);
    assert.throws(() => metaStep({ ...inputs, memorized: bce([0], [1], [1]) }), /memorized batch/);
    // defaults: eta1 = metaLr = the model optimizer's lr
    assert.deepEqual(resolveMetaOptions({}, 5e-4), { weighting: "learned", assumedFrom: "train", metaLossWhenFrozen: false, selectionLevel: "loss", eta1: 5e-4, metaLr: 5e-4 });
    assert.throws(() => resolveMetaOptions({ selectionLevel: "rows" as "loss" }, 5e-4), /selectionLevel/);
  });
});
