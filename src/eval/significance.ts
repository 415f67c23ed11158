/**
 * Paired significance tests between two runs' per-user metric values (the "†"
 * of the paper's Table 2: "the improvement of SGDL over the baseline is
 * significant at the level of 0.05"; the paper does not name its test, the
 * official code has none). Both tests are two-sided.
 *
 * Conventions: runs are paired by user id (the user sets must be equal);
 * differences are d = a - b. Identical runs (all d = 0) give p = 1, not NaN.
 * Differences are compared exactly (no tolerance), as scipy does.
 */
import type { EvalResult } from "./evaluate";
import { normalSf, studentTTwoSidedP } from "./special";

/** One run's values of one metric, per user. */
export interface PerUserValues {
  users: Int32Array;
  values: ArrayLike<number>;
}

export interface TTestResult {
  t: number;
  df: number;
  p: number;
  /** mean(a - b). */
  meanDiff: number;
  n: number;
}

export interface WilcoxonResult {
  /** min(W+, W-), as scipy reports for the two-sided test. */
  w: number;
  /** Sum of the ranks of |d| over d > 0 (a better than b). */
  wPlus: number;
  wMinus: number;
  /** Normal-approximation z of W+ (positive when a > b), even when p is exact. */
  z: number;
  p: number;
  /** Number of non-zero differences. */
  n: number;
  /** Whether p comes from the exact null distribution. */
  exact: boolean;
}

export interface WilcoxonOptions {
  /** Continuity correction of the normal approximation (default true; scipy's default is false, R's true). */
  correction?: boolean;
  /** "auto" (default): exact when n <= 25 and no ties, otherwise the normal approximation. */
  method?: "auto" | "exact" | "approx";
}

/** The per-user values of one metric of an evaluation, ready to pair. */
export function perUserOf(result: EvalResult, metric: string): PerUserValues {
  const values = result.perUser[metric];
  if (values === undefined) {
    throw new RangeError(`perUserOf: no metric '${metric}' (have ${Object.keys(result.perUser).join(", ")})`);
  }
  return { users: result.users, values };
}

/** Pairs two runs by user id: x[j] and y[j] belong to the same user. Throws if the user sets differ. */
export function alignPaired(a: PerUserValues, b: PerUserValues): { x: Float64Array; y: Float64Array } {
  for (const [name, r] of [["a", a], ["b", b]] as const) {
    if (r.users.length !== r.values.length) {
      throw new RangeError(`alignPaired: run ${name} has ${r.users.length} users but ${r.values.length} values`);
    }
  }
  if (a.users.length !== b.users.length) {
    throw new RangeError(`alignPaired: the runs evaluate different users (${a.users.length} vs ${b.users.length})`);
  }
  const where = new Map<number, number>();
  for (let j = 0; j < b.users.length; j++) {
    if (where.has(b.users[j])) throw new RangeError(`alignPaired: user ${b.users[j]} appears twice in run b`);
    where.set(b.users[j], j);
  }
  const x = new Float64Array(a.users.length);
  const y = new Float64Array(a.users.length);
  const seen = new Set<number>();
  for (let j = 0; j < a.users.length; j++) {
    const u = a.users[j];
    const jb = where.get(u);
    if (jb === undefined) throw new RangeError(`alignPaired: user ${u} is in run a but not in run b`);
    if (seen.has(u)) throw new RangeError(`alignPaired: user ${u} appears twice in run a`);
    seen.add(u);
    x[j] = a.values[j];
    y[j] = b.values[jb];
  }
  return { x, y };
}

/** Two-sided paired Student t-test of mean(a - b) = 0; p from the t CDF (regularized incomplete beta). */
export function pairedTTest(a: PerUserValues, b: PerUserValues): TTestResult {
  const { x, y } = alignPaired(a, b);
  const n = x.length;
  const df = n - 1;
  if (n < 2) return { t: NaN, df, p: NaN, meanDiff: n === 1 ? x[0] - y[0] : NaN, n };
  let sum = 0;
  for (let j = 0; j < n; j++) sum += x[j] - y[j];
  const mean = sum / n;
  let ss = 0;
  for (let j = 0; j < n; j++) ss += (x[j] - y[j] - mean) ** 2;
  const se = Math.sqrt(ss / df / n);
  if (se === 0) {
    // constant differences: no difference at all (p = 1), or a difference without any spread (p = 0)
    return mean === 0 ? { t: 0, df, p: 1, meanDiff: 0, n } : { t: mean > 0 ? Infinity : -Infinity, df, p: 0, meanDiff: mean, n };
  }
  const t = mean / se;
  return { t, df, p: studentTTwoSidedP(t, df), meanDiff: mean, n };
}

