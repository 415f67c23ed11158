import { test } from "node:test";
import * as assert from "node:assert/strict";
import type { EvalResult } from "../../src/eval/evaluate";
import {
  alignPaired,
  pairedTTest,
  perUserOf,
  significanceMark,
  wilcoxonSignedRank,
  type PerUserValues,
} from "../../src/eval/significance";
import { logGamma, normalSf, regularizedIncompleteBeta, studentTCdf, studentTTwoSidedP } from "../../src/eval/special";
import { Rng } from "../../src/util/rng";

const close = (actual: number, expected: number, tol = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

/** Users 0..n-1 with the given values. */
const run = (values: number[]): PerUserValues => ({ users: Int32Array.from(values, (_, i) => i), values });
const zeros = (n: number): PerUserValues => run(new Array<number>(n).fill(0));

// ---- special functions ----

test("log-gamma at known points", () => {
  close(logGamma(1), 0, 1e-14);
  close(logGamma(2), 0, 1e-14);
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14); // Gamma(1/2) = sqrt(pi)
  close(logGamma(10), Math.log(362880), 1e-12); // 9!
  close(logGamma(2.5), Math.log(0.75 * Math.sqrt(Math.PI)), 1e-14); // Gamma(5/2) = 3/4 sqrt(pi)
});

test("incomplete beta matches its closed forms", () => {
  for (const x of [0.01, 0.2, 0.5, 0.73, 0.99]) {
    for (const a of [0.5, 1, 3, 40]) close(regularizedIncompleteBeta(x, a, 1), x ** a, 1e-12); // I_x(a,1) = x^a
    for (const b of [0.5, 2, 7]) close(regularizedIncompleteBeta(x, 1, b), 1 - (1 - x) ** b, 1e-12); // I_x(1,b) = 1-(1-x)^b
    close(regularizedIncompleteBeta(x, 2, 2), 3 * x * x - 2 * x ** 3, 1e-12); // integral of 6t(1-t)
    // I_x(1/2,1/2) = (2/pi) asin(sqrt x)  (arcsine distribution)
    close(regularizedIncompleteBeta(x, 0.5, 0.5), (2 / Math.PI) * Math.asin(Math.sqrt(x)), 1e-12);
    // symmetry I_x(a,b) = 1 - I_{1-x}(b,a)
    close(regularizedIncompleteBeta(x, 2.5, 7), 1 - regularizedIncompleteBeta(1 - x, 7, 2.5), 1e-12);
  }
  for (const a of [0.7, 5, 300]) close(regularizedIncompleteBeta(0.5, a, a), 0.5, 1e-12);
  assert.equal(regularizedIncompleteBeta(0, 2, 3), 0);
  assert.equal(regularizedIncompleteBeta(1, 2, 3), 1);
  assert.throws(() => regularizedIncompleteBeta(1.5, 2, 3), /bad arguments/);
});

test("two-sided t p-values: closed forms for df 1 and 2", () => {
  for (const t of [0, 0.3, 1, 2.5, 12.706, 100]) {
    close(studentTTwoSidedP(t, 1), 1 - (2 / Math.PI) * Math.atan(t), 1e-12); // Cauchy
    close(studentTTwoSidedP(-t, 2), 1 - t / Math.sqrt(2 + t * t), 1e-12);
  }
  assert.equal(studentTTwoSidedP(Infinity, 5), 0);
  assert.equal(studentTTwoSidedP(0, 5), 1);
});

test("two-sided t p-values at t-table critical values", () => {
  // printed tables: t(0.975; 9) = 2.262, t(0.995; 9) = 3.250, t(0.975; 30) = 2.042, t(0.975; 1) = 12.706
  close(studentTTwoSidedP(2.262, 9), 0.05, 1e-4);
  close(studentTTwoSidedP(3.25, 9), 0.01, 1e-4);
  close(studentTTwoSidedP(2.042, 30), 0.05, 1e-4);
  close(studentTTwoSidedP(12.706, 1), 0.05, 1e-4);
  // the same quantiles to full precision (scipy.stats.t.ppf(0.975, 9), t.ppf(0.995, 9))
  close(studentTTwoSidedP(2.2621571627409915, 9), 0.05, 1e-10);
  close(studentTTwoSidedP(3.2498355415921263, 9), 0.01, 1e-10);
  // large df tends to the normal: z(0.975) = 1.959963984540054
  close(studentTTwoSidedP(1.959963984540054, 1e6), 0.05, 1e-5);
  close(studentTTwoSidedP(1.959963984540054, 1e4), 0.05002773057447228, 1e-9); // scipy: 2 * t.sf(z, 1e4)
});

