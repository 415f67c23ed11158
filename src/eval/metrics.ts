/**
 * Per-user ranking metrics with binary relevance (paper 4.1.2; official
 * `utils.RecallPrecision_ATk` / `NDCGatK_r`). `ranked` lists distinct item ids
 * best first (it may be shorter than k); `truth` is the user's ground-truth
 * items T_u, as a sorted ascending Int32Array (a CSR row) or a Set.
 */

/** A user's ground-truth items: a sorted ascending Int32Array, or a Set. */
export type Truth = Int32Array | ReadonlySet<number>;

/** |T_u|. */
export function truthSize(truth: Truth): number {
  return truth instanceof Int32Array ? truth.length : truth.size;
}

/** Whether item is in the truth (binary search for a sorted array). */
export function inTruth(truth: Truth, item: number): boolean {
  if (!(truth instanceof Int32Array)) return truth.has(item);
  let lo = 0;
  let hi = truth.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = truth[mid];
    if (v === item) return true;
    if (v < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Recall@K = (hits among the first K ranked items) / |T_u|. */
export function recallAtK(ranked: Int32Array, truth: Truth, k: number): number {
  const n = nonEmpty(truth, k, "recallAtK");
  const top = Math.min(k, ranked.length);
  let hits = 0;
  for (let j = 0; j < top; j++) if (inTruth(truth, ranked[j])) hits++;
  return hits / n;
}

/** NDCG@K = sum_{j<=K} hit_j / log2(j+1), divided by IDCG@K (binary relevance). */
export function ndcgAtK(ranked: Int32Array, truth: Truth, k: number): number {
  const n = nonEmpty(truth, k, "ndcgAtK");
  const top = Math.min(k, ranked.length);
  let dcg = 0;
  for (let j = 0; j < top; j++) if (inTruth(truth, ranked[j])) dcg += 1 / Math.log2(j + 2); // rank j+1
  return dcg / idcgAtK(n, k);
}

/** IDCG@K = sum_{j=1..min(K, |T_u|)} 1 / log2(j+1): all relevant items ranked first. */
export function idcgAtK(nTruth: number, k: number): number {
  let idcg = 0;
  const m = Math.min(k, nTruth);
  for (let j = 1; j <= m; j++) idcg += 1 / Math.log2(j + 1);
  return idcg;
}

function nonEmpty(truth: Truth, k: number, fn: string): number {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: K must be a positive integer, got ${k}`);
  const n = truthSize(truth);
  if (n === 0) throw new RangeError(`${fn}: the user has no ground-truth items; such users are not evaluated`);
  return n;
}
