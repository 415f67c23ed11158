/**
 * Loss normalisation, the noise-rate estimate (Eq. 4) and the switch rule
 * (Eq. 3) against hand-computed values, sklearn reference numbers and the
 * Phase I trace of the official ML-100K log (sgdl-reference.md Section 4).
 */
import { describe, test } from "node:test";
import * as assert from "node:assert/strict";
import {
  MemorizationPointTracker,
  estimateNoiseRate,
  normalizeLosses,
  reachedMemorizationPoint,
  shiftedNoiseRate,
} from "../../src/methods/sgdl/memorization-point";
import { Rng } from "../../src/util/rng";

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

describe("normalizeLosses", () => {
  test("global min-max over all interactions", () => {
    // min 2, max 6: (2-2)/4 = 0, (4-2)/4 = 0.5, (3-2)/4 = 0.25, (6-2)/4 = 1
    const out = normalizeLosses(new Float32Array([2, 4, 3, 6]), "global");
    assert.deepEqual(Array.from(out), [0, 0.5, 0.25, 1]);
    assert.ok(out instanceof Float32Array);
  });

  test("per-user min-max, with a one-interaction user, an all-equal user and an empty user", () => {
    // user 0: [2, 4] -> (0, 1); user 1: [3] -> 0 (official code: raw 3 left unnormalised);
    // user 2: [6, 1, 3.5] -> min 1, range 5: (1, 0, 0.5); user 3: none; user 4: [7, 7] -> 0, 0 (official: NaN)
    const losses = new Float32Array([2, 4, 3, 6, 1, 3.5, 7, 7]);
    const indptr = new Int32Array([0, 2, 3, 6, 6, 8]);
    assert.deepEqual(Array.from(normalizeLosses(losses, "per-user", indptr)), [0, 1, 0, 1, 0, 0.5, 0, 0]);
    // the same losses globally: min 1, max 7, range 6
    const g = normalizeLosses(losses, "global");
    close(g[0], 1 / 6, 1e-7, "(2-1)/6");
    close(g[5], 2.5 / 6, 1e-7, "(3.5-1)/6");
    assert.equal(g[6], 1);
  });

  test("all-equal losses normalise to 0 globally", () => {
    assert.deepEqual(Array.from(normalizeLosses(new Float64Array([0.7, 0.7, 0.7]), "global")), [0, 0, 0]);
  });

  test("bad input is refused with the index named", () => {
    assert.throws(() => normalizeLosses(new Float32Array([0.1, NaN]), "global"), /losses\[1\] is NaN/);
    assert.throws(() => normalizeLosses(new Float32Array([0.1, 0.2]), "per-user"), /needs the CSR indptr/);
    assert.throws(() => normalizeLosses(new Float32Array([0.1, 0.2]), "per-user", new Int32Array([0, 1])), /end at losses.length = 2/);
    assert.throws(() => normalizeLosses(new Float32Array([0.1, 0.2]), "per-user", new Int32Array([0, 2, 1, 2])), /decreases at user 1/);
  });
});

