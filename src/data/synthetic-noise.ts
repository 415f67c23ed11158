/**
 * The noise model of the synthetic generator: which items a noisy positive is
 * drawn from, and how item popularity weighs the draw.
 *
 * Default ("near-miss", exponent 0): a noisy positive is a uniformly drawn item
 * the user is lukewarm about, with affinity between the user's median and the
 * preferred cut (0 <= a < PREFERRED_AFFINITY, 20 % of the items). Two facts of
 * real logs motivate it, measured on ML-100K (ratings < 3 as noise, as in
 * 4.1.1) against the `default` preset:
 * - Noise sits on less popular items: the mean log item degree of noisy
 *   interactions is 0.49 below that of clean ones (ML-100K); uniform draws give
 *   0.51, popularity-weighted draws (v1) -0.23, i.e. noise on MORE popular items,
 *   which a model learns first.
 * - Noise is slightly more plausible than a random item: the leave-one-out
 *   item-kNN score of a noisy interaction beats that of a popularity-matched
 *   unobserved item of the same user 52.7 % of the time (ML-100K); near-miss
 *   items give 52.4 %, below-median items (v1) 39.6 %, i.e. noise that
 *   contradicts the user's taste, which a model un-learns instead of memorizing.
 * With both, noisy positives are memorized later than clean ones and MP falls
 * over SGDL Phase I as on real data (paper Figure 3); with v1's choice it rose.
 * "below-median" with exponent 1 reproduces the v1 generator's draws exactly.
 */
import { DataError } from "../util/errors";

/** Affinity at or above which an item is preferred: the 0.7 quantile of N(0, 1). */
export const PREFERRED_AFFINITY = 0.5244005127080407;

/** The item pools noisy positives may come from. */
export type NoisyPool = "near-miss" | "below-median";

/** An affinity interval [from, below) and the share of N(0, 1) items it holds. */
export interface AffinityRange {
  readonly from: number;
  readonly below: number;
  readonly share: number;
}

/** near-miss: median <= a < preferred cut (0.7 - 0.5 = 20 % of items); below-median: a < 0 (50 %, the v1 generator). */
export const NOISY_POOLS: Readonly<Record<NoisyPool, AffinityRange>> = {
  "near-miss": { from: 0, below: PREFERRED_AFFINITY, share: 0.2 },
  "below-median": { from: -Infinity, below: 0, share: 0.5 },
};

/** Default pool of noisy positives. */
export const DEFAULT_NOISY_POOL: NoisyPool = "near-miss";
/** Default alpha in popularity^alpha for noisy draws: 0, uniform over the pool (v1 used 1, as for clean draws). */
export const DEFAULT_NOISY_POPULARITY_EXPONENT = 0;

/** The noise-model choices of SyntheticOptions, defaults filled in. */
export interface NoiseModel {
  pool: NoisyPool;
  popularityExponent: number;
}

/** Fills in defaults and checks the noise-model options, naming the bad field. */
export function noiseModel(opts: { noisyPool?: NoisyPool; noisyPopularityExponent?: number }): NoiseModel {
  const pool = opts.noisyPool ?? DEFAULT_NOISY_POOL;
  if (!Object.prototype.hasOwnProperty.call(NOISY_POOLS, pool)) {
    throw new DataError({ file: "SyntheticOptions", field: "noisyPool" }, `must be one of ${Object.keys(NOISY_POOLS).map((k) => `"${k}"`).join(", ")}, got ${JSON.stringify(pool)}`);
  }
  const alpha = opts.noisyPopularityExponent ?? DEFAULT_NOISY_POPULARITY_EXPONENT;
  if (!(Number.isFinite(alpha) && alpha >= 0)) {
    throw new DataError({ file: "SyntheticOptions", field: "noisyPopularityExponent" }, `must be a finite number >= 0, got ${alpha}`);
  }
  return { pool, popularityExponent: alpha };
}

/** Whether affinity a lies in the noisy pool's interval [from, below). */
export function inNoisyPool(pool: NoisyPool, a: number): boolean {
  const r = NOISY_POOLS[pool];
  return a >= r.from && a < r.below;
}

/** Sampling weight of each item for noisy draws: popularity^alpha (all ones for alpha = 0). */
export function noisyWeights(popularity: Float64Array, alpha: number): Float64Array {
  if (alpha === 1) return popularity.slice();
  return Float64Array.from(popularity, (p) => (alpha === 0 ? 1 : Math.pow(p, alpha)));
}
