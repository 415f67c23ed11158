/**
 * The scheduler variants: shapes and parameter counts, the LSTM cell and the
 * MLP against hand arithmetic, carried vs fresh state, the top-F rule on a
 * hand-worked batch, first-order gradients against central differences, and
 * training through the straight-through selection on a toy meta loss; the
 * typed-array step path (draw, selectionGradients, trainFromSelectionGrad)
 * against the tf path and against central differences.
 */
import { before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { ParamStore, type Param } from "../../src/models/ops/embedding-table";
import { addLstmCell, lstmCell, lstmCellSize } from "../../src/methods/sgdl/lstm";
import { createScheduler, topfScores, topfSelection, type Scheduler, type SchedulerKind } from "../../src/methods/sgdl/scheduler";
import { selectedIndices } from "../../src/methods/sgdl/gumbel";
import { Rng } from "../../src/util/rng";

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Logits of a scheduler at its current parameters, read back (the lstm's pending state is not committed). */
function logitsOf(s: Scheduler, x: Float32Array, f: number, ids?: Int32Array): Float32Array {
  return tf.tidy(() => s.logits(tf.tensor2d(x, [x.length / f, f]), s.leaves(), ids).dataSync() as Float32Array);
}

/** Features [B x F] with seeded values: losses in (0, 2), cosines in (-1, 1). */
function features(b: number, f: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: b * f }, (_, k) => (k % f === 0 ? 2 * rng.next() : 2 * rng.next() - 1));
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
}


/**
 * Central differences (step 1e-2, the float32 step actually taken) of J against the analytic
 * gradient of every parameter entry: |a - numeric| <= 2e-4 + 1e-2 |a|; returns max |a| and the count.
 */
function checkCentralDifferences(params: Param[], analyticOf: (p: Param, k: number) => ArrayLike<number>, J: () => number): { maxAbs: number; checked: number } {
  const h = 1e-2;
  let maxAbs = 0;
  let checked = 0;
  params.forEach((p, k) => {
    const analytic = analyticOf(p, k);
    for (let j = 0; j < p.data.length; j++) {
      const x0 = p.data[j];
      p.data[j] = x0 + h;
      const hi = p.data[j];
      const jHi = J();
      p.data[j] = x0 - h;
      const lo = p.data[j];
      const jLo = J();
      p.data[j] = x0;
      const numeric = (jHi - jLo) / (hi - lo);
      const a = analytic[j];
      maxAbs = Math.max(maxAbs, Math.abs(a));
      assert.ok(Math.abs(a - numeric) <= 2e-4 + 1e-2 * Math.abs(a), `${p.name}[${j}]: analytic ${a}, numeric ${numeric}`);
      checked++;
    }
  });
  return { maxAbs, checked };
}

