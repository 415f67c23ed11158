/**
 * Memorized interactions (Section 3.1.1, Eq. 1): each epoch, interaction (u, i)
 * is "in the ranking list" (m_t(u, i) = 1) when item i is among the top N_u
 * items of user u, N_u = |u's training interactions|. A history of the last h
 * hits per interaction decides whether it is memorized (memorization-metrics.ts).
 *
 * No training-item masking: the ranking list ranks the user's training items
 * too (Eq. 1 asks whether a training item is ranked in the top N_u, so masking
 * them would make every m_t zero).
 *
 * Pools:
 * - "all" (paper): the top N_u over all items.
 * - "2n" (official `memorization_test`): the top N_u within the user's N_u
 *   training positives plus N_u uniform negatives drawn fresh each epoch
 *   (duplicates allowed, positives rejected). The pool is a set of items, so a
 *   negative drawn twice enters once (the official code adds +100 to the
 *   candidates' scores, and a repeated index is raised once).
 *
 * Order: higher score first; equal scores go to the LOWER item index (as in
 * src/eval/topk.ts). The list is found without sorting: the N_u-th largest
 * score v by quickselect on a copy of the row, then the tie cut t = the item
 * that fills the last slot among items scoring exactly v; item i is in the list
 * iff s_i > v, or s_i = v and i <= t. O(nItems) per user.
 */
import { filter, size, type Interactions } from "../../data/interactions";
import { NegativeSampler } from "../../data/sampler";
import type { BlockScorer } from "../../models/model";
import type { Rng } from "../../util/rng";
import {
  historyMask,
  MAX_HISTORY,
  memorizationMetrics,
  memorizedByHistory,
  pushHistory,
  type MemorizationMetrics,
  type MemorizationRule,
} from "./memorization-metrics";

export type { MemorizationRule } from "./memorization-metrics";

/** Which items compete for the user's ranking list. */
export type MemorizationPool = "all" | "2n";

export interface MemorizationOptions {
  /** History length h (paper grid {2, 5, 10, 20}); any integer in [1, 32]. Default 10. */
  h?: number;
  /** Default "all" (paper). */
  pool?: MemorizationPool;
  /** Default "paper". */
  rule?: MemorizationRule;
  /** Users scored per scorer call. Default 256. */
  userBlock?: number;
}

/** One epoch of memorization tracking, for the epoch log. */
export interface EpochMemorization extends MemorizationMetrics {
  /** Observed epochs so far, 1-based. */
  epoch: number;
  /** Share of training interactions in their user's ranking list this epoch (raw m_t, before the history rule). */
  inListRatio: number;
}

/** Reusable buffers for rankingListHits. */
export interface RankingScratch {
  values: Float64Array;
  items: Int32Array;
  seen: Uint8Array;
}

/** Buffers for rankingListHits over nItems items and pools of up to poolSize items. */
export function rankingScratch(nItems: number, poolSize = 0): RankingScratch {
  return {
    values: new Float64Array(Math.max(nItems, poolSize)),
    items: new Int32Array(poolSize),
    seen: new Uint8Array(nItems),
  };
}

/**
 * m_t for one user (Eq. 1): out[j] = 1 iff positives[j] is in the top
 * positives.length items of the row scores[offset .. offset + nItems), ranked
 * over all items (negatives null) or over positives ∪ negatives ("2n" pool).
 * Throws a RangeError on a NaN score among the candidates.
 */
export function rankingListHits(
  scores: Float32Array | Float64Array,
  offset: number,
  nItems: number,
  positives: Int32Array,
  negatives: Int32Array | null,
  out: Uint8Array,
  scratch?: RankingScratch,
): void {
  const k = positives.length;
  if (out.length < k) throw new RangeError(`rankingListHits: out has length ${out.length}, need ${k}`);
  if (k === 0) return;
  const poolMax = negatives === null ? 0 : k + negatives.length;
  const s =
    scratch && scratch.values.length >= Math.max(nItems, poolMax) && scratch.items.length >= poolMax && scratch.seen.length >= nItems
      ? scratch
      : rankingScratch(nItems, poolMax);
  const cut = negatives === null ? cutOverAll(scores, offset, nItems, k, s) : cutOverPool(scores, offset, positives, negatives, s);
  for (let j = 0; j < k; j++) {
    const i = positives[j];
    const v = scores[offset + i];
    out[j] = v > cut.value || (v === cut.value && i <= cut.item) ? 1 : 0;
  }
}