describe("estimateNoiseRate (Eq. 4)", () => {
  test("sigma_hat is the mean posterior of the larger-mean component (sklearn reference)", () => {
    // sklearn 1.2.1 on these 14 values, default GaussianMixture of the official code:
    // predict_proba(x)[:, argmax(means_)].mean() = 0.3571659564841622
    const x = new Float64Array([0.05, 0.1, 0.12, 0.15, 0.18, 0.2, 0.22, 0.25, 0.3, 0.62, 0.7, 0.75, 0.8, 0.95]);
    const est = estimateNoiseRate(x);
    close(est.noiseRate, 0.3571659564841622, 1e-12, "sigma_hat");
    assert.equal(est.posterior.length, 14);
    let sum = 0;
    for (const p of est.posterior) sum += p;
    close(est.noiseRate, sum / 14, 1e-15, "mean of the returned posteriors");
    assert.ok(est.posterior[0] < 0.01 && est.posterior[13] > 0.99, "small loss clean, large loss noisy");
  });

  test("all-equal normalised losses give sigma_hat = 0.5 (the documented degenerate convention)", () => {
    assert.equal(estimateNoiseRate(normalizeLosses(new Float32Array([3, 3, 3]), "global")).noiseRate, 0.5);
  });

  test("end to end: 17.5 % noisy interactions with larger losses, global normalisation", () => {
    // clean losses ~ N(0.35, 0.08^2), noisy ~ N(0.9, 0.15^2), noisy with probability 0.175
    const rng = new Rng(2020);
    const n = 30000;
    const losses = new Float32Array(n);
    let noisy = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.next() < 0.175;
      noisy += z ? 1 : 0;
      losses[i] = Math.max(0, z ? 0.9 + 0.15 * rng.normal() : 0.35 + 0.08 * rng.normal());
    }
    const est = estimateNoiseRate(normalizeLosses(losses, "global"));
    close(est.noiseRate, 0.175, 0.02, "sigma_hat");
    close(est.noiseRate, noisy / n, 0.02, "sigma_hat vs the realised noisy share");
  });

  test("per-user normalisation removes user-specific loss scales that global normalisation smears", () => {
    // 400 users x 100 interactions; user u's losses are scaled by s_u in [0.5, 2]:
    // per user the clean/noisy split survives min-max, globally the scales blur it
    const rng = new Rng(17);
    const nUsers = 400;
    const per = 100;
    const losses = new Float32Array(nUsers * per);
    const indptr = new Int32Array(nUsers + 1);
    for (let u = 0; u < nUsers; u++) {
      const scale = 0.5 + 1.5 * rng.next();
      for (let k = 0; k < per; k++) {
        const z = rng.next() < 0.175;
        losses[u * per + k] = scale * Math.max(0, z ? 0.9 + 0.1 * rng.normal() : 0.3 + 0.05 * rng.normal());
      }
      indptr[u + 1] = (u + 1) * per;
    }
    const perUser = estimateNoiseRate(normalizeLosses(losses, "per-user", indptr)).noiseRate;
    const global = estimateNoiseRate(normalizeLosses(losses, "global")).noiseRate;
    close(perUser, 0.175, 0.03, "per-user sigma_hat");
    assert.ok(Math.abs(global - 0.175) > Math.abs(perUser - 0.175), `global ${global} is further from 0.175 than per-user ${perUser}`);
  });
});

describe("the switch rule (Eq. 3)", () => {
  test("|M_t| >= (1 - sigma_hat)|D| holds at equality (>=, not >)", () => {
    // sigma = 0.25, |D| = 8: (1 - 0.25) * 8 = 6 memorized needed
    assert.equal(reachedMemorizationPoint(6, 8, 0.25), true);
    assert.equal(reachedMemorizationPoint(5, 8, 0.25), false);
    assert.equal(reachedMemorizationPoint(8, 8, 0.25), true);
    // sigma = 0: every interaction must be memorized
    assert.equal(reachedMemorizationPoint(9, 10, 0), false);
    assert.equal(reachedMemorizationPoint(10, 10, 0), true);
  });

  test("an empty memorized set never switches, even when sigma' = 1", () => {
    assert.equal(reachedMemorizationPoint(0, 10, 1), false);
    assert.equal(reachedMemorizationPoint(1, 10, 1), true);
  });

  test("shift: +s raises sigma (earlier switch), -s lowers it (later), absolute points by default", () => {
    close(shiftedNoiseRate(0.2, 0.05), 0.25, 1e-15, "absolute +5 points");
    close(shiftedNoiseRate(0.2, -0.1), 0.1, 1e-15, "absolute -10 points");
    close(shiftedNoiseRate(0.2, 0.05, "relative"), 0.21, 1e-15, "relative +5 %");
    close(shiftedNoiseRate(0.2, -0.1, "relative"), 0.18, 1e-15, "relative -10 %");
    assert.equal(shiftedNoiseRate(0.95, 0.1), 1, "clamped at 1");
    assert.equal(shiftedNoiseRate(0.03, -0.05), 0, "clamped at 0");
    // sigma = 0.25, |D| = 8, shift +0.125: sigma' = 0.375, threshold 0.625 * 8 = 5 memorized
    assert.equal(reachedMemorizationPoint(5, 8, 0.25, 0.125), true);
    assert.equal(reachedMemorizationPoint(4, 8, 0.25, 0.125), false);
    assert.equal(reachedMemorizationPoint(5, 8, 0.25), false, "unshifted needs 6");
    // relative +50 %: sigma' = 0.25 * 1.5 = 0.375, the same threshold
    assert.equal(reachedMemorizationPoint(5, 8, 0.25, 0.5, "relative"), true);
    // shift -0.125: sigma' = 0.125, threshold 7
    assert.equal(reachedMemorizationPoint(6, 8, 0.25, -0.125), false);
    assert.equal(reachedMemorizationPoint(7, 8, 0.25, -0.125), true);
  });

  test("bad arguments are refused", () => {
    assert.throws(() => reachedMemorizationPoint(3, 0, 0.2), /total/);
    assert.throws(() => reachedMemorizationPoint(11, 10, 0.2), /memorized/);
    assert.throws(() => reachedMemorizationPoint(-1, 10, 0.2), /memorized/);
    assert.throws(() => reachedMemorizationPoint(5, 10, NaN), /noise rate/);
    assert.throws(() => reachedMemorizationPoint(5, 10, 1.2), /noise rate/);
  });
});