test("t CDF agrees with Simpson's rule on the df = 4 density", () => {
  // df = 4: f(t) = Gamma(5/2) / (sqrt(4 pi) Gamma(2)) (1 + t^2/4)^(-5/2) = (3/8) (1 + t^2/4)^(-5/2)
  const f = (t: number): number => 0.375 * (1 + (t * t) / 4) ** -2.5;
  for (const x of [0.25, 1, 2.1, 4.6]) {
    const m = 2000;
    const h = x / m;
    let s = f(0) + f(x);
    for (let i = 1; i < m; i++) s += (i % 2 === 1 ? 4 : 2) * f(i * h);
    const cdf = 0.5 + (s * h) / 3;
    close(studentTCdf(x, 4), cdf, 1e-10);
    close(studentTCdf(-x, 4), 1 - cdf, 1e-10);
  }
});

test("normal tail at known values", () => {
  close(normalSf(0), 0.5, 1e-15);
  close(normalSf(Math.SQRT2), 0.5 * 0.157299207050285, 1e-14); // erfc(1) / 2
  close(normalSf(1), 0.158655253931457, 1e-13);
  close(normalSf(1.959963984540054), 0.025, 1e-13);
  close(normalSf(2.5758293035489004), 0.005, 1e-13);
  close(normalSf(-1.5), 1 - normalSf(1.5), 1e-15);
  close(normalSf(5) / 2.866515718791933e-7, 1, 1e-10); // scipy.stats.norm.sf(5)
});

// ---- paired t-test ----

test("paired t-test reproduces the t-table p-values 0.05 and 0.01 (df 9)", () => {
  /*
   * d = m + e with e = (+1, -1, +1, ..., -1), n = 10: mean(d) = m, sum (d - m)^2 = 10,
   * s^2 = 10/9, se = s / sqrt(10) = 1/3, so t = 3m. m = q/3 gives t = q.
   */
  for (const [q, p] of [
    [2.2621571627409915, 0.05],
    [3.2498355415921263, 0.01],
  ]) {
    const base = [0.1, 0.4, 0.2, 0.3, 0.5, 0.9, 0.6, 0.7, 0.0, 0.8];
    const a = run(base.map((v, i) => v + q / 3 + (i % 2 === 0 ? 1 : -1)));
    const r = pairedTTest(a, run(base));
    close(r.t, q, 1e-9);
    assert.equal(r.df, 9);
    assert.equal(r.n, 10);
    close(r.meanDiff, q / 3, 1e-12);
    close(r.p, p, 1e-8);
  }
});

test("paired t-test, d = (1, 2, 3) by hand", () => {
  // mean 2, s^2 = (1 + 0 + 1)/2 = 1, se = 1/sqrt(3), t = 2 sqrt(3); df 2: p = 1 - t/sqrt(2 + t^2) = 1 - sqrt(12/14)
  const r = pairedTTest(run([1, 2, 3]), zeros(3));
  close(r.t, 2 * Math.sqrt(3), 1e-12);
  close(r.p, 1 - Math.sqrt(6 / 7), 1e-12);
  close(r.p, 0.0741799, 1e-7);
});

test("paired t-test: swap symmetry, identical runs, constant shift, tiny n", () => {
  const a = run([0.3, 0.5, 0.2, 0.9, 0.4, 0.6, 0.1, 0.8]);
  const b = run([0.25, 0.45, 0.3, 0.7, 0.41, 0.5, 0.1, 0.6]);
  const ab = pairedTTest(a, b);
  const ba = pairedTTest(b, a);
  close(ab.t, 1.6726931718474247, 1e-12); // scipy.stats.ttest_rel
  close(ab.p, 0.1383056523821877, 1e-12);
  close(ba.t, -ab.t, 1e-15);
  close(ba.p, ab.p, 1e-15);
  assert.deepEqual(pairedTTest(a, a), { t: 0, df: 7, p: 1, meanDiff: 0, n: 8 });
  const shifted = run([1.3, 1.5, 1.2, 1.9]);
  const r = pairedTTest(shifted, run([0.3, 0.5, 0.2, 0.9]));
  // differences are 1.0 up to rounding (a tiny spread, or none): t is huge or infinite, p (near) 0
  assert.ok(r.t > 1e6 && r.p < 1e-12, `t=${r.t} p=${r.p}`);
  assert.equal(pairedTTest(run([2, 2, 2]), run([1, 1, 1])).p, 0); // exact constant difference 1
  assert.equal(pairedTTest(run([2, 2, 2]), run([1, 1, 1])).t, Infinity);
  assert.ok(Number.isNaN(pairedTTest(run([1]), run([0])).p));
});

