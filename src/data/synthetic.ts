import { createHash } from "crypto";
import { DataError } from "../util/errors";
import { Rng } from "../util/rng";
import type { Dataset } from "./dataset";
import { fromTriples, type Interactions } from "./interactions";
import { splitPerUser } from "./split";
import { inNoisyPool, noiseModel, noisyWeights, NOISY_POOLS, PREFERRED_AFFINITY, type NoiseModel, type NoisyPool } from "./synthetic-noise";

export { NOISY_POOLS, PREFERRED_AFFINITY, type NoisyPool } from "./synthetic-noise";

/**
 * A synthetic implicit-feedback dataset whose noise is known exactly.
 *
 * True preference is a latent-factor affinity a(u, i) = <u_hat, v_i>, with u_hat a
 * unit vector and v_i ~ N(0, I), so each user's affinities over items are N(0, 1).
 * A user prefers item i when a(u, i) >= PREFERRED_AFFINITY (the top 30 %).
 * Clean positives are drawn from preferred items by item popularity (log-normal),
 * so the data has a realistic popularity skew. Noisy positives (flag 1) follow the
 * noise model of synthetic-noise.ts: by default uniformly drawn "near-miss" items
 * (median <= a < preferred cut), which, as noise in real logs, sit on less popular
 * items and fit the user's taste only loosely, so a model memorizes them late.
 * (v1 drew noisy positives by popularity from below-median items; options
 * `noisyPool: "below-median"`, `noisyPopularityExponent: 1` reproduce it.)
 * Per-user caps keep each user well inside both pools; only when a tiny item set
 * leaves a user's pool short does the draw widen to the nearest items by affinity
 * (never turning a preferred item into a noisy one while another item is free).
 */
export interface SyntheticOptions {
  users: number;
  items: number;
  /** Total interactions generated (train + valid + test, before the clean-test rule drops noisy test rows). */
  interactions: number;
  /** Share of noisy interactions among all generated ones. */
  noiseRate: number;
  seed: number;
  /** Latent dimension of the true preferences (default 16). */
  dim?: number;
  /** Affinity interval noisy positives come from (default "near-miss"; "below-median" is v1's). */
  noisyPool?: NoisyPool;
  /** alpha: noisy positives are drawn with weight popularity^alpha (default 0, uniform; 1 is v1's). */
  noisyPopularityExponent?: number;
}

/** Named sizes: `quick` for tests and notebooks, `default` ML-100K-sized, `yelp` Yelp-sized (Table 1). */
export const SYNTHETIC_PRESETS: Record<string, SyntheticOptions> = {
  quick: { users: 200, items: 300, interactions: 8000, noiseRate: 0.175, seed: 2020 },
  default: { users: 943, items: 1682, interactions: 100000, noiseRate: 0.175, seed: 2020 },
  yelp: { users: 45548, items: 57396, interactions: 1672520, noiseRate: 0.156, seed: 2020 },
};

/** Changes whenever the generator would produce different data for the same options. */
export const SYNTHETIC_GENERATOR_VERSION = "sgdl-kit synthetic v2";

/** Share of each user's items that the user truly prefers. */
export const PREFERRED_SHARE = 0.3;
/** Fewest interactions any user gets, so each user has train, valid and test rows under 8:1:1. */
export const MIN_PER_USER = 10;
/** Spread (log-normal sigma) of item popularity and of per-user activity. */
const POPULARITY_SIGMA = 1.2;
const ACTIVITY_SIGMA = 1.0;
/** A user takes at most this share of their preferred (or non-preferred) pool. */
const MAX_POOL_USE = 0.6;

/** The hidden truth behind a synthetic dataset. */
export interface SyntheticTruth {
  readonly dim: number;
  /** users x dim, row-major, each row of unit length. */
  readonly userFactors: Float64Array;
  /** items x dim, row-major, N(0, 1) entries. */
  readonly itemFactors: Float64Array;
  /** Positive sampling weight of each item (log-normal). */
  readonly itemPopularity: Float64Array;
}

/** The generated dataset, all interactions before the split, and the truth. */
export interface SyntheticResult {
  dataset: Dataset;
  all: Interactions;
  truth: SyntheticTruth;
}

/** True affinity a(u, i) = <u_hat, v_i>; N(0, 1) over items for every user. */
export function trueAffinity(truth: SyntheticTruth, u: number, i: number): number {
  const d = truth.dim;
  let s = 0;
  for (let k = 0; k < d; k++) s += truth.userFactors[u * d + k] * truth.itemFactors[i * d + k];
  return s;
}