/**
 * Two-sided Wilcoxon signed-rank test of a vs b: zero differences dropped
 * (scipy's 'wilcox'), average ranks for tied |d|, exact null distribution for
 * n <= 25 without ties, otherwise the normal approximation with tie correction
 * and (by default) continuity correction.
 */
export function wilcoxonSignedRank(a: PerUserValues, b: PerUserValues, opts: WilcoxonOptions = {}): WilcoxonResult {
  const { x, y } = alignPaired(a, b);
  const correction = opts.correction ?? true;
  const method = opts.method ?? "auto";
  const d: number[] = [];
  for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) d.push(x[j] - y[j]);
  const n = d.length;
  if (n === 0) return { w: 0, wPlus: 0, wMinus: 0, z: 0, p: 1, n: 0, exact: method !== "approx" };
  const { ranks, tieGroups } = averageRanks(d.map(Math.abs));
  let wPlus = 0;
  for (let j = 0; j < n; j++) if (d[j] > 0) wPlus += ranks[j];
  const total = (n * (n + 1)) / 2;
  const wMinus = total - wPlus;
  const w = Math.min(wPlus, wMinus);
  // normal approximation: E[W+] = n(n+1)/4, Var = n(n+1)(2n+1)/24 - sum(t^3 - t)/48 over tie groups
  const mean = total / 2;
  let tieTerm = 0;
  for (const t of tieGroups) tieTerm += t * t * t - t;
  const se = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  const diff = wPlus - mean;
  const z = (diff - (correction ? 0.5 * Math.sign(diff) : 0)) / se;
  const ties = tieGroups.length > 0;
  const exact = method === "exact" || (method === "auto" && n <= 25 && !ties);
  if (exact && ties) throw new RangeError("wilcoxonSignedRank: the exact distribution needs |differences| without ties");
  const p = exact ? exactSignedRankP(n, w) : Math.min(1, 2 * normalSf(Math.abs(z)));
  return { w, wPlus, wMinus, z, p, n, exact };
}

/** The Table 2 mark: "†" when the test's p < alpha (0.05 in the paper), else "". */
export function significanceMark(p: number, alpha = 0.05): string {
  return p < alpha ? "\u2020" : "";
}

/** Average (mid) ranks, 1-based, and the sizes of the groups of ties (size >= 2). */
function averageRanks(v: number[]): { ranks: Float64Array; tieGroups: number[] } {
  const order = v.map((_, j) => j).sort((i, j) => v[i] - v[j]);
  const ranks = new Float64Array(v.length);
  const tieGroups: number[] = [];
  for (let s = 0; s < order.length; ) {
    let e = s + 1;
    while (e < order.length && v[order[e]] === v[order[s]]) e++;
    const r = (s + 1 + e) / 2; // mean of ranks s+1 .. e
    for (let j = s; j < e; j++) ranks[order[j]] = r;
    if (e - s > 1) tieGroups.push(e - s);
    s = e;
  }
  return { ranks, tieGroups };
}

/** Two-sided exact p = 2 P(W <= w) for W the signed-rank statistic of n untied ranks, capped at 1. */
function exactSignedRankP(n: number, w: number): number {
  const total = (n * (n + 1)) / 2;
  // count[s] = number of subsets of {1..n} with rank sum s
  const count = new Float64Array(total + 1);
  count[0] = 1;
  for (let r = 1; r <= n; r++) for (let s = (r * (r + 1)) / 2; s >= r; s--) count[s] += count[s - r];
  let below = 0;
  for (let s = 0; s <= Math.floor(w); s++) below += count[s];
  return Math.min(1, (2 * below) / 2 ** n);
}