/** The last slot of a ranking list: its score and item (every item ranked above or at it is in the list). */
interface Cut {
  value: number;
  item: number;
}

const ALL_IN: Cut = { value: -Infinity, item: 2147483647 };

function cutOverAll(scores: Float32Array | Float64Array, offset: number, nItems: number, k: number, s: RankingScratch): Cut {
  if (k >= nItems) return ALL_IN;
  const vals = s.values;
  for (let i = 0; i < nItems; i++) {
    const x = scores[offset + i];
    if (x !== x) throw new RangeError(`rankingListHits: score of item ${i} is NaN`);
    vals[i] = x;
  }
  const value = kthLargest(vals, nItems, k);
  let need = k;
  for (let i = 0; i < nItems; i++) if (scores[offset + i] > value) need--;
  // the need-th item (by index) scoring exactly `value` fills the last slot
  for (let i = 0; i < nItems; i++) {
    if (scores[offset + i] === value && --need === 0) return { value, item: i };
  }
  throw new Error("rankingListHits: internal error, tie cut not found");
}

function cutOverPool(scores: Float32Array | Float64Array, offset: number, positives: Int32Array, negatives: Int32Array, s: RankingScratch): Cut {
  const k = positives.length;
  const { values, items, seen } = s;
  let n = 0;
  const add = (i: number): void => {
    if (seen[i]) return;
    seen[i] = 1;
    items[n++] = i;
  };
  for (let j = 0; j < k; j++) add(positives[j]);
  for (let j = 0; j < negatives.length; j++) add(negatives[j]);
  for (let j = 0; j < n; j++) seen[items[j]] = 0;
  if (k >= n) return ALL_IN;
  for (let j = 0; j < n; j++) {
    const x = scores[offset + items[j]];
    if (x !== x) throw new RangeError(`rankingListHits: score of item ${items[j]} is NaN`);
    values[j] = x;
  }
  const value = kthLargest(values, n, k);
  let need = k;
  const ties: number[] = [];
  for (let j = 0; j < n; j++) {
    const x = scores[offset + items[j]];
    if (x > value) need--;
    else if (x === value) ties.push(items[j]);
  }
  ties.sort((a, b) => a - b);
  return { value, item: ties[need - 1] };
}

/** The k-th largest of a[0 .. n) (1 <= k <= n), reordering a in place (Hoare's select, median-of-3 pivot). */
export function kthLargest(a: Float64Array, n: number, k: number): number {
  if (!(k >= 1 && k <= n && n <= a.length)) throw new RangeError(`kthLargest: need 1 <= k <= n <= ${a.length}, got k=${k}, n=${n}`);
  const target = k - 1;
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const x = a[lo];
    const y = a[(lo + hi) >>> 1];
    const z = a[hi];
    const pivot = x > y ? (y > z ? y : x > z ? z : x) : x > z ? x : y > z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    // a[lo..j] >= pivot, a[i..hi] <= pivot, a[j+1..i-1] == pivot
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/** The "2n" pool's negatives: N_u uniform non-positives per user, aligned with train's CSR order (users ascending, one draw per slot). */
export function sampleNegativePool(train: Interactions, rng: Rng): Int32Array {
  const sampler = new NegativeSampler(train, rng);
  const out = new Int32Array(size(train));
  for (let u = 0; u < train.nUsers; u++) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) out[k] = sampler.sample(u);
  }
  return out;
}

/** What a MemorizationTracker carries from epoch to epoch (for a checkpoint): all per interaction, CSR order. */
export interface MemorizationTrackerState {
  /** Epochs observed. */
  epochs: number;
  /** m_t of the last epoch (0/1). */
  hit: Uint8Array;
  /** The last h hits as bits, newest in bit 0. */
  history: Uint32Array;
  /** Memorized after the last epoch (0/1); must agree with history (Eq. 1). */
  memorized: Uint8Array;
}