/** Whether user u truly prefers item i (affinity in the top 30 %). */
export function isPreferred(truth: SyntheticTruth, u: number, i: number): boolean {
  return trueAffinity(truth, u, i) >= PREFERRED_AFFINITY;
}

/** The hidden factors and popularities for these options (the same ones generateSynthetic uses). */
export function syntheticTruth(opts: SyntheticOptions): SyntheticTruth {
  validate(opts);
  return drawTruth(opts, rootRng(opts.seed));
}

/** Generates the synthetic dataset (name "synthetic"), split 8:1:1 per user with a clean test set. */
export function generateSynthetic(opts: SyntheticOptions): Dataset {
  return generateSyntheticWithTruth(opts).dataset;
}

/** generateSynthetic, also returning the unsplit interactions and the hidden truth. */
export function generateSyntheticWithTruth(opts: SyntheticOptions): SyntheticResult {
  const { cap, noise } = validate(opts);
  const root = rootRng(opts.seed);
  const truth = drawTruth(opts, root);
  const counts = userCounts(opts, cap, root.fork());
  const noisyTotal = Math.round(opts.noiseRate * opts.interactions);
  const noisyCounts = apportionNoisy(counts, opts.interactions, noisyTotal);
  const all = drawInteractions(opts, noise, truth, counts, noisyCounts, root.fork());
  const split = splitPerUser(all, [8, 1, 1], opts.seed);
  const dim = truth.dim;
  const dataset: Dataset = {
    name: "synthetic",
    nUsers: opts.users,
    nItems: opts.items,
    originalUserIds: Int32Array.from({ length: opts.users }, (_, u) => u),
    originalItemIds: Int32Array.from({ length: opts.items }, (_, i) => i),
    train: split.train,
    valid: split.valid,
    test: split.test,
    source: { interactions: opts.interactions, noisy: noisyTotal, userIdSpace: opts.users, itemIdSpace: opts.items },
    fingerprint: syntheticFingerprint(opts),
    files: [],
    warnings: [],
    description:
      `synthetic (seed ${opts.seed}): ${opts.users} users x ${opts.items} items, ${opts.interactions} positives; ` +
      `clean = top-30% latent-factor affinity (dim ${dim}), popularity-weighted; ${(100 * opts.noiseRate).toFixed(1)}% noisy = ` +
      `${describeNoise(noise)}; per-user 8:1:1 split, clean test`,
  };
  return { dataset, all, truth };
}

/** sha256 of the normalised options and the generator version: the dataset's cache key. */
export function syntheticFingerprint(opts: SyntheticOptions): string {
  const noise = noiseModel(opts);
  const key = {
    generator: SYNTHETIC_GENERATOR_VERSION,
    users: opts.users,
    items: opts.items,
    interactions: opts.interactions,
    noiseRate: opts.noiseRate,
    seed: opts.seed,
    dim: opts.dim ?? 16,
    noisyPool: noise.pool,
    noisyPopularityExponent: noise.popularityExponent,
  };
  return createHash("sha256").update(JSON.stringify(key)).digest("hex");
}

// ---------------------------------------------------------------- internals

function rootRng(seed: number): Rng {
  // offset so the generator's stream is not the split's stream (the split uses Rng(seed))
  return new Rng((seed ^ 0x5eed5eed) >>> 0);
}

function describeNoise(noise: NoiseModel): string {
  const r = NOISY_POOLS[noise.pool];
  const range = noise.pool === "near-miss" ? "median <= affinity < top-30% cut" : "below-median affinity";
  const weight = noise.popularityExponent === 0 ? "uniform" : `popularity^${noise.popularityExponent}`;
  return `${noise.pool} (${range}, ${Math.round(100 * r.share)}% of items), ${weight}`;
}

function fail(field: string, problem: string): never {
  throw new DataError({ file: "SyntheticOptions", field }, problem);
}

