/**
 * A two-component 1-D Gaussian mixture fitted by EM, as SGDL uses it to split
 * normalised losses into a clean (small-mean) and a noisy (large-mean) part
 * (paper Section 3.1.2; the official code calls sklearn's
 * GaussianMixture(n_components=2, max_iter=100, tol=1e-2, reg_covar=5e-4)).
 *
 * The EM loop follows sklearn (1.2): start from hard responsibilities, one
 * M-step, then repeat {E-step, M-step} until the mean per-sample
 * log-likelihood (computed in the E-step) changes by less than `tol`;
 * `reg_covar` is added to each variance and 10 * eps to each component mass.
 * Where we differ:
 * - init "kmeans": sklearn runs KMeans(n_init=1) from a random k-means++ start
 *   (numpy's global RNG in the official code). Here it is the exact 1-D
 *   2-means split (the threshold between sorted values that minimises the
 *   within-cluster sum of squares), which is what Lloyd's algorithm aims at,
 *   needs no random numbers, and is deterministic. Both inits are therefore
 *   deterministic and `fitGmm2` takes no Rng.
 * - sums are accumulated in float64 even for Float32Array input (sklearn keeps
 *   float32 input in float32, with float32's eps).
 * - `logLikelihood` is the mean per-sample log-likelihood under the returned
 *   parameters (sklearn's lower_bound_ is the value one M-step earlier).
 * - all-equal input (or a single value) is fitted, not refused: both
 *   components sit on the value with weight 0.5 and variance regCovar, so the
 *   posterior is 0.5 everywhere (sklearn refuses n < 2 and warns on ties).
 */

/** A fitted two-component mixture; component 1 has the larger mean. */
export interface Gmm2 {
  weights: [number, number];
  means: [number, number];
  variances: [number, number];
  converged: boolean;
  iterations: number;
  logLikelihood: number;
}

/** Mixture parameters without fit diagnostics (an explicit EM start). */
export type Gmm2Params = Pick<Gmm2, "weights" | "means" | "variances">;

export interface GmmOptions {
  /** EM iterations at most (sklearn max_iter). Default 100. */
  maxIter?: number;
  /** Stop when the mean log-likelihood per sample changes by less (sklearn tol). Default 1e-2. */
  tol?: number;
  /** Added to each variance (sklearn reg_covar). Default 5e-4; must be > 0. */
  regCovar?: number;
  /** "kmeans" (exact 1-D 2-means split), "quantiles" (split at the median rank) or explicit start parameters. */
  init?: "kmeans" | "quantiles" | Gmm2Params;
}

const LOG_2PI = Math.log(2 * Math.PI);
const MASS_EPS = 10 * Number.EPSILON; // sklearn: nk + 10 * eps

/** Fits a 2-component 1-D Gaussian mixture by EM; components ordered by mean. */
export function fitGmm2(x: Float32Array | Float64Array, opts: GmmOptions = {}): Gmm2 {
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-2;
  const regCovar = opts.regCovar ?? 5e-4;
  const init = opts.init ?? "kmeans";
  if (!(regCovar > 0)) throw new RangeError(`fitGmm2: regCovar must be > 0, got ${regCovar}`);
  if (!(maxIter >= 0) || !Number.isInteger(maxIter)) throw new RangeError(`fitGmm2: maxIter must be a non-negative integer, got ${maxIter}`);
  const n = x.length;
  if (n === 0) throw new RangeError("fitGmm2: empty input (no values to fit)");
  const xs = Float64Array.from(x);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xs[i])) throw new RangeError(`fitGmm2: x[${i}] is ${xs[i]}; every value must be finite`);
  }
  let lo = xs[0];
  let hi = xs[0];
  for (let i = 1; i < n; i++) {
    if (xs[i] < lo) lo = xs[i];
    if (xs[i] > hi) hi = xs[i];
  }
  if (lo === hi) return degenerate(lo, regCovar);

  let p: Gmm2Params;
  if (typeof init === "object") p = checkedStart(init);
  else {
    const threshold = init === "kmeans" ? kmeansThreshold(xs) : medianThreshold(xs);
    const r1 = new Float64Array(n);
    for (let i = 0; i < n; i++) r1[i] = xs[i] > threshold ? 1 : 0;
    p = mStep(xs, r1, regCovar);
  }

  const r1 = new Float64Array(n);
  let lowerBound = -Infinity;
  let converged = false;
  let iterations = 0;
  for (let it = 1; it <= maxIter; it++) {
    const prev = lowerBound;
    lowerBound = eStep(xs, p, r1);
    p = mStep(xs, r1, regCovar);
    iterations = it;
    if (Math.abs(lowerBound - prev) < tol) {
      converged = true;
      break;
    }
  }
  const logLikelihood = eStep(xs, p, r1);
  const swap = p.means[0] > p.means[1];
  const o = swap ? [1, 0] : [0, 1];
  return {
    weights: [p.weights[o[0]], p.weights[o[1]]],
    means: [p.means[o[0]], p.means[o[1]]],
    variances: [p.variances[o[0]], p.variances[o[1]]],
    converged,
    iterations,
    logLikelihood,
  };
}