// ---- pairing by user ----

test("runs are paired by user id, not by position", () => {
  const a: PerUserValues = { users: Int32Array.of(5, 2, 9), values: [0.5, 0.2, 0.9] };
  const b: PerUserValues = { users: Int32Array.of(9, 5, 2), values: [0.8, 0.1, 0.3] };
  const { x, y } = alignPaired(a, b);
  assert.deepEqual(Array.from(x), [0.5, 0.2, 0.9]);
  assert.deepEqual(Array.from(y), [0.1, 0.3, 0.8]);
  const sorted: PerUserValues = { users: Int32Array.of(2, 5, 9), values: [0.3, 0.1, 0.8] };
  assert.deepEqual(pairedTTest(a, b), pairedTTest(a, sorted));
});

test("different user sets are an error", () => {
  const a: PerUserValues = { users: Int32Array.of(1, 2, 3), values: [1, 2, 3] };
  assert.throws(() => pairedTTest(a, { users: Int32Array.of(1, 2), values: [1, 2] }), /different users/);
  assert.throws(() => wilcoxonSignedRank(a, { users: Int32Array.of(1, 2, 4), values: [1, 2, 3] }), /user 3 is in run a but not in run b/);
  assert.throws(() => alignPaired(a, { users: Int32Array.of(1, 1, 2), values: [1, 2, 3] }), /user 1 appears twice/);
  assert.throws(() => alignPaired(a, { users: Int32Array.of(1, 2, 3), values: [1, 2] }), /3 users but 2 values/);
});

test("perUserOf picks a metric of an evaluation", () => {
  const res: EvalResult = {
    ks: [5],
    users: Int32Array.of(0, 3),
    perUser: { "recall@5": Float64Array.of(0.5, 1), "ndcg@5": Float64Array.of(0.3, 1) },
    mean: { "recall@5": 0.75, "ndcg@5": 0.65 },
  };
  assert.deepEqual(Array.from(perUserOf(res, "ndcg@5").values), [0.3, 1]);
  assert.throws(() => perUserOf(res, "recall@20"), /no metric 'recall@20'/);
});

// ---- Wilcoxon signed-rank ----

test("Wilcoxon without ties, by hand: exact and normal approximation", () => {
  /*
   * d = (-1, 2, 3, -4, 5, 6, 7, 8): ranks of |d| are 1..8.
   * W- = 1 + 4 = 5, W+ = 36 - 5 = 31, W = min = 5.
   * Exact: subsets of {1..8} with rank sum <= 5: {}, {1}, {2}, {3}, {1,2}, {4}, {1,3}, {5}, {1,4}, {2,3} = 10;
   *   p = 2 * 10 / 2^8 = 0.078125.
   * Normal: E = 8*9/4 = 18, Var = 8*9*17/24 = 51, z = (31 - 18 - 0.5) / sqrt(51) = 12.5 / 7.14142843 = 1.75035011;
   *   p = 2 * P(Z > 1.75035) = 0.0800579 (scipy wilcoxon(method='approx', correction=True): 0.08005791998443475).
   */
  const d = run([-1, 2, 3, -4, 5, 6, 7, 8]);
  const ex = wilcoxonSignedRank(d, zeros(8));
  assert.equal(ex.exact, true);
  assert.equal(ex.n, 8);
  assert.equal(ex.wPlus, 31);
  assert.equal(ex.wMinus, 5);
  assert.equal(ex.w, 5);
  assert.equal(ex.p, 0.078125);
  close(ex.z, 12.5 / Math.sqrt(51), 1e-12);
  const ap = wilcoxonSignedRank(d, zeros(8), { method: "approx" });
  assert.equal(ap.exact, false);
  close(ap.p, 0.08005791998443475, 1e-12);
  // without continuity correction: z = 13 / sqrt(51) = 1.82036
  close(wilcoxonSignedRank(d, zeros(8), { method: "approx", correction: false }).z, 13 / Math.sqrt(51), 1e-12);
});