/** Tracks m_t and the h-epoch history of every training interaction (Eq. 1) and reports MP, MR and memory rates (Eq. 2). */
export class MemorizationTracker {
  readonly h: number;
  readonly pool: MemorizationPool;
  readonly rule: MemorizationRule;
  readonly userBlock: number;
  private readonly hit: Uint8Array;
  private readonly history: Uint32Array;
  private readonly memorized: Uint8Array;
  private readonly active: Int32Array;
  private readonly scratch: RankingScratch;
  private epochs = 0;

  /** train: the training split (CSR, with noisy flags), whose interactions are tracked. */
  constructor(
    readonly train: Interactions,
    options: MemorizationOptions = {},
  ) {
    this.h = options.h ?? 10;
    this.pool = options.pool ?? "all";
    this.rule = options.rule ?? "paper";
    this.userBlock = options.userBlock ?? 256;
    if (!(Number.isInteger(this.h) && this.h >= 1 && this.h <= MAX_HISTORY)) {
      throw new RangeError(`MemorizationTracker: option 'h' must be an integer in [1, ${MAX_HISTORY}], got ${this.h}`);
    }
    if (this.pool !== "all" && this.pool !== "2n") throw new RangeError(`MemorizationTracker: option 'pool' must be "all" or "2n", got ${String(this.pool)}`);
    if (this.rule !== "paper" && this.rule !== "code") throw new RangeError(`MemorizationTracker: option 'rule' must be "paper" or "code", got ${String(this.rule)}`);
    if (!(Number.isInteger(this.userBlock) && this.userBlock >= 1)) {
      throw new RangeError(`MemorizationTracker: option 'userBlock' must be a positive integer, got ${this.userBlock}`);
    }
    const n = size(train);
    if (train.noisy.length < n) throw new RangeError(`MemorizationTracker: train has ${n} interactions but ${train.noisy.length} noisy flags`);
    this.hit = new Uint8Array(n);
    this.history = new Uint32Array(n);
    this.memorized = new Uint8Array(n);
    const active: number[] = [];
    let maxDeg = 0;
    for (let u = 0; u < train.nUsers; u++) {
      const deg = train.indptr[u + 1] - train.indptr[u];
      if (deg > 0) active.push(u);
      if (deg > maxDeg) maxDeg = deg;
    }
    this.active = Int32Array.from(active);
    this.scratch = rankingScratch(train.nItems, this.pool === "2n" ? 2 * maxDeg : 0);
  }

  /** Epochs observed so far. */
  get epoch(): number {
    return this.epochs;
  }

  /**
   * Ranks every user with the scorer (blocks of userBlock users with training
   * interactions), records m_t for each training interaction, pushes it into
   * the history and returns the epoch's summary. rng draws the "2n" pool's
   * negatives (unused for "all"); `negatives` (CSR-aligned, N_u per user)
   * replaces the draw. The scorer is not disposed here.
   */
  observe(scorer: BlockScorer, rng: Rng, negatives?: Int32Array): EpochMemorization {
    const x = this.train;
    const nItems = x.nItems;
    const n = size(x);
    let negs: Int32Array | null = null;
    if (this.pool === "2n") {
      negs = negatives ?? sampleNegativePool(x, rng);
      if (negs.length !== n) throw new RangeError(`MemorizationTracker.observe: ${negs.length} negatives for ${n} interactions`);
      for (let k = 0; k < n; k++) {
        if (!(negs[k] >= 0 && negs[k] < nItems)) throw new RangeError(`MemorizationTracker.observe: negative ${negs[k]} at ${k} is outside [0, ${nItems})`);
      }
    }
    for (let b = 0; b < this.active.length; b += this.userBlock) {
      const block = this.active.subarray(b, Math.min(b + this.userBlock, this.active.length));
      const scores = scorer(block);
      if (scores.length !== block.length * nItems) {
        throw new RangeError(`MemorizationTracker.observe: scorer returned ${scores.length} scores for ${block.length} users x ${nItems} items`);
      }
      for (let r = 0; r < block.length; r++) {
        const lo = x.indptr[block[r]];
        const hi = x.indptr[block[r] + 1];
        const pos = x.items.subarray(lo, hi);
        const neg = negs === null ? null : negs.subarray(lo, hi);
        rankingListHits(scores, r * nItems, nItems, pos, neg, this.hit.subarray(lo, hi), this.scratch);
      }
    }
    this.epochs++;
    let inList = 0;
    for (let k = 0; k < n; k++) {
      inList += this.hit[k];
      const bits = pushHistory(this.history[k], this.hit[k], this.h);
      this.history[k] = bits;
      this.memorized[k] = memorizedByHistory(bits, this.epochs, this.h, this.rule) ? 1 : 0;
    }
    const metrics = memorizationMetrics(this.memorized, x.noisy.subarray(0, n));
    return { epoch: this.epochs, ...metrics, inListRatio: n > 0 ? inList / n : 0 };
  }

