/**
 * Straight-through Gumbel-softmax (Eq. 12): exact one-hot forward, the draw
 * equals argmax(log pi + g) with g recomputed here from the same seed, draw
 * frequencies follow pi (chi-square), the gradient is the soft sample's
 * (against the softmax Jacobian written out in float64), and y_soft tends to
 * the one-hot as tau falls. The closed forms on typed arrays (gumbelPicks,
 * oneHotRows, gumbelBackward) against the tf versions and the same hand sums.
 */
import { before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { gumbelBackward, gumbelNoise, gumbelPicks, gumbelSelectWithNoise, gumbelSoftmaxSelect, gumbelSoftSample, oneHotRows, selectedIndices } from "../../src/methods/sgdl/gumbel";
import { Rng } from "../../src/util/rng";

/** The official code's noise, in float64, drawn here independently of the library: -log(-log(U + 1e-20) + 1e-20). */
function noise64(draws: number, b: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: draws * b }, () => -Math.log(-Math.log(rng.next() + 1e-20) + 1e-20));
}

const LOG_PI = [0.05, 0.1, 0.15, 0.3, 0.4].map(Math.log);

describe("gumbelSoftmaxSelect (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  test("every row is exactly one-hot (values 0 and 1, not 1 +- 1 ulp), at tau 0.05 and 1", () => {
    for (const tau of [0.05, 1]) {
      const s = tf.tidy(() => gumbelSoftmaxSelect(tf.tensor1d([0.3, -1.2, 2.0, 0.7, -0.4, 1.1, 0.0]), 200, tau, new Rng(3)));
      assert.deepEqual(s.shape, [200, 7]);
      const v = s.dataSync();
      s.dispose();
      for (let r = 0; r < 200; r++) {
        let ones = 0;
        for (let m = 0; m < 7; m++) {
          const x = v[r * 7 + m];
          assert.ok(x === 0 || x === 1, `row ${r} col ${m}: ${x}`);
          ones += x;
        }
        assert.equal(ones, 1, `row ${r}`);
      }
    }
  });

  test("with a fixed rng the draw is argmax(log pi + g), g recomputed from the same seed", () => {
    const draws = 300;
    const b = LOG_PI.length;
    const g = noise64(draws, b, 17);
    const got = tf.tidy(() => selectedIndices(gumbelSoftmaxSelect(tf.tensor1d(LOG_PI), draws, 0.05, new Rng(17))));
    let changed = 0;
    for (let r = 0; r < draws; r++) {
      let best = 0;
      for (let m = 1; m < b; m++) if (LOG_PI[m] + g[r * b + m] > LOG_PI[best] + g[r * b + best]) best = m;
      assert.equal(got[r], best, `draw ${r}`);
      if (best !== 4) changed++;
    }
    assert.ok(changed > 50, "the noise changes the winner in many draws (not always the largest pi)");
    // the library's noise is the same numbers rounded to float32
    const lib = gumbelNoise(2, b, new Rng(17));
    for (let k = 0; k < lib.length; k++) assert.equal(lib[k], Math.fround(g[k]));
  });

  test("draw frequencies over many seeds follow pi (chi-square, 4 degrees of freedom)", () => {
    const pi = [0.05, 0.1, 0.15, 0.3, 0.4];
    const counts = [0, 0, 0, 0, 0];
    let total = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const idx = tf.tidy(() => selectedIndices(gumbelSoftmaxSelect(tf.tensor1d(LOG_PI), 2000, 1, new Rng(seed))));
      for (const i of idx) counts[i]++;
      total += idx.length;
    }
    const chi2 = (p: number[]): number => counts.reduce((s, c, m) => s + (c - total * p[m]) ** 2 / (total * p[m]), 0);
    // chi-square(4) upper 0.1 % point: 18.47
    assert.ok(chi2(pi) < 18.47, `chi2 vs pi = ${chi2(pi)}, counts ${counts}`);
    // the test can fail: the same counts against the uniform distribution are far out
    assert.ok(chi2([0.2, 0.2, 0.2, 0.2, 0.2]) > 1000, `chi2 vs uniform = ${chi2([0.2, 0.2, 0.2, 0.2, 0.2])}`);
  });

  test("the gradient w.r.t. log pi is the soft sample's: sum_r (1/tau) y_ri (w_ri - sum_j w_rj y_rj)", () => {
    const draws = 8;
    const b = 5;
    const tau = 0.5;
    const logPi = [-1.3, -0.2, -2.0, -0.9, -1.6];
    const wRng = new Rng(5);
    const w = Float32Array.from({ length: draws * b }, () => wRng.normal());
    const grad = tf.tidy(() => {
      const wT = tf.tensor2d(w, [draws, b]);
      const gr = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(wT, gumbelSoftmaxSelect(x as tf.Tensor1D, draws, tau, new Rng(9)))))(tf.tensor1d(logPi));
      return gr.dataSync();
    });
    // the softmax Jacobian applied by hand, with the same noise (float32 as the library uses)
    const g = Float64Array.from(noise64(draws, b, 9), Math.fround);
    const want = new Float64Array(b);
    for (let r = 0; r < draws; r++) {
      const z = logPi.map((l, m) => (Math.fround(l) + g[r * b + m]) / tau);
      const zMax = Math.max(...z);
      const e = z.map((v) => Math.exp(v - zMax));
      const sum = e.reduce((s, v) => s + v, 0);
      const y = e.map((v) => v / sum);
      const wy = y.reduce((s, v, m) => s + v * w[r * b + m], 0);
      for (let i = 0; i < b; i++) want[i] += (y[i] * (w[r * b + i] - wy)) / tau;
    }
    const scale = Math.max(...want.map(Math.abs));
    assert.ok(scale > 0.1, `gradient scale ${scale}`);
    for (let i = 0; i < b; i++) assert.ok(Math.abs(grad[i] - want[i]) <= 1e-5 * scale + 1e-6, `d/dlogPi[${i}]: ${grad[i]} vs ${want[i]}`);
    // the closed form on typed arrays (float64 throughout; logPi rounded to float32 as the tensor above holds it)
    const closed = gumbelBackward(Float64Array.from(logPi, Math.fround), gumbelNoise(draws, b, new Rng(9)), tau, w);
    for (let i = 0; i < b; i++) assert.ok(Math.abs(closed[i] - want[i]) <= 1e-12 * scale, `closed form d/dlogPi[${i}]: ${closed[i]} vs ${want[i]}`);
  });

  test("gumbelPicks = the tf draw's argmax, for tau 0.05 and 1; oneHotRows gives the same exact one-hot S", () => {
    const b = 40;
    const lRng = new Rng(41);
    const logits = Float32Array.from({ length: b }, () => 2 * lRng.normal());
    const logPi = tf.tidy(() => tf.logSoftmax(tf.tensor1d(logits)).dataSync() as Float32Array);
    for (const tau of [0.05, 1]) {
      const noise = gumbelNoise(300, b, new Rng(42));
      const s = tf.tidy(() => gumbelSelectWithNoise(tf.tensor1d(logPi), noise, tau));
      const want = selectedIndices(s);
      const picks = gumbelPicks(Float64Array.from(logPi), noise, tau);
      assert.deepEqual(Array.from(picks), Array.from(want), `tau ${tau}`);
      assert.deepEqual(Array.from(oneHotRows(picks, b)), Array.from(s.dataSync()), `tau ${tau}: S`);
      assert.ok(new Set(picks).size > 10, "the noise spreads the picks");
      s.dispose();
    }
    assert.throws(() => gumbelPicks(new Float64Array(3), new Float32Array(7), 1), /not a positive multiple of B = 3/);
    assert.throws(() => gumbelPicks(new Float64Array(3), new Float32Array(6), 0), /tau must be a positive number/);
    assert.throws(() => oneHotRows(Int32Array.of(0, 3), 3), /pick 3 of row 1 outside/);
    assert.throws(() => gumbelBackward(new Float64Array(3), new Float32Array(6), 1, new Float32Array(5)), /upstream gradient has 5 values, S is 2 x 3/);
  });

  test("gumbelBackward by hand: B = 2, one draw, tau = 0.5", () => {
    // z = (logPi + g) / tau = ((ln 0.25 + 0.3) / 0.5, (ln 0.75 - 0.1) / 0.5); y = softmax(z); G = (1, -1)
    const logPi = Float64Array.of(Math.log(0.25), Math.log(0.75));
    const g = Float32Array.of(0.3, -0.1);
    const z = [(logPi[0] + Math.fround(0.3)) / 0.5, (logPi[1] + Math.fround(-0.1)) / 0.5];
    const y0 = 1 / (1 + Math.exp(z[1] - z[0]));
    // sum_j G_j y_j = y0 - (1 - y0) = 2 y0 - 1; d/dlogPi_0 = y0 (1 - (2 y0 - 1)) / 0.5 = 4 y0 (1 - y0); d/dlogPi_1 = -that
    const got = gumbelBackward(logPi, g, 0.5, [1, -1]);
    assert.ok(Math.abs(got[0] - 4 * y0 * (1 - y0)) < 1e-15, `${got[0]}`);
    assert.ok(Math.abs(got[1] + 4 * y0 * (1 - y0)) < 1e-15, `${got[1]}`);
    assert.ok(got[0] > 0.5, `not trivially small: ${got[0]}`);
  });

  test("as tau falls, every draw's y_soft moves toward its one-hot; at tau 0.01 it is nearly one-hot", () => {
    const draws = 2000;
    const b = LOG_PI.length;
    const noise = gumbelNoise(draws, b, new Rng(23));
    const taus = [1, 0.3, 0.1, 0.05, 0.01];
    // 1 - max_m y_rm = half the L1 distance to the one-hot of the argmax, per draw
    const gaps = taus.map((tau) => {
      const yMax = tf.tidy(() => tf.max(gumbelSoftSample(tf.tensor1d(LOG_PI), noise, tau), 1));
      const gap = Float64Array.from(yMax.dataSync(), (v) => 1 - v);
      yMax.dispose();
      return gap;
    });
    for (let k = 1; k < taus.length; k++) {
      for (let r = 0; r < draws; r++) {
        // d max_m softmax(z / tau) / d(1 / tau) = p_max (z_max - E_p z) >= 0: never grows as tau falls
        assert.ok(gaps[k][r] <= gaps[k - 1][r] + 1e-6, `draw ${r}: gap ${gaps[k][r]} at tau ${taus[k]} > ${gaps[k - 1][r]} at tau ${taus[k - 1]}`);
      }
    }
    const mean = (x: Float64Array): number => x.reduce((s, v) => s + v, 0) / x.length;
    assert.ok(mean(gaps[0]) > 0.2, `tau 1 is far from one-hot: mean gap ${mean(gaps[0])}`);
    assert.ok(mean(gaps[4]) < 0.01, `tau 0.01: mean gap ${mean(gaps[4])}`);
  });
});
