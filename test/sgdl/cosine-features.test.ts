/**
 * Per-sample gradient cosines from one backward pass per point, against a
 * brute-force reference: one tf.grads per sample over a one-sample batch, the
 * sample's row gradients folded by table row and compared in float64.
 */
import { before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { fromTriples } from "../../src/data/interactions";
import { createLightGCN } from "../../src/models/lightgcn";
import { createMF } from "../../src/models/mf";
import type { Batch, LeafTensors, Model, ModelContext } from "../../src/models/model";
import { createNeuMF } from "../../src/models/neumf";
import type { ParamStore } from "../../src/models/ops/embedding-table";
import { batchNodes, initialEmbeddings, lightgcnRowsByOperator, operatorOf } from "../../src/models/propagation";
import {
  dotProductRowsSource,
  perSampleGradientCosines,
  perSampleSource,
  rowLeafSource,
  schedulerFeatures,
  type PerSampleSource,
} from "../../src/methods/sgdl/cosine-features";
import { Rng } from "../../src/util/rng";
import { makeLeaves } from "../models/gradcheck";

function context(nUsers: number, nItems: number, pairs: ReadonlyArray<readonly [number, number]>): ModelContext {
  const train = fromTriples(nUsers, nItems, pairs.map((p) => p[0]), pairs.map((p) => p[1]), new Uint8Array(pairs.length));
  return { nUsers, nItems, train };
}

const CTX = context(5, 7, [[0, 0], [0, 2], [1, 1], [1, 3], [2, 4], [3, 0], [3, 5], [4, 2], [4, 3], [4, 6]]);
// repeated users (4) and items (1, 0) across samples; sample 5 has pos = neg (its folded item gradient is zero)
const BPR: Batch = { kind: "bpr", users: Int32Array.from([0, 1, 3, 4, 4, 2]), pos: Int32Array.from([2, 1, 5, 3, 6, 4]), neg: Int32Array.from([1, 0, 6, 0, 1, 4]) };
const BCE: Batch = { kind: "bce", users: Int32Array.from([0, 1, 3, 4, 4]), items: Int32Array.from([2, 1, 5, 3, 0]), labels: Float32Array.from([1, 0, 1, 1, 0]) };

/** A copy of the parameters moved by scale * N(0, 1) noise (scale 0: an exact copy; negate: -theta). */
function moved(params: ParamStore, scale: number, seed: number, negate = false): ParamStore {
  const c = params.clone();
  const rng = new Rng(seed);
  for (const p of c.list()) for (let j = 0; j < p.data.length; j++) p.data[j] = (negate ? -p.data[j] : p.data[j]) + scale * rng.normal();
  return c;
}

/** One sample n of a batch as a batch of one. */
function single(b: Batch, n: number): Batch {
  const one = (a: Int32Array): Int32Array => a.slice(n, n + 1);
  return b.kind === "bpr"
    ? { kind: "bpr", users: one(b.users), pos: one(b.pos), neg: one(b.neg) }
    : { kind: "bce", users: one(b.users), items: one(b.items), labels: b.labels.slice(n, n + 1) };
}

/** Sample n's gradient per (group, row id): one tf.grads of its own loss over a one-sample batch, positions with the same id summed. */
type Folded = Map<string, Float64Array>;

/** Brute force for row-leaf models: each sample alone, gradients w.r.t. its gathered rows of the given keys. */
function bruteRows(model: Model, params: ParamStore, batch: Batch, keys: readonly string[], n: number): Folded {
  const b1 = single(batch, n);
  const specs = model.leaves(b1);
  const out: Folded = new Map();
  tf.tidy(() => {
    const leaves = makeLeaves(params, specs);
    const grads = tf.grads((...xs: tf.Tensor[]) => {
      const l: Record<string, tf.Tensor> = { ...leaves };
      keys.forEach((k, i) => (l[k] = xs[i]));
      return tf.sum(model.losses(l, b1, { training: false, rng: new Rng(0) }));
    })(keys.map((k) => leaves[k]));
    keys.forEach((k, i) => {
      const s = specs.find((x) => x.key === k);
      if (s === undefined || s.rows === undefined) throw new Error(`no row leaf ${k}`);
      addFolded(out, `${s.param}#${s.rows[0]}`, grads[i].dataSync());
    });
  });
  return out;
}

function addFolded(out: Folded, id: string, g: ArrayLike<number>): void {
  const acc = out.get(id) ?? new Float64Array(g.length);
  for (let j = 0; j < g.length; j++) acc[j] += g[j];
  out.set(id, acc);
}

/** cos between two folded gradients restricted to ids whose group (prefix before '#') passes the filter. */
function cosine(a: Folded, b: Folded, group?: string): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [id, va] of a) {
    if (group !== undefined && id.split("#")[0] !== group) continue;
    const vb = b.get(id) as Float64Array;
    for (let j = 0; j < va.length; j++) {
      dot += va[j] * vb[j];
      na += va[j] * va[j];
      nb += vb[j] * vb[j];
    }
  }
  return dot / Math.max(Math.sqrt(na * nb), 1e-8);
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
}