describe("MemorizationPointTracker", () => {
  // The official ML-100K log (sgdl-reference.md Section 4): |D| = 66,899, per epoch the
  // estimated clean ratio 1 - sigma_hat and the memorized ratio; the code switched at epoch 8.
  const total = 66899;
  const clean = [0.53617, 0.59634, 0.65548, 0.72161, 0.75648, 0.78552, 0.77124, 0.75524];
  const memorizedRatio = [0, 0, 0, 0, 0.64248, 0.75142, 0.76569, 0.77203];
  const replay = (t: MemorizationPointTracker): boolean[] =>
    clean.map((c, e) => t.observe(e + 1, Math.round(memorizedRatio[e] * total), 1 - c));

  test("replays the official Phase I trace: first reached at epoch 8", () => {
    const t = new MemorizationPointTracker(total);
    const reached = replay(t);
    assert.deepEqual(reached, [false, false, false, false, false, false, false, true]);
    assert.equal(t.switchEpoch, 8);
    assert.equal(t.history.length, 8);
    close(t.history[7].threshold, 0.75524, 1e-12, "threshold = 1 - sigma_hat");
    close(t.history[7].memorizedRatio, 0.77203, 1e-5, "memorized ratio");
    close(t.history[5].noiseRate, 1 - 0.78552, 1e-12, "noise rate kept");
  });

  test("shift +5 points switches earlier (epoch 6), -5 points later (not within the trace)", () => {
    // +0.05: epoch 6 threshold 0.78552 - 0.05 = 0.73552 <= 0.75142; epoch 5: 0.70648 > 0.64248
    const early = new MemorizationPointTracker(total, 0.05);
    replay(early);
    assert.equal(early.switchEpoch, 6);
    // -0.05: thresholds 0.83648, 0.82124, 0.80524 for epochs 6-8, all above the memorized ratio
    const late = new MemorizationPointTracker(total, -0.05);
    replay(late);
    assert.equal(late.switchEpoch, null);
  });

  test("switchEpoch stays at the first epoch the rule held", () => {
    const t = new MemorizationPointTracker(10);
    t.observe(1, 9, 0.2);
    t.observe(2, 5, 0.2);
    t.observe(3, 9, 0.2);
    assert.equal(t.switchEpoch, 1);
    assert.deepEqual(t.history.map((h) => h.reached), [true, false, true]);
    assert.throws(() => t.observe(3, 9, 0.2), /epochs must increase/);
  });
});
