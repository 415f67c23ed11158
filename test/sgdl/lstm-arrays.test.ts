/**
 * The typed-array LSTM cell (fused gates, truncated backward): a hand-worked
 * H = 1 step forward and backward, and agreement with the tf cell of lstm.ts
 * and tf.grads at small (JS products) and at the paper's size (tf products),
 * with one and two biases, with and without a previous state.
 */
import { before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { ParamStore } from "../../src/models/ops/embedding-table";
import { addLstmCell, lstmCell, type LstmCellSpec } from "../../src/methods/sgdl/lstm";
import { cellBackward, cellForward, fusedWeights } from "../../src/methods/sgdl/lstm-arrays";
import { JS_MATMUL_LIMIT } from "../../src/methods/sgdl/matrix-arrays";
import { Rng } from "../../src/util/rng";

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
}

describe("LSTM cell on typed arrays (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  test("H = 1 by hand: forward as lstm.ts's test, backward of h' by the chain rule", () => {
    const spec: LstmCellSpec = { name: "c", input: 1, hidden: 1, biases: 1 };
    const store = new ParamStore();
    addLstmCell(store, spec, "xavier", new Rng(1));
    store.get("c.wx").data.set([1, 0, 2, 0]);
    store.get("c.wh").data.set([0, 1, 0, -1]);
    store.get("c.b").data.set([0, 0.5, 0, 1]);
    // W = [wx; wh; b] row by row
    assert.deepEqual(Array.from(fusedWeights(store, spec, true)), [1, 0, 2, 0, 0, 1, 0, -1, 0, 0.5, 0, 1]);
    const x = 0.5;
    const h0 = Math.fround(0.2);
    const c0 = Math.fround(-0.4);
    const pass = cellForward(spec, fusedWeights(store, spec, true), Float32Array.of(x), 1, { h: Float32Array.of(h0), c: Float32Array.of(c0) });
    // gates i = sig(0.5), f = sig(h0 + 0.5), g = tanh(1), o = sig(-h0 + 1)
    const [i, f, g, o] = [sigmoid(0.5), sigmoid(h0 + 0.5), Math.tanh(1), sigmoid(1 - h0)];
    const c1 = f * c0 + i * g;
    const h1 = o * Math.tanh(c1);
    assertClose(pass.c, [c1], 1e-7, "c'");
    assertClose(pass.h, [h1], 1e-7, "h'");
    // dL/dh' = 1: dz_o = tanh(c') o (1 - o); dc' = o (1 - tanh^2 c'); dz_f = dc' c f (1 - f); dz_i = dc' g i (1 - i); dz_g = dc' i (1 - g^2)
    const t = Math.tanh(c1);
    const dc = o * (1 - t * t);
    const dz = [dc * g * i * (1 - i), dc * c0 * f * (1 - f), dc * i * (1 - g * g), t * o * (1 - o)];
    const grads = cellBackward(pass, Float64Array.of(1));
    assertClose(grads["c.wx"], dz.map((v) => x * v), 1e-7, "dwx = x dz");
    assertClose(grads["c.wh"], dz.map((v) => h0 * v), 1e-7, "dwh = h dz");
    assertClose(grads["c.b"], dz, 1e-7, "db = dz");
    assert.ok(maxAbs(dz) > 0.05, "gradient not trivially small");
  });

  const cases: Array<{ b: number; input: number; hidden: number; biases: 1 | 2; recurrent: boolean }> = [
    { b: 7, input: 2, hidden: 5, biases: 1, recurrent: true },
    { b: 7, input: 2, hidden: 5, biases: 2, recurrent: false },
    { b: 128, input: 2, hidden: 64, biases: 1, recurrent: true }, // the paper's cell: tf products
    { b: 128, input: 1, hidden: 10, biases: 2, recurrent: false }, // the official code's loss cell
  ];
  for (const k of cases) {
    test(`B ${k.b}, input ${k.input}, H ${k.hidden}, ${k.biases} bias(es), ${k.recurrent ? "carried" : "zero"} state: as lstmCell and tf.grads`, () => {
      const spec: LstmCellSpec = { name: "cell", input: k.input, hidden: k.hidden, biases: k.biases };
      const store = new ParamStore();
      addLstmCell(store, spec, "pytorch", new Rng(3));
      const rng = new Rng(4);
      const H = k.hidden;
      const x = Float32Array.from({ length: k.b * k.input }, () => rng.normal());
      const prev = k.recurrent ? { h: Float32Array.from({ length: k.b * H }, () => 0.5 * rng.normal()), c: Float32Array.from({ length: k.b * H }, () => rng.normal()) } : null;
      const w = Float64Array.from({ length: k.b * H }, () => rng.normal());
      if (k.b === 128 && k.hidden === 64) assert.ok(k.b * (k.input + H + 1) * 4 * H >= JS_MATMUL_LIMIT, "this case takes the tf product");
      const pass = cellForward(spec, fusedWeights(store, spec, k.recurrent), x, k.b, prev);
      const grads = cellBackward(pass, w);
      const names = store.list().map((p) => p.name);
      const want = tf.tidy(() => {
        const leaves: Record<string, tf.Tensor> = {};
        for (const p of store.list()) leaves[p.name] = tf.tensor(p.data, [...p.shape]);
        const state = prev === null ? undefined : { h: tf.tensor2d(prev.h, [k.b, H]), c: tf.tensor2d(prev.c, [k.b, H]) };
        const xt = tf.tensor2d(x, [k.b, k.input]);
        const st = lstmCell(leaves, spec, xt, state);
        const g = tf.grads((...xs: tf.Tensor[]) => {
          const l: Record<string, tf.Tensor> = {};
          names.forEach((n, j) => (l[n] = xs[j]));
          return tf.sum(tf.mul(tf.tensor2d(Float32Array.from(w), [k.b, H]), lstmCell(l, spec, xt, state).h));
        })(names.map((n) => leaves[n]));
        return { h: st.h.dataSync() as Float32Array, c: st.c.dataSync() as Float32Array, g: g.map((t) => t.dataSync() as Float32Array) };
      });
      assertClose(pass.h, want.h, 1e-6, "h'");
      assertClose(pass.c, want.c, 1e-6, "c'");
      names.forEach((n, j) => {
        const scale = maxAbs(want.g[j]);
        if (n.endsWith(".wh") && !k.recurrent) assert.equal(scale, 0, "zero state: wh's gradient is zero");
        else assert.ok(scale > 0.01, `${n}: gradient scale ${scale}`);
        assertClose(grads[n], want.g[j], 1e-5 * Math.max(scale, 1), n);
      });
    });
  }

  test("bad shapes are named", () => {
    const spec: LstmCellSpec = { name: "q", input: 2, hidden: 3, biases: 1 };
    const store = new ParamStore();
    addLstmCell(store, spec, "xavier", new Rng(1));
    const w = fusedWeights(store, spec, true);
    assert.throws(() => cellForward(spec, w, new Float32Array(5), 3, { h: new Float32Array(9), c: new Float32Array(9) }), /LSTM 'q': input has 5 values, expected 3 x 2/);
    assert.throws(() => cellForward(spec, w, new Float32Array(6), 3, { h: new Float32Array(8), c: new Float32Array(9) }), /state must be \[3 x 3\]/);
    const pass = cellForward(spec, w, new Float32Array(6), 3, { h: new Float32Array(9), c: new Float32Array(9) });
    assert.throws(() => cellBackward(pass, new Float64Array(8)), /dL\/dh has 8 values, expected 3 x 3/);
  });
});
