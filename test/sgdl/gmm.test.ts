/**
 * The two-component GMM against hand arithmetic, sklearn 1.2.1 reference
 * numbers (GaussianMixture run once by hand on the same inputs, values pasted
 * below) and samples drawn from known mixtures.
 */
import { describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { fitGmm2, posterior, type Gmm2 } from "../../src/methods/sgdl/gmm";
import { Rng } from "../../src/util/rng";

/** n draws from w0 N(m0, s0^2) + w1 N(m1, s1^2), with the true component of each. */
function drawMixture(rng: Rng, n: number, w1: number, m: [number, number], s: [number, number]): { x: Float64Array; z: Uint8Array } {
  const x = new Float64Array(n);
  const z = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    z[i] = rng.next() < w1 ? 1 : 0;
    x[i] = m[z[i]] + s[z[i]] * rng.normal();
  }
  return { x, z };
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

function closeRel(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual} vs ${expected} (rel ${rel})`);
}

function assertValid(g: Gmm2): void {
  for (const v of [...g.weights, ...g.means, ...g.variances, g.logLikelihood]) assert.ok(Number.isFinite(v), `finite: ${JSON.stringify(g)}`);
  assert.ok(g.means[0] <= g.means[1], "component 1 has the larger mean");
  close(g.weights[0] + g.weights[1], 1, 1e-12, "weights sum");
}

describe("fitGmm2 on samples from known mixtures", () => {
  test("weights (0.8, 0.2), means (0.2, 0.7), sds (0.05, 0.1), n = 20,000", () => {
    const { x } = drawMixture(new Rng(7), 20000, 0.2, [0.2, 0.7], [0.05, 0.1]);
    const g = fitGmm2(x); // sklearn defaults of the official code: tol 1e-2, reg 5e-4, max 100
    assertValid(g);
    assert.ok(g.converged);
    close(g.weights[1], 0.2, 0.015, "weight of the noisy component");
    close(g.means[0], 0.2, 0.01, "mean 0");
    close(g.means[1], 0.7, 0.01, "mean 1");
    // the fitted variance includes reg_covar: compare with sd^2 + 5e-4
    closeRel(g.variances[0], 0.05 ** 2 + 5e-4, 0.1, "variance 0");
    closeRel(g.variances[1], 0.1 ** 2 + 5e-4, 0.1, "variance 1");
  });

  test("well separated: (0.5, 0.5), N(0, 1) vs N(10, 2^2), n = 10,000", () => {
    const { x } = drawMixture(new Rng(11), 10000, 0.5, [0, 10], [1, 2]);
    const g = fitGmm2(x, { regCovar: 1e-6 });
    assertValid(g);
    close(g.weights[1], 0.5, 0.015, "weight 1");
    close(g.means[0], 0, 0.05, "mean 0");
    close(g.means[1], 10, 0.1, "mean 1");
    closeRel(g.variances[0], 1, 0.1, "variance 0");
    closeRel(g.variances[1], 4, 0.1, "variance 1");
  });

  test("strongly overlapping: (0.6, 0.4), N(0.4, 0.1^2) vs N(0.6, 0.1^2), n = 50,000, run to convergence", () => {
    // the means are 2 sds apart, so the density has a single mode and EM crawls: it needs a tight tol
    const { x } = drawMixture(new Rng(3), 50000, 0.4, [0.4, 0.6], [0.1, 0.1]);
    const g = fitGmm2(x, { tol: 1e-8, maxIter: 5000, regCovar: 1e-8 });
    assertValid(g);
    assert.ok(g.converged);
    close(g.weights[1], 0.4, 0.03, "weight 1");
    close(g.means[0], 0.4, 0.01, "mean 0");
    close(g.means[1], 0.6, 0.01, "mean 1");
    closeRel(g.variances[0], 0.01, 0.1, "variance 0");
    closeRel(g.variances[1], 0.01, 0.1, "variance 1");
  });

  test("label switching: a permuted input gives the same ordered mixture", () => {
    const { x } = drawMixture(new Rng(5), 5000, 0.3, [0.7, 0.1], [0.1, 0.05]); // component 0 drawn with the LARGER mean
    const a = fitGmm2(x);
    const y = new Rng(99).shuffle(Float64Array.from(x));
    const b = fitGmm2(y);
    assert.ok(a.means[0] < a.means[1]);
    close(a.weights[0], 0.3, 0.02, "the smaller-mean component (0.1) has weight 0.3");
    for (let k = 0; k < 2; k++) {
      close(b.means[k], a.means[k], 1e-9, `mean ${k}`);
      close(b.weights[k], a.weights[k], 1e-9, `weight ${k}`);
      close(b.variances[k], a.variances[k], 1e-9, `variance ${k}`);
    }
    // an explicit start with the components given in the other order ends ordered by mean too
    const c = fitGmm2(x, { init: { weights: [0.5, 0.5], means: [0.8, 0.0], variances: [0.01, 0.01] }, tol: 1e-8 });
    close(c.means[0], a.means[0], 1e-3, "reversed start, mean 0");
    close(c.means[1], a.means[1], 1e-3, "reversed start, mean 1");
  });

  test("the same input gives bit-identical fits (deterministic, no hidden randomness)", () => {
    const { x } = drawMixture(new Rng(8), 3000, 0.25, [0.2, 0.6], [0.08, 0.1]);
    assert.deepEqual(fitGmm2(x), fitGmm2(x));
    assert.deepEqual(fitGmm2(x, { init: "quantiles" }), fitGmm2(x, { init: "quantiles" }));
  });

  test("quantile init converges to the same mixture as k-means init", () => {
    const { x } = drawMixture(new Rng(21), 20000, 0.2, [0.2, 0.7], [0.05, 0.1]);
    const a = fitGmm2(x, { tol: 1e-9, maxIter: 1000 });
    const b = fitGmm2(x, { init: "quantiles", tol: 1e-9, maxIter: 1000 });
    for (let k = 0; k < 2; k++) close(b.means[k], a.means[k], 1e-5, `mean ${k}`);
  });

  test("float32 input fits like its float64 copy", () => {
    const { x } = drawMixture(new Rng(4), 4000, 0.2, [0.2, 0.7], [0.05, 0.1]);
    const x32 = Float32Array.from(x);
    const a = fitGmm2(x32);
    const b = fitGmm2(Float64Array.from(x32));
    assert.deepEqual(a, b);
  });
});

describe("fitGmm2 against hand arithmetic and sklearn", () => {
  test("the posterior is the Bayes ratio w1 N1 / (w0 N0 + w1 N1)", () => {
    // w = (0.75, 0.25), mu = (0, 2), var = (1, 4), x = 1:
    //   w0 N0 = 0.75 * exp(-1/2) / sqrt(2 pi)        = 0.75 * 0.60653066 / 2.50662827 = 0.18147804
    //   w1 N1 = 0.25 * exp(-1/8) / sqrt(2 pi * 4)    = 0.25 * 0.88249690 / 5.01325655 = 0.04400817
    //   p1 = 0.04400817 / (0.18147804 + 0.04400817)  = 0.19517010
    const g = { weights: [0.75, 0.25] as [number, number], means: [0, 2] as [number, number], variances: [1, 4] as [number, number] };
    const p = posterior(g, [1, 2, 100, -100]);
    close(p[0], 0.1951701, 1e-6, "p1(1)");
    // x = 2: w0 N0 = 0.75 e^-2 / 2.50662827 = 0.04049322; w1 N1 = 0.25 / 5.01325655 = 0.04986779
    //   p1 = 0.04986779 / 0.09036101 = 0.55187282
    close(p[1], 0.5518728, 1e-6, "p1(2)");
    // far out, the wider component wins without overflow: e^(l0 - l1) underflows to 0
    assert.equal(p[2], 1);
    assert.equal(p[3], 1);
    // a point between two equal-variance components far from both: only the ratio matters
    // w = (0.5, 0.5), mu = (0, 1), var = (1e-4, 1e-4), x = 0.6: l1 - l0 = (0.36 - 0.16) / 2e-4 = 1000
    const q = posterior({ weights: [0.5, 0.5], means: [0, 1], variances: [1e-4, 1e-4] }, [0.6, 0.4]);
    assert.equal(q[0], 1);
    close(q[1], Math.exp(-1000), 1e-300, "p1(0.4) = e^-1000 / (1 + e^-1000) underflows to 0");
  });

  test("one EM iteration on 4 points from a given start", () => {
    // x = (0, 1, 3, 4); start w = (0.75, 0.25), mu = (0, 4), var = (1, 1); reg 5e-4.
    // E-step: l1 - l0 = log(0.25/0.75) - (x-4)^2/2 + x^2/2 = -log 3 + 4x - 8, so r1(x) = 1 / (1 + 3 e^(8 - 4x)):
    //   r1 = (1/(1+3e^8), 1/(1+3e^4), 1/(1+3e^-4), 1/(1+3e^-8))
    //      = (0.000111808, 0.006068166, 0.947914994, 0.998994624)
    // M-step: n1 = sum r1 = 1.953089592, n0 = 4 - n1 = 2.046910408
    //   w = (n0/4, n1/4) = (0.511727602, 0.488272398)
    //   mu1 = sum r1 x / n1 = (0.006068166 + 3*0.947914994 + 4*0.998994624) / n1 = 6.845791644 / n1 = 3.505108865
    //   mu0 = sum (1-r1) x / n0 = (0.993931834 + 3*0.052085006 + 4*0.001005376) / n0 = 1.154208356 / n0 = 0.563878298
    //   var1 = sum r1 (x - mu1)^2 / n1 + 5e-4 = 0.269802605, var0 = 0.404987593 (same sums with 1 - r1)
    // sklearn 1.2.1, GaussianMixture(2, max_iter=1, reg_covar=5e-4, weights_init, means_init,
    // precisions_init=1): weights (0.5117276020910767, 0.48827239790892324), means
    // (0.5638782980547026, 3.5051088654503486), covariances (0.4049875925582982, 0.26980260502982806).
    const g = fitGmm2(new Float64Array([0, 1, 3, 4]), { maxIter: 1, init: { weights: [0.75, 0.25], means: [0, 4], variances: [1, 1] } });
    assert.equal(g.iterations, 1);
    assert.equal(g.converged, false);
    close(g.weights[0], 0.5117276020910767, 1e-12, "w0");
    close(g.weights[1], 0.48827239790892324, 1e-12, "w1");
    close(g.means[0], 0.5638782980547026, 1e-12, "mu0");
    close(g.means[1], 3.5051088654503486, 1e-12, "mu1");
    close(g.variances[0], 0.4049875925582982, 1e-12, "var0");
    close(g.variances[1], 0.26980260502982806, 1e-12, "var1");
  });

  test("k-means init is the exact 2-means split (maxIter 0 returns the start)", () => {
    // x = (0, 1, 2, 10): splits {0}|{1,2,10} SSE 0 + 48.67; {0,1}|{2,10} 0.5 + 32; {0,1,2}|{10} 2 + 0 -> best
    // start = M-step of that hard split: w = (3/4, 1/4), mu = (1, 10), var = (2/3 + 5e-4, 0 + 5e-4)
    const g = fitGmm2(new Float64Array([10, 0, 2, 1]), { maxIter: 0 });
    close(g.weights[0], 0.75, 1e-12, "w0");
    close(g.means[0], 1, 1e-12, "mu0");
    close(g.means[1], 10, 1e-12, "mu1");
    close(g.variances[0], 2 / 3 + 5e-4, 1e-12, "var0");
    close(g.variances[1], 5e-4, 1e-12, "var1");
    // quantiles: split at the median rank (s[1] = 1): {0,1}|{2,10}: mu = (0.5, 6), var = (0.25, 16) + 5e-4
    const q = fitGmm2(new Float64Array([10, 0, 2, 1]), { maxIter: 0, init: "quantiles" });
    close(q.means[0], 0.5, 1e-12, "q mu0");
    close(q.means[1], 6, 1e-12, "q mu1");
    close(q.variances[0], 0.25 + 5e-4, 1e-12, "q var0");
    close(q.variances[1], 16 + 5e-4, 1e-12, "q var1");
  });

  test("a full default fit matches sklearn (14 points, tol 1e-2 and 1e-8)", () => {
    // sklearn 1.2.1: GaussianMixture(2, max_iter=100, tol=tol, reg_covar=5e-4, random_state=0).fit(x)
    const x = new Float64Array([0.05, 0.1, 0.12, 0.15, 0.18, 0.2, 0.22, 0.25, 0.3, 0.62, 0.7, 0.75, 0.8, 0.95]);
    const ref = [
      { tol: 1e-2, w: [0.6428340458018862, 0.3571659541981138], mu: [0.17444011035712992, 0.7639696754457329], v: [0.005924356820078164, 0.012697443184905231], iter: 2, score: 0.39186993505693, post: [0.0002988944272893994, 0.9946882152014008, 0.9999996847241979] },
      { tol: 1e-8, w: [0.6428340434928866, 0.35716595650711336], mu: [0.1744401099268922, 0.7639696724089035], v: [0.005924356786620327, 0.012697444535135247], iter: 4, score: 0.3918699344623301, post: [0.0002988947210380458, 0.9946882172257272, 0.9999996847242616] },
    ];
    for (const r of ref) {
      const g = fitGmm2(x, { tol: r.tol });
      assert.equal(g.iterations, r.iter, `n_iter_ at tol ${r.tol}`);
      assert.equal(g.converged, true);
      for (let k = 0; k < 2; k++) {
        close(g.weights[k], r.w[k], 1e-12, `w${k}`);
        close(g.means[k], r.mu[k], 1e-12, `mu${k}`);
        close(g.variances[k], r.v[k], 1e-12, `var${k}`);
      }
      close(g.logLikelihood, r.score, 1e-12, "mean log-likelihood (sklearn score)");
      const p = posterior(g, [0.3, 0.5, 0.62]);
      for (let k = 0; k < 3; k++) close(p[k], r.post[k], 1e-12, `posterior ${k}`);
    }
  });
});

describe("fitGmm2 on degenerate input", () => {
  test("all-equal values: both components on the value, variance regCovar, posterior 0.5", () => {
    const g = fitGmm2(new Float32Array([0.3, 0.3, 0.3, 0.3]));
    assert.deepEqual(g.weights, [0.5, 0.5]);
    assert.deepEqual(g.means, [Math.fround(0.3), Math.fround(0.3)]);
    assert.deepEqual(g.variances, [5e-4, 5e-4]);
    // log N(v; v, 5e-4) = -log(2 pi 5e-4) / 2 = -(ln 0.0031415927) / 2 = -(-5.7630254) / 2 = 2.8815127
    close(g.logLikelihood, 2.8815127, 1e-6, "log-likelihood");
    assert.deepEqual(Array.from(posterior(g, [0.3, 0, 1])), [0.5, 0.5, 0.5]);
  });

  test("a single value is fitted like all-equal input", () => {
    const g = fitGmm2(new Float64Array([2]));
    assert.deepEqual(g.means, [2, 2]);
    assert.deepEqual(Array.from(posterior(g, [2])), [0.5]);
  });

  test("two distinct values give finite parameters", () => {
    const g = fitGmm2(new Float64Array([0, 0, 0, 1]));
    assertValid(g);
    close(g.means[0], 0, 1e-9, "mu0");
    close(g.means[1], 1, 1e-9, "mu1");
    close(g.weights[1], 0.25, 1e-9, "w1");
  });

  test("empty input, NaN, Infinity and bad options are refused with the index named", () => {
    assert.throws(() => fitGmm2(new Float64Array(0)), /empty input/);
    assert.throws(() => fitGmm2(new Float64Array([0.1, NaN, 0.3])), /x\[1\] is NaN/);
    assert.throws(() => fitGmm2(new Float32Array([0.1, 0.2, Infinity])), /x\[2\] is Infinity/);
    assert.throws(() => fitGmm2(new Float64Array([-Infinity])), /x\[0\] is -Infinity/);
    assert.throws(() => fitGmm2(new Float64Array([0, 1]), { regCovar: 0 }), /regCovar must be > 0/);
    assert.throws(() => fitGmm2(new Float64Array([0, 1]), { maxIter: 1.5 }), /maxIter/);
    assert.throws(() => fitGmm2(new Float64Array([0, 1]), { init: { weights: [1, 0], means: [0, 1], variances: [1, 1] } }), /explicit init/);
  });
});