/** Checks the options and returns the per-user cap on interactions and the noise model. */
function validate(opts: SyntheticOptions): { cap: number; noise: NoiseModel } {
  for (const f of ["users", "items", "interactions", "dim"] as const) {
    const v = f === "dim" ? opts.dim ?? 16 : opts[f];
    if (!Number.isInteger(v) || v < 1) fail(f, `must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(opts.seed)) fail("seed", `must be an integer, got ${opts.seed}`);
  const r = opts.noiseRate;
  if (!(r >= 0 && r < 1)) fail("noiseRate", `must be in [0, 1), got ${r}`);
  const noise = noiseModel(opts);
  // a user may use at most MAX_POOL_USE of the preferred pool (clean) and of the noisy pool
  const cleanCap = (MAX_POOL_USE * PREFERRED_SHARE * opts.items) / (1 - r);
  const noisyCap = r > 0 ? (MAX_POOL_USE * NOISY_POOLS[noise.pool].share * opts.items) / r : Infinity;
  const cap = Math.floor(Math.min(cleanCap, noisyCap));
  if (cap < MIN_PER_USER) fail("items", `${opts.items} items are too few: a user could hold only ${cap} interactions (< ${MIN_PER_USER})`);
  if (opts.interactions < MIN_PER_USER * opts.users)
    fail("interactions", `${opts.interactions} is below ${MIN_PER_USER} per user (${MIN_PER_USER * opts.users} for ${opts.users} users)`);
  if (opts.interactions > cap * opts.users)
    fail("interactions", `${opts.interactions} exceeds ${cap} per user x ${opts.users} users; add items or users`);
  return { cap, noise };
}

function drawTruth(opts: SyntheticOptions, root: Rng): SyntheticTruth {
  const dim = opts.dim ?? 16;
  const fr = root.fork();
  const userFactors = new Float64Array(opts.users * dim);
  for (let u = 0; u < opts.users; u++) {
    let norm = 0;
    for (let k = 0; k < dim; k++) {
      const x = fr.normal();
      userFactors[u * dim + k] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    for (let k = 0; k < dim; k++) userFactors[u * dim + k] /= norm;
  }
  const itemFactors = new Float64Array(opts.items * dim);
  for (let j = 0; j < itemFactors.length; j++) itemFactors[j] = fr.normal();
  const pr = root.fork();
  const itemPopularity = new Float64Array(opts.items);
  for (let i = 0; i < opts.items; i++) itemPopularity[i] = Math.exp(POPULARITY_SIGMA * pr.normal());
  return { dim, userFactors, itemFactors, itemPopularity };
}

/** Heavy-tailed per-user counts: min(cap, MIN + lambda * lognormal), lambda set so they sum to `interactions` exactly. */
function userCounts(opts: SyntheticOptions, cap: number, rng: Rng): Int32Array {
  const n = opts.users;
  const w = new Float64Array(n);
  for (let u = 0; u < n; u++) w[u] = Math.exp(ACTIVITY_SIGMA * rng.normal());
  const total = (lambda: number): number => {
    let s = 0;
    for (let u = 0; u < n; u++) s += Math.min(cap, MIN_PER_USER + lambda * w[u]);
    return s;
  };
  let lo = 0;
  let hi = 1;
  while (total(hi) < opts.interactions) hi *= 2;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (total(mid) <= opts.interactions) lo = mid;
    else hi = mid;
  }
  // floors at lo sum to at most `interactions`; hand the rest out by largest fraction
  const counts = new Int32Array(n);
  const frac = new Float64Array(n);
  let sum = 0;
  for (let u = 0; u < n; u++) {
    const x = Math.min(cap, MIN_PER_USER + lo * w[u]);
    counts[u] = Math.floor(x);
    frac[u] = x - counts[u];
    sum += counts[u];
  }
  const order = Array.from({ length: n }, (_, u) => u).sort((a, b) => frac[b] - frac[a] || a - b);
  for (let k = 0; sum < opts.interactions; k = (k + 1) % n) {
    const u = order[k];
    if (counts[u] < cap) {
      counts[u]++;
      sum++;
    }
  }
  return counts;
}

/** Noisy count per user, proportional to its count, summing to noisyTotal exactly (largest remainder, integer arithmetic). */
function apportionNoisy(counts: Int32Array, total: number, noisyTotal: number): Int32Array {
  const n = counts.length;
  const out = new Int32Array(n);
  const rem = new Float64Array(n);
  let sum = 0;
  for (let u = 0; u < n; u++) {
    const t = counts[u] * noisyTotal; // exact: well below 2^53
    out[u] = Math.floor(t / total);
    rem[u] = t - out[u] * total;
    sum += out[u];
  }
  const order = Array.from({ length: n }, (_, u) => u).sort((a, b) => rem[b] - rem[a] || a - b);
  for (let k = 0; sum < noisyTotal; k++) {
    out[order[k]]++; // rem > 0 here, so out stays below counts[u]
    sum++;
  }
  return out;
}

/** Walker/Vose alias table: O(1) draws from a fixed discrete distribution. */
class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: Float64Array) {
    const n = weights.length;
    let s = 0;
    for (let i = 0; i < n; i++) s += weights[i];
    const p = Float64Array.from(weights, (x) => (x * n) / s);
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) (p[i] < 1 ? small : large).push(i);
    while (small.length > 0 && large.length > 0) {
      const l = small.pop() as number;
      const g = large.pop() as number;
      this.prob[l] = p[l];
      this.alias[l] = g;
      p[g] = p[g] + p[l] - 1;
      (p[g] < 1 ? small : large).push(g);
    }
    for (const i of large) this.prob[i] = 1;
    for (const i of small) this.prob[i] = 1;
  }

  sample(rng: Rng): number {
    const k = rng.int(this.prob.length);
    return rng.next() < this.prob[k] ? k : this.alias[k];
  }
}

/** Per user: clean positives from preferred items by popularity, noisy ones from the noisy pool by popularity^alpha, no repeats. */
function drawInteractions(
  opts: SyntheticOptions,
  noise: NoiseModel,
  truth: SyntheticTruth,
  counts: Int32Array,
  noisyCounts: Int32Array,
  rng: Rng,
): Interactions {
  const table = new AliasTable(truth.itemPopularity);
  const noisyWeight = noisyWeights(truth.itemPopularity, noise.popularityExponent);
  const noisyTable = new AliasTable(noisyWeight);
  const users = new Int32Array(opts.interactions);
  const items = new Int32Array(opts.interactions);
  const noisy = new Uint8Array(opts.interactions);
  const takenBy = new Int32Array(opts.items).fill(-1);
  let k = 0;
  for (let u = 0; u < opts.users; u++) {
    const nNoisy = noisyCounts[u];
    const nClean = counts[u] - nNoisy;
    const wants: Array<[number, 0 | 1]> = [
      [nClean, 0],
      [nNoisy, 1],
    ];
    for (const [need, flag] of wants) {
      const accept = flag === 0 ? (a: number) => a >= PREFERRED_AFFINITY : (a: number) => inNoisyPool(noise.pool, a);
      let got = 0;
      // rejection: propose by the flag's weights, accept by true affinity; bounded, then an exact fallback
      const limit = 64 * need + 256;
      for (let attempt = 0; got < need && attempt < limit; attempt++) {
        const i = (flag === 0 ? table : noisyTable).sample(rng);
        if (takenBy[i] === u || !accept(trueAffinity(truth, u, i))) continue;
        takenBy[i] = u;
        users[k] = u;
        items[k] = i;
        noisy[k++] = flag;
        got++;
      }
      if (got < need) {
        for (const i of fallbackPick(truth, noise.pool, flag === 0 ? truth.itemPopularity : noisyWeight, u, need - got, flag, takenBy, rng)) {
          takenBy[i] = u;
          users[k] = u;
          items[k] = i;
          noisy[k++] = flag;
        }
      }
    }
  }
  return fromTriples(opts.users, opts.items, users, items, noisy);
}

/**
 * Exact draw when rejection stalls: weighted sampling without replacement
 * (Efraimidis-Spirakis keys) over the untaken eligible items; if too few are eligible,
 * the rest are the untaken items nearest to eligibility by affinity (for noisy
 * positives, preferred items only after all others).
 */
function fallbackPick(
  truth: SyntheticTruth,
  pool: NoisyPool,
  weight: Float64Array,
  u: number,
  need: number,
  flag: 0 | 1,
  takenBy: Int32Array,
  rng: Rng,
): number[] {
  const range = NOISY_POOLS[pool];
  const eligible: Array<[number, number]> = [];
  // [item, tier, distance]: fewer tiers first, then nearer
  const others: Array<[number, number, number]> = [];
  for (let i = 0; i < takenBy.length; i++) {
    if (takenBy[i] === u) continue;
    const a = trueAffinity(truth, u, i);
    const ok = flag === 0 ? a >= PREFERRED_AFFINITY : inNoisyPool(pool, a);
    if (ok) eligible.push([i, Math.log(1 - rng.next()) / weight[i]]);
    else if (flag === 0) others.push([i, 0, PREFERRED_AFFINITY - a]);
    else others.push([i, a >= PREFERRED_AFFINITY ? 1 : 0, a < range.from ? range.from - a : a - range.below]);
  }
  eligible.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  const picked = eligible.slice(0, need).map((e) => e[0]);
  if (picked.length < need) {
    others.sort((x, y) => x[1] - y[1] || x[2] - y[2] || x[0] - y[0]);
    for (const [i] of others.slice(0, need - picked.length)) picked.push(i);
  }
  return picked;
}