describe("scheduler (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  test("logits are [B], pi = softmax sums to 1; parameter counts as the paper and the official code", () => {
    const ids = Int32Array.from([0, 1, 2, 3, 4]);
    for (const kind of ["lstm", "lstm1", "mlp", "topf"] as SchedulerKind[]) {
      const s = createScheduler({ kind }, new Rng(1));
      const f = s.config.features;
      const x = tf.tensor2d(features(5, f, 2), [5, f]);
      const o = s.logits(x, s.leaves(), ids);
      assert.deepEqual(o.shape, [5], kind);
      const pi = Array.from(s.probabilities(x, s.leaves(), ids).dataSync());
      assert.ok(Math.abs(pi.reduce((a, v) => a + v, 0) - 1) < 1e-6, `${kind}: pi sums to 1`);
      tf.dispose([x, o]);
    }
    // paper (3.3.3): 4 d^2 + 12 d for the LSTM at F = 2, d = 64: 16,384 + 768 = 17,152; read-out 64 + 1
    assert.equal(createScheduler({ kind: "lstm" }, new Rng(1)).params.size(), 17152 + 65);
    // code: LSTM(1, 10, bi) 2 x (40 + 400 + 80) = 1,040; LSTM(2, 10, bi) 2 x (80 + 400 + 80) = 1,120;
    // Linear(40, 20) 820; Linear(20, 1) 21: 3,001 (PyTorch's count of scheduler.Scheduler(2))
    assert.equal(createScheduler({ kind: "lstm1" }, new Rng(1)).params.size(), 3001);
    // F -> 64 -> 1 with biases at F = 2: 128 + 64 + 64 + 1
    assert.equal(createScheduler({ kind: "mlp" }, new Rng(1)).params.size(), 257);
    assert.equal(createScheduler({ kind: "topf" }, new Rng(1)).params.size(), 0);
    assert.equal(lstmCellSize({ name: "x", input: 2, hidden: 64, biases: 1 }), 17152);
  });

  test("LSTM cell by hand: H = 1, one input, weights set so every gate is a simple number", () => {
    const store = new ParamStore();
    addLstmCell(store, { name: "c", input: 1, hidden: 1, biases: 1 }, "xavier", new Rng(1));
    // gates z = x wx + h wh + b in order i, f, g, o
    store.get("c.wx").data.set([1, 0, 2, 0]);
    store.get("c.wh").data.set([0, 1, 0, -1]);
    store.get("c.b").data.set([0, 0.5, 0, 1]);
    const leaves: Record<string, tf.Tensor> = {};
    for (const p of store.list()) leaves[p.name] = tf.tensor(p.data, [...p.shape]);
    const x = 0.5;
    const h0 = 0.2;
    const c0 = -0.4;
    const st = lstmCell(leaves, { name: "c", input: 1, hidden: 1, biases: 1 }, tf.tensor2d([x], [1, 1]), { h: tf.tensor2d([h0], [1, 1]), c: tf.tensor2d([c0], [1, 1]) });
    // i = sig(0.5), f = sig(0.2 + 0.5) = sig(0.7), g = tanh(1.0), o = sig(-0.2 + 1) = sig(0.8)
    const c1 = sigmoid(0.7) * c0 + sigmoid(0.5) * Math.tanh(1.0);
    const h1 = sigmoid(0.8) * Math.tanh(c1);
    assertClose(st.c.dataSync(), [c1], 1e-6, "c'");
    assertClose(st.h.dataSync(), [h1], 1e-6, "h'");
  });

  test("mlp by hand: w1 = [[1, -1], [2, 0]], b1 = [0, 0.5], w2 = [1, 3], b2 = -1", () => {
    const s = createScheduler({ kind: "mlp", hidden: 2 }, new Rng(1));
    s.params.get("mlp.w1").data.set([1, -1, 2, 0]);
    s.params.get("mlp.b1").data.set([0, 0.5]);
    s.params.get("mlp.w2").data.set([1, 3]);
    s.params.get("mlp.b2").data.set([-1]);
    // x = (1, 1): relu(3, -0.5) = (3, 0) -> 3 - 1 = 2; x = (-1, 0.5): relu(0, 1.5) -> 4.5 - 1 = 3.5
    assertClose(logitsOf(s, Float32Array.from([1, 1, -1, 0.5]), 2), [2, 3.5], 1e-6, "o");
  });

  test("lstm carries its state per sample id across calls; a fresh id or a cleared state gives the first answer", () => {
    const s = createScheduler({ kind: "lstm", hidden: 8 }, new Rng(4));
    const x = features(4, 2, 5);
    const ids = Int32Array.from([10, 11, 12, 13]);
    const first = logitsOf(s, x, 2, ids);
    assertClose(logitsOf(s, x, 2, ids), first, 0, "without advance() the state stays");
    s.advance();
    const second = logitsOf(s, x, 2, ids);
    assert.ok(second.some((v, i) => Math.abs(v - first[i]) > 1e-4), `carried state changes the logits: ${first} vs ${second}`);
    // other ids have no history yet: their rows are the zero-state answer
    assertClose(logitsOf(s, x, 2, Int32Array.from([0, 1, 2, 3])), first, 1e-7, "fresh ids");
    // permuted rows keep their own histories
    const perm = logitsOf(s, Float32Array.from([...x.slice(6, 8), ...x.slice(0, 6)]), 2, Int32Array.from([13, 10, 11, 12]));
    assertClose(perm, [second[3], second[0], second[1], second[2]], 1e-7, "state follows the id");
    // startEpoch keeps weights and state (paper: history across epochs); clearState forgets it
    s.startEpoch(new Rng(9));
    assertClose(logitsOf(s, x, 2, ids), second, 1e-7, "after startEpoch");
    s.clearState();
    assertClose(logitsOf(s, x, 2, ids), first, 1e-7, "after clearState");
    assert.throws(() => logitsOf(s, x, 2), /needs the memorized-sample ids/);
  });

  test("lstm1 has no memory and is re-drawn at every epoch; mlp keeps its weights", () => {
    const s = createScheduler({ kind: "lstm1" }, new Rng(4));
    const x = features(4, 3, 6);
    const first = logitsOf(s, x, 3);
    s.advance();
    assertClose(logitsOf(s, x, 3), first, 0, "length-1 sequence, zero state: same input, same logits");
    s.startEpoch(new Rng(7));
    const redrawn = logitsOf(s, x, 3);
    assert.ok(redrawn.some((v, i) => Math.abs(v - first[i]) > 1e-4), "new weights at the epoch start");
    s.reset(new Rng(4));
    assertClose(logitsOf(s, x, 3), first, 0, "reset with the first seed gives the first weights");
    const m = createScheduler({ kind: "mlp" }, new Rng(4));
    const before = logitsOf(m, x.subarray(0, 8), 2);
    m.startEpoch(new Rng(7));
    assertClose(logitsOf(m, x.subarray(0, 8), 2), before, 0, "mlp not re-drawn");
  });

  test("topf on a hand-worked batch of 6: rule 'sum' picks {0, 3, 5}, rule 'low-loss' {0, 2, 4}", () => {
    // [loss, cos]: loss min 0.2, max 1.4 -> minmax (0, 2/3, 1/3, 1, 0, 2/3); cos min -0.1, max 0.9 -> (1, 0.2, 0.6, 0.9, 0, 0.4)
    const x = Float32Array.from([0.2, 0.9, 1.0, 0.1, 0.6, 0.5, 1.4, 0.8, 0.2, -0.1, 1.0, 0.3]);
    // sum: (1, 0.867, 0.933, 1.9, 0, 1.067) -> top 3: 3, 5, 0
    assertClose(topfScores(x, 6, 2, "sum"), [1, 2 / 3 + 0.2, 1 / 3 + 0.6, 1.9, 0, 2 / 3 + 0.4], 1e-6, "sum scores");
    assert.deepEqual(Array.from(topfSelection(x, 6, 2, 0.5, "sum")), [0, 3, 5]);
    // low-loss: (2, 0.533, 1.267, 0.9, 1, 0.733) -> top 3: 0, 2, 4
    assert.deepEqual(Array.from(topfSelection(x, 6, 2, 0.5, "low-loss")), [0, 2, 4]);
    const s = createScheduler({ kind: "topf" }, new Rng(1));
    const sel = tf.tidy(() => s.select(tf.tensor2d(x, [6, 2]), s.leaves(), { draws: 6, tau: 0.05, rng: new Rng(1) }).arraySync());
    assert.deepEqual(sel, [
      [1, 0, 0, 0, 0, 0],
      [0, 0, 0, 1, 0, 0],
      [0, 0, 0, 0, 0, 1],
    ]);
    // with two cosine columns their mean is the similarity: (0.9, 0.9) and (0.7, 1.1) score the same
    assertClose(topfScores(Float32Array.from([0, 0.9, 0.9, 0, 0.7, 1.1, 1, 0, 0]), 3, 3, "sum"), [1, 1, 1], 1e-6, "mean of cosines");
  });

  for (const kind of ["lstm", "lstm1", "mlp"] as SchedulerKind[]) {
    test(`${kind}: the gradient of sum_m w_m o_m w.r.t. phi agrees with central differences (float64 sums)`, () => {
      const s = createScheduler({ kind, hidden: 3 }, new Rng(11));
      const f = s.config.features;
      const b = 5;
      const x = features(b, f, 12);
      const ids = Int32Array.from([0, 1, 2, 3, 4]);
      if (kind === "lstm") {
        logitsOf(s, features(b, f, 13), f, ids); // a non-zero carried state, so Wh gets a gradient
        s.advance();
      }
      const wRng = new Rng(14);
      const w = Float32Array.from({ length: b }, () => wRng.normal());
      const names = s.params.list().map((p) => p.name);
      const analytic = tf.tidy(() => {
        const leaves = s.leaves();
        const g = tf.grads((...xs: tf.Tensor[]) => {
          const l: Record<string, tf.Tensor> = {};
          names.forEach((n, i) => (l[n] = xs[i]));
          return tf.sum(tf.mul(tf.tensor1d(w), s.logits(tf.tensor2d(x, [b, f]), l, ids)));
        })(names.map((n) => leaves[n]));
        return g.map((t) => t.dataSync() as Float32Array);
      });
      const J = (): number => {
        const o = logitsOf(s, x, f, ids);
        return o.reduce((acc, v, m) => acc + w[m] * v, 0);
      };
      const { maxAbs, checked } = checkCentralDifferences(s.params.list(), (_p, k) => analytic[k], J);
      assert.ok(maxAbs > 0.05, `gradient not trivially zero (max ${maxAbs})`);
      assert.equal(checked, s.params.size());
      if (kind === "lstm") {
        const wh = analytic[names.indexOf("lstm.wh")];
        assert.ok(wh.some((v) => Math.abs(v) > 1e-3), "the recurrent weights get a gradient through the carried state");
      }
    });
  }

  test("draw + trainFromSelectionGrad (upstream dL/dS from elsewhere): select's S, tf.grads of sum(G * S) through select, and the Adam step on that gradient", () => {
    // the read-out bias shifts every logit alike, so its gradient is exactly 0 (tf's float32 sums leave ~1e-9 there)
    const shift: Record<string, string> = { lstm: "out.b", lstm1: "fc2.b", mlp: "mlp.b2" };
    for (const kind of ["lstm", "lstm1", "mlp"] as SchedulerKind[]) {
      const a = createScheduler({ kind, hidden: 4, lr: 0.05 }, new Rng(31));
      const b = createScheduler({ kind, hidden: 4, lr: 0.05 }, new Rng(31));
      const f = a.config.features;
      const x = tf.tensor2d(features(6, f, 32), [6, f]);
      const ids = Int32Array.from([5, 4, 3, 2, 1, 0]);
      const gRng = new Rng(33);
      const g = Float32Array.from({ length: 6 * 6 }, () => gRng.normal());
      const names = a.params.list().map((p) => p.name);
      const want = tf.tidy(() => {
        const leaves = a.leaves();
        const gr = tf.grads((...xs: tf.Tensor[]) => {
          const l: Record<string, tf.Tensor> = {};
          names.forEach((n, i) => (l[n] = xs[i]));
          return tf.sum(tf.mul(a.select(x, l, { draws: 6, tau: 0.3, rng: new Rng(34), ids }), tf.tensor2d(g, [6, 6])));
        })(names.map((n) => leaves[n]));
        return gr.map((t) => t.dataSync() as Float32Array);
      });
      const d = b.draw(x, { draws: 6, tau: 0.3, rng: new Rng(34), ids });
      const direct = tf.tidy(() => b.select(x, b.leaves(), { draws: 6, tau: 0.3, rng: new Rng(34), ids }).arraySync());
      assert.deepEqual(d.selection.arraySync(), direct, `${kind}: draw's selection is select's forward value`);
      assert.deepEqual(Array.from(d.picks), Array.from(selectedIndices(d.selection)), `${kind}: picks`);
      const pi = tf.tidy(() => b.probabilities(x, b.leaves(), ids).dataSync() as Float32Array);
      assertClose(d.probabilities, pi, 1e-7, `${kind}: pi`);
      const got = b.selectionGradients(d, g);
      let scale = 0;
      names.forEach((n, i) => {
        const sc = want[i].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        scale = Math.max(scale, sc);
        if (n === shift[kind]) {
          assert.ok(Math.abs(got[n][0]) < 1e-9 && Math.abs(want[i][0]) < 1e-5, `${kind} ${n}: zero in exact arithmetic (${got[n][0]}, tf ${want[i][0]})`);
        } else {
          assertClose(got[n], want[i], 1e-5 * Math.max(sc, 1e-2), `${kind} ${n}`);
        }
      });
      assert.ok(scale > 0.05, `${kind}: gradient scale ${scale}`);
      b.trainFromSelectionGrad(d, g);
      const c = createScheduler({ kind, hidden: 4, lr: 0.05 }, new Rng(31));
      c.applyGradients(got);
      let moved = 0;
      for (const p of b.params.list()) {
        const q = c.params.get(p.name).data;
        const p0 = a.params.get(p.name).data;
        p.data.forEach((v, j) => {
          assert.equal(v, q[j], `${kind} ${p.name}[${j}]: the step is Adam on selectionGradients`);
          moved = Math.max(moved, Math.abs(v - p0[j]));
        });
      }
      assert.ok(moved > 1e-3, `${kind}: the step moved phi (${moved})`);
      assert.throws(() => b.trainFromSelectionGrad(d, new Float32Array(35)), /selection gradient has 35 values, the selection is 6 x 6/);
      tf.dispose([x, d.selection]);
    }
  });

  for (const kind of ["lstm", "lstm1", "mlp"] as SchedulerKind[]) {
    test(`${kind}: selectionGradients agrees with central differences of sum(G * y_soft) (float64 sums; y_soft carries S's gradient)`, () => {
      const s = createScheduler({ kind, hidden: 3 }, new Rng(51));
      const f = s.config.features;
      const b = 5;
      const draws = 4;
      const tau = 1;
      const xt = tf.tensor2d(features(b, f, 52), [b, f]);
      const ids = Int32Array.from([0, 1, 2, 3, 4]);
      if (kind === "lstm") {
        tf.dispose(s.draw(tf.tensor2d(features(b, f, 53), [b, f]), { draws, tau, rng: new Rng(1), ids }).selection); // a non-zero carried state
        s.advance();
      }
      const gRng = new Rng(54);
      const g = Float64Array.from({ length: draws * b }, () => 5 * gRng.normal());
      const J = (): number => {
        const d = s.draw(xt, { draws, tau, rng: new Rng(55), ids });
        d.selection.dispose();
        const o = Array.from(d.logits);
        const top = Math.max(...o);
        const lse = top + Math.log(o.reduce((acc, v) => acc + Math.exp(v - top), 0));
        let sum = 0;
        for (let r = 0; r < draws; r++) {
          const z = o.map((v, m) => (v - lse + d.noise[r * b + m]) / tau);
          const zt = Math.max(...z);
          const e = z.map((v) => Math.exp(v - zt));
          const total = e.reduce((acc, v) => acc + v, 0);
          e.forEach((v, m) => (sum += (g[r * b + m] * v) / total));
        }
        return sum;
      };
      const d = s.draw(xt, { draws, tau, rng: new Rng(55), ids });
      const analytic = s.selectionGradients(d, Float32Array.from(g));
      d.selection.dispose();
      const { maxAbs, checked } = checkCentralDifferences(s.params.list(), (p) => analytic[p.name], J);
      assert.ok(maxAbs > 0.02, `gradient not trivially zero (max ${maxAbs})`);
      assert.equal(checked, s.params.size());
      if (kind === "lstm") assert.ok(analytic["lstm.wh"].some((v) => Math.abs(v) > 1e-3), "the recurrent weights get a gradient through the carried state");
      xt.dispose();
    });
  }

  for (const kind of ["lstm", "lstm1", "mlp"] as SchedulerKind[]) {
    test(`${kind}: trained through the straight-through selection, pi concentrates on the samples that lower the meta loss`, () => {
      // memorized batch of 6: samples 0..2 are "good" (low loss, aligned gradients), 3..5 "noisy";
      // toy meta loss = mean over draws of the picked sample's cost (0.1 good, 1 noisy)
      const base = [0.2, 0.9, 0.3, 0.8, 0.25, 0.85, 1.5, -0.2, 1.2, 0.1, 1.8, -0.4];
      const f = kind === "lstm1" ? 3 : 2;
      const x = Float32Array.from({ length: 6 * f }, (_, k) => {
        const n = Math.floor(k / f);
        const j = k % f;
        return j === 0 ? base[2 * n] : base[2 * n + 1];
      });
      const cost = tf.tensor1d([0.1, 0.1, 0.1, 1, 1, 1]);
      const s = createScheduler({ kind, lr: 1e-2, stateKey: "position" }, new Rng(21));
      const rng = new Rng(22);
      const xt = tf.tensor2d(x, [6, f]);
      const goodMass = (): number =>
        tf.tidy(() => {
          const pi = s.probabilities(xt, s.leaves()).dataSync();
          return pi[0] + pi[1] + pi[2];
        });
      const start = goodMass();
      let last = NaN;
      for (let step = 0; step < 60; step++) {
        last = s.train((leaves) => tf.mean(tf.matMul(s.select(xt, leaves, { draws: 6, tau: 0.05, rng }), tf.reshape(cost, [6, 1]))) as tf.Scalar);
        s.advance();
      }
      const end = goodMass();
      assert.ok(start < 0.8, `${kind}: pi starts spread (${start})`);
      assert.ok(end > 0.95, `${kind}: pi on the good samples after training ${end} (start ${start}, last meta loss ${last})`);
      const picks = tf.tidy(() => selectedIndices(s.select(xt, s.leaves(), { draws: 200, tau: 0.05, rng: new Rng(3) })));
      assert.ok(picks.filter((i) => i < 3).length > 180, "draws now pick the good samples");
      tf.dispose([cost, xt]);
    });
  }
});