describe("perSampleGradientCosines (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  const mf = createMF(CTX, { dim: 4 }, new Rng(1));
  const mfKeys = ["user", "itemPos", "itemNeg"];

  function mfCosines(pa: ParamStore, pb: ParamStore, cosine: "all" | "group") {
    return tf.tidy(() => perSampleGradientCosines(rowLeafSource(mf.model), makeLeaves(pa, mf.model.leaves(BPR)), makeLeaves(pb, mf.model.leaves(BPR)), BPR, { cosine }));
  }

  test("MF: one cosine per sample equals the brute-force per-sample gradients' cosine over its rows (1e-5)", () => {
    const pb = moved(mf.params, 0.08, 2);
    const got = mfCosines(mf.params, pb, "all");
    assert.deepEqual(got.groups, ["all"]);
    const want = Array.from({ length: 6 }, (_, n) => cosine(bruteRows(mf.model, mf.params, BPR, mfKeys, n), bruteRows(mf.model, pb, BPR, mfKeys, n)));
    assertClose(got.cosines, want, 1e-5, "cos");
    // pos = neg: the item gradients cancel, only the user row is left, and its gradient sigma(0) (q - q) is zero too
    assert.equal(got.cosines[5], 0);
    assert.ok(want.slice(0, 5).some((c) => c < 0.99) && want.slice(0, 5).every((c) => c > -1 && c < 1), `a non-trivial case: ${want}`);
    // the losses come back too: softplus(u.(q_neg - q_pos)), by hand from the parameters
    const u = mf.params.get("userEmb").data;
    const q = mf.params.get("itemEmb").data;
    const loss = Array.from({ length: 6 }, (_, n) => {
      let x = 0;
      for (let j = 0; j < 4; j++) x += u[BPR.users[n] * 4 + j] * (q[(BPR as { neg: Int32Array }).neg[n] * 4 + j] - q[(BPR as { pos: Int32Array }).pos[n] * 4 + j]);
      return Math.log1p(Math.exp(x));
    });
    assertClose(got.lossesA, loss, 1e-6, "losses at a");
  });

  test("MF: per-table cosines (the official code's features) equal the brute force per table", () => {
    const pb = moved(mf.params, 0.08, 3);
    const got = mfCosines(mf.params, pb, "group");
    assert.deepEqual(got.groups, ["userEmb", "itemEmb"]);
    for (let n = 0; n < 6; n++) {
      const a = bruteRows(mf.model, mf.params, BPR, mfKeys, n);
      const b = bruteRows(mf.model, pb, BPR, mfKeys, n);
      assertClose([got.cosines[2 * n], got.cosines[2 * n + 1]], [cosine(a, b, "userEmb"), cosine(a, b, "itemEmb")], 1e-5, `sample ${n}`);
    }
    const f = schedulerFeatures(got.lossesA, got);
    assert.equal(f.length, 6 * 3);
    assert.deepEqual([f[3], f[4], f[5]], [got.lossesA[1], got.cosines[2], got.cosines[3]]);
  });

  test("MF: the cosine of a point with itself is 1; with -theta (every gradient negated) it flips sign", () => {
    const same = mfCosines(mf.params, mf.params.clone(), "all");
    assertClose(same.cosines.slice(0, 5), [1, 1, 1, 1, 1], 1e-6, "cos(theta, theta)");
    // BPR on -theta: u.(q_neg - q_pos) is unchanged, so sigma is too, and every row gradient changes sign
    const flipped = mfCosines(mf.params, moved(mf.params, 0, 0, true), "all");
    assertClose(flipped.cosines.slice(0, 5), [-1, -1, -1, -1, -1], 1e-6, "cos(theta, -theta)");
    const pb = moved(mf.params, 0.08, 4);
    const c = mfCosines(mf.params, pb, "group");
    const cNeg = mfCosines(mf.params, moved(pb, 0, 0, true), "group");
    assertClose(cNeg.cosines, Array.from(c.cosines, (x) => -x), 1e-6, "cos(a, -b) = -cos(a, b)");
  });

  test("NeuMF: the four embedding rows are covered (dense MLP weights are not), equal to the brute force", () => {
    const nm = createNeuMF(CTX, { factors: 4, layers: 2 }, new Rng(5));
    const keys = ["userGmf", "itemGmf", "userMlp", "itemMlp"];
    const pb = moved(nm.params, 0.1, 6);
    const got = tf.tidy(() =>
      perSampleGradientCosines(perSampleSource(nm.model), makeLeaves(nm.params, nm.model.leaves(BCE)), makeLeaves(pb, nm.model.leaves(BCE)), BCE, { cosine: "group" }),
    );
    assert.deepEqual(got.groups, keys);
    for (let n = 0; n < 5; n++) {
      const a = bruteRows(nm.model, nm.params, BCE, keys, n);
      const b = bruteRows(nm.model, pb, BCE, keys, n);
      assertClose(Array.from(got.cosines.subarray(4 * n, 4 * n + 4)), keys.map((k) => cosine(a, b, k)), 1e-5, `sample ${n}`);
    }
  });

  test("graph model: LightGCN's final rows through dotProductRowsSource equal the brute force; without a hook a clear error", () => {
    const d = 4;
    const lg = createLightGCN(CTX, { dim: d, propagation: "operator" }, new Rng(8));
    const p = operatorOf(CTX.train, 3);
    const finalRows = (leaves: LeafTensors, batch: Batch): tf.Tensor2D =>
      lightgcnRowsByOperator(p, initialEmbeddings(leaves, CTX.nUsers, CTX.nItems, d), batchNodes(batch, CTX.nUsers, CTX.nItems));
    const source: PerSampleSource = dotProductRowsSource(finalRows);
    const pb = moved(lg.params, 0.08, 9);
    const la = makeLeaves(lg.params, lg.model.leaves(BPR));
    const lb = makeLeaves(pb, lg.model.leaves(BPR));
    const got = perSampleGradientCosines(source, la, lb, BPR, { cosine: "group" });
    assert.deepEqual(got.groups, ["user", "item"]);
    // the hook's losses are the model's own
    const own = tf.tidy(() => lg.model.losses(la, BPR, { training: false, rng: new Rng(0) }).dataSync());
    assertClose(got.lossesA, own, 1e-6, "losses");
    // brute force: sample n's three final rows as the variables of its own BPR loss
    const brute = (leaves: LeafTensors, n: number): Folded => {
      const out: Folded = new Map();
      tf.tidy(() => {
        const b1 = single(BPR, n);
        const f = finalRows(leaves, b1);
        const parts = [0, 1, 2].map((r) => tf.slice(f, [r, 0], [1, d]));
        const g = tf.grads((u: tf.Tensor, qp: tf.Tensor, qn: tf.Tensor) => tf.sum(tf.softplus(tf.sub(tf.sum(tf.mul(u, qn)), tf.sum(tf.mul(u, qp))))))(parts);
        const b = b1 as { users: Int32Array; pos: Int32Array; neg: Int32Array };
        addFolded(out, `user#${b.users[0]}`, g[0].dataSync());
        addFolded(out, `item#${b.pos[0]}`, g[1].dataSync());
        addFolded(out, `item#${b.neg[0]}`, g[2].dataSync());
      });
      return out;
    };
    for (let n = 0; n < 6; n++) {
      const a = brute(la, n);
      const b = brute(lb, n);
      assertClose([got.cosines[2 * n], got.cosines[2 * n + 1]], [cosine(a, b, "user"), cosine(a, b, "item")], 1e-5, `sample ${n}`);
    }
    // LightGCN's own hook (Model.perSampleRows) is this source
    const viaHook = perSampleGradientCosines(perSampleSource(lg.model), la, lb, BPR, { cosine: "group" });
    assertClose(viaHook.cosines, got.cosines, 1e-6, "hook");
    // a graph model without the hook: the error names it
    const bare: Model = { ...lg.model, perSampleRows: undefined };
    assert.throws(() => perSampleGradientCosines(perSampleSource(bare), la, lb, BPR), /no per-position row leaves.*perSampleRows/);
    tf.dispose([...Object.values(la), ...Object.values(lb)]);
  });
});