/** p(component 1 | x) for every value: the posterior of the larger-mean component, by log-sum-exp. */
export function posterior(g: Gmm2Params, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  const c = logNormalizers(g);
  for (let i = 0; i < x.length; i++) {
    const d0 = x[i] - g.means[0];
    const d1 = x[i] - g.means[1];
    const l0 = c[0] - (0.5 * d0 * d0) / g.variances[0];
    const l1 = c[1] - (0.5 * d1 * d1) / g.variances[1];
    // p1 = e^l1 / (e^l0 + e^l1) = 1 / (1 + e^(l0 - l1)), written so that exp never overflows
    out[i] = l1 >= l0 ? 1 / (1 + Math.exp(l0 - l1)) : Math.exp(l1 - l0) / (1 + Math.exp(l1 - l0));
  }
  return out;
}

/** log w_k - log(2 pi var_k) / 2 for both components: log(w_k N(x; mu_k, var_k)) = that - (x - mu_k)^2 / (2 var_k). */
function logNormalizers(g: Gmm2Params): [number, number] {
  return [
    Math.log(g.weights[0]) - 0.5 * (LOG_2PI + Math.log(g.variances[0])),
    Math.log(g.weights[1]) - 0.5 * (LOG_2PI + Math.log(g.variances[1])),
  ];
}

/** Writes p(component 1 | x_i) into r1 and returns the mean log-likelihood per sample. */
function eStep(xs: Float64Array, p: Gmm2Params, r1: Float64Array): number {
  const c = logNormalizers(p);
  let total = 0;
  for (let i = 0; i < xs.length; i++) {
    const d0 = xs[i] - p.means[0];
    const d1 = xs[i] - p.means[1];
    const l0 = c[0] - (0.5 * d0 * d0) / p.variances[0];
    const l1 = c[1] - (0.5 * d1 * d1) / p.variances[1];
    const m = l0 > l1 ? l0 : l1;
    const lse = m + Math.log1p(Math.exp((l0 > l1 ? l1 : l0) - m));
    r1[i] = Math.exp(l1 - lse);
    total += lse;
  }
  return total / xs.length;
}

/** Weights, means and variances (+ regCovar) from the responsibilities of component 1. */
function mStep(xs: Float64Array, r1: Float64Array, regCovar: number): Gmm2Params {
  const n = xs.length;
  let n1 = 0;
  let s0 = 0;
  let s1 = 0;
  for (let i = 0; i < n; i++) {
    n1 += r1[i];
    s0 += (1 - r1[i]) * xs[i];
    s1 += r1[i] * xs[i];
  }
  const nk: [number, number] = [n - n1 + MASS_EPS, n1 + MASS_EPS];
  const m: [number, number] = [s0 / nk[0], s1 / nk[1]];
  let v0 = 0;
  let v1 = 0;
  for (let i = 0; i < n; i++) {
    const d0 = xs[i] - m[0];
    const d1 = xs[i] - m[1];
    v0 += (1 - r1[i]) * d0 * d0;
    v1 += r1[i] * d1 * d1;
  }
  const total = nk[0] + nk[1];
  return { weights: [nk[0] / total, nk[1] / total], means: m, variances: [v0 / nk[0] + regCovar, v1 / nk[1] + regCovar] };
}

/** The exact 1-D 2-means split: values > threshold form the upper cluster. Needs >= 2 distinct values. */
function kmeansThreshold(xs: Float64Array): number {
  const s = Float64Array.from(xs).sort();
  const n = s.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += s[i];
  // minimising the within-cluster SS = maximising the between-cluster SS k(n-k)/n (meanL - meanR)^2
  let best = -1;
  let bestK = -1;
  let left = 0;
  for (let k = 1; k < n; k++) {
    left += s[k - 1];
    if (s[k - 1] === s[k]) continue; // split only between distinct values
    const d = left / k - (total - left) / (n - k);
    const between = ((k * (n - k)) / n) * d * d;
    if (between > best) {
      best = between;
      bestK = k;
    }
  }
  return s[bestK - 1];
}

/** Splits at the median rank (the lower half by value is component 0). Needs >= 2 distinct values. */
function medianThreshold(xs: Float64Array): number {
  const s = Float64Array.from(xs).sort();
  const t = s[Math.floor((s.length - 1) / 2)];
  // if the median equals the maximum, nothing would lie above: split just below it instead
  if (t < s[s.length - 1]) return t;
  let k = s.length - 1;
  while (s[k] === t) k--;
  return s[k];
}

/** A copy of explicit start parameters, refused unless weights and variances are positive and finite. */
function checkedStart(g: Gmm2Params): Gmm2Params {
  const ok = (v: number): boolean => Number.isFinite(v) && v > 0;
  if (!ok(g.weights[0]) || !ok(g.weights[1]) || !ok(g.variances[0]) || !ok(g.variances[1]) || !Number.isFinite(g.means[0]) || !Number.isFinite(g.means[1])) {
    throw new RangeError(`fitGmm2: explicit init needs finite means and positive finite weights and variances, got ${JSON.stringify(g)}`);
  }
  return { weights: [g.weights[0], g.weights[1]], means: [g.means[0], g.means[1]], variances: [g.variances[0], g.variances[1]] };
}

/** The all-equal case: both components on the value, posterior 0.5 everywhere. */
function degenerate(v: number, regCovar: number): Gmm2 {
  return {
    weights: [0.5, 0.5],
    means: [v, v],
    variances: [regCovar, regCovar],
    converged: true,
    iterations: 0,
    logLikelihood: -0.5 * (LOG_2PI + Math.log(regCovar)),
  };
}