test("Wilcoxon with a zero and ties, by hand", () => {
  /*
   * d = (0, 1, -2, 2, 3, 3, 3, -4, 5): the zero is dropped, n = 8.
   * |d| = 1, 2, 2, 3, 3, 3, 4, 5 -> ranks 1, 2.5, 2.5, 5, 5, 5, 7, 8 (ties averaged).
   * W- = 2.5 (the -2) + 7 (the -4) = 9.5, W+ = 36 - 9.5 = 26.5.
   * Var = 8*9*17/24 - [(2^3 - 2) + (3^3 - 3)]/48 = 51 - 30/48 = 50.375.
   * z = (26.5 - 18 - 0.5) / sqrt(50.375) = 8 / 7.09753478 = 1.12715193; p = 0.2596783 (scipy: 0.25967825220979).
   * Without continuity correction: z = 8.5 / sqrt(50.375) = 1.19759892; p = 0.2310732 (scipy: 0.23107319627794864).
   */
  const d = run([0, 1, -2, 2, 3, 3, 3, -4, 5]);
  const r = wilcoxonSignedRank(d, zeros(9));
  assert.equal(r.n, 8);
  assert.equal(r.exact, false); // ties force the normal approximation
  assert.equal(r.wPlus, 26.5);
  assert.equal(r.w, 9.5);
  close(r.z, 8 / Math.sqrt(50.375), 1e-12);
  close(r.p, 0.25967825220979, 1e-12);
  close(wilcoxonSignedRank(d, zeros(9), { correction: false }).p, 0.23107319627794864, 1e-12);
  assert.throws(() => wilcoxonSignedRank(d, zeros(9), { method: "exact" }), /without ties/);
});

test("Wilcoxon exact tails: all five differences positive", () => {
  // n = 5, W- = 0: only the empty subset has rank sum 0, so p = 2 * 1/32 = 0.0625
  const r = wilcoxonSignedRank(run([0.1, 0.2, 0.3, 0.4, 0.5]), zeros(5));
  assert.equal(r.w, 0);
  assert.equal(r.p, 0.0625);
  // W = n(n+1)/4 exactly (n = 3, d = 1, 2, -3: W+ = 3 = W-): p = 2 * P(W <= 3) = 2 * 5/8 capped at 1
  assert.equal(wilcoxonSignedRank(run([1, 2, -3]), zeros(3)).p, 1);
});

test("Wilcoxon: identical runs, swap symmetry, p in [0, 1] on random samples", () => {
  const same = wilcoxonSignedRank(run([0.1, 0.5, 0.3]), run([0.1, 0.5, 0.3]));
  assert.equal(same.n, 0);
  assert.equal(same.p, 1);
  const rng = new Rng(11);
  for (let trial = 0; trial < 50; trial++) {
    const n = 2 + rng.int(60);
    const shift = (rng.next() - 0.5) * 0.4;
    // metric-like values on a coarse grid, so zeros and ties occur
    const a = run(Array.from({ length: n }, () => rng.int(5) / 4));
    const b = run(Array.from(a.values, (v) => Math.min(1, Math.max(0, v + shift + (rng.int(3) - 1) / 4))));
    const w1 = wilcoxonSignedRank(a, b);
    const w2 = wilcoxonSignedRank(b, a);
    assert.ok(w1.p >= 0 && w1.p <= 1, `p=${w1.p}`);
    assert.equal(w1.p, w2.p);
    assert.equal(w1.w, w2.w);
    close(w1.z, -w2.z, 0);
    const t1 = pairedTTest(a, b);
    const t2 = pairedTTest(b, a);
    assert.ok(t1.p >= 0 && t1.p <= 1, `p=${t1.p}`);
    close(t1.p, t2.p, 1e-12);
  }
});

test("a strong consistent improvement is significant for both tests", () => {
  const rng = new Rng(3);
  const n = 200;
  const b = run(Array.from({ length: n }, () => rng.next()));
  const a = run(Array.from(b.values, (v) => v + 0.05 + 0.05 * rng.normal()));
  assert.ok(pairedTTest(a, b).p < 1e-10);
  const w = wilcoxonSignedRank(a, b);
  assert.ok(w.p < 1e-10 && w.z > 0);
});

// ---- Table 2 marks ----

test("significance mark is the paper's dagger at the 0.05 level", () => {
  assert.equal(significanceMark(0.049), "\u2020");
  assert.equal(significanceMark(0.05), "");
  assert.equal(significanceMark(0.2), "");
  assert.equal(significanceMark(NaN), "");
  assert.equal(significanceMark(0.02, 0.01), "");
});