  /** Whether training interaction k (CSR order) is memorized after the last observed epoch. */
  isMemorized(k: number): boolean {
    if (!(Number.isInteger(k) && k >= 0 && k < this.memorized.length)) {
      throw new RangeError(`MemorizationTracker.isMemorized: index ${k} is outside [0, ${this.memorized.length})`);
    }
    return this.memorized[k] === 1;
  }

  /** Indices (CSR order of the train split, ascending) of the memorized interactions M_t. */
  memorizedSet(): Int32Array {
    let m = 0;
    for (let k = 0; k < this.memorized.length; k++) m += this.memorized[k];
    const out = new Int32Array(m);
    let at = 0;
    for (let k = 0; k < this.memorized.length; k++) if (this.memorized[k]) out[at++] = k;
    return out;
  }

  /** The memorized interactions as their own CSR split (noisy flags carried), e.g. Phase II's memorized data. */
  memorizedInteractions(): Interactions {
    return filter(this.train, (k) => this.memorized[k] === 1);
  }

  /** This epoch's m_t per training interaction (a copy, CSR order). */
  lastHits(): Uint8Array {
    return this.hit.slice();
  }

  /** A copy of the tracker's state (epochs, hits, histories, memorized flags). */
  exportState(): MemorizationTrackerState {
    return { epochs: this.epochs, hit: this.hit.slice(), history: this.history.slice(), memorized: this.memorized.slice() };
  }

  /** Continues from a state exportState gave on the same training split and options; throws naming the bad field (nothing changed then). */
  importState(s: MemorizationTrackerState): void {
    const n = this.hit.length;
    if (!(Number.isInteger(s.epochs) && s.epochs >= 0)) throw new RangeError(`MemorizationTracker.importState: epochs must be a non-negative integer, got ${s.epochs}`);
    const check = (name: string, a: unknown, type: { new (n: number): Uint8Array | Uint32Array; readonly name: string }): void => {
      if (!(a instanceof type)) throw new RangeError(`MemorizationTracker.importState: '${name}' must be a ${type.name}`);
      const len = a.length;
      if (len !== n) throw new RangeError(`MemorizationTracker.importState: '${name}' has ${len} values, the training split ${n}`);
    };
    check("hit", s.hit, Uint8Array);
    check("history", s.history, Uint32Array);
    check("memorized", s.memorized, Uint8Array);
    for (let k = 0; k < n; k++) {
      if (s.hit[k] > 1) throw new RangeError(`MemorizationTracker.importState: 'hit' [${k}] is ${s.hit[k]}, not 0/1`);
      if ((s.history[k] & ~historyMask(this.h)) !== 0) throw new RangeError(`MemorizationTracker.importState: 'history' [${k}] has bits beyond h = ${this.h}`);
      const want = memorizedByHistory(s.history[k], s.epochs, this.h, this.rule) ? 1 : 0;
      if (s.memorized[k] !== want) throw new RangeError(`MemorizationTracker.importState: 'memorized' [${k}] is ${s.memorized[k]}, its history says ${want} (Eq. 1)`);
    }
    this.epochs = s.epochs;
    this.hit.set(s.hit);
    this.history.set(s.history);
    this.memorized.set(s.memorized);
  }
}
