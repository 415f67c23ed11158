/**
 * Judging memorization (Section 3.1.1): the history rule that turns the last h
 * per-epoch hits m_j(u, i) into "memorized" (Eq. 1), and the set metrics over
 * the memorized set M_t: memory rates of clean and noisy interactions
 * (Figure 1), memorization precision MP and recall MR (Eq. 2).
 *
 * A history is a bitmask per interaction: bit 0 is the latest epoch, bit j the
 * epoch j epochs before it; bits older than h are cleared, so the h low bits
 * are the official code's circular buffer `mem_dict` (unfilled slots are 0).
 */

/**
 * How the window P^h_t of Eq. 1 becomes a yes/no.
 * - "paper": the mean over the window is > 0.5; before h epochs exist, the
 *   window is the epochs that exist (min(t, h) of them), so a hit in epoch 1
 *   alone already counts as memorized at t = 1.
 * - "code": the sum over the h-slot buffer is >= h/2 with unfilled slots
 *   counting 0 (official `generate_clean_data`), so nothing is memorized
 *   before epoch ceil(h/2), and exactly half the window counts.
 */
export type MemorizationRule = "paper" | "code";

/** Longest history a 32-bit mask holds. */
export const MAX_HISTORY = 32;

/** The mask of the h low bits (h in [1, 32]). */
export function historyMask(h: number): number {
  return h >= 32 ? 0xffffffff : ((1 << h) >>> 0) - 1;
}

/** Number of set bits of a 32-bit integer. */
export function popcount32(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** Shifts this epoch's hit (0/1) into a history of h bits. */
export function pushHistory(bits: number, hit: number, h: number): number {
  return (((bits << 1) | (hit & 1)) & historyMask(h)) >>> 0;
}

/** Eq. 1: whether an interaction with history `bits` is memorized after `epochs` observed epochs. */
export function memorizedByHistory(bits: number, epochs: number, h: number, rule: MemorizationRule): boolean {
  const sum = popcount32((bits & historyMask(h)) >>> 0);
  if (rule === "code") return 2 * sum >= h; // sum over h slots >= h/2
  const window = Math.min(epochs, h);
  return window > 0 && 2 * sum > window; // mean over |P^h_t| epochs > 0.5
}

/** The set metrics of one epoch's memorized set M_t against the noise labels. */
export interface MemorizationMetrics {
  /** |M_t|. */
  memorized: number;
  /** |M_t| / |D|; 0 when D is empty. */
  memorizedRatio: number;
  /** Figure 1's memory rate of clean interactions: |M_t ∩ clean| / |clean| (equal to MR); 0 when no clean interaction exists. */
  memRateClean: number;
  /** Figure 1's memory rate of noisy interactions: |M_t ∩ noisy| / |noisy|; 0 when no noisy interaction exists. */
  memRateNoisy: number;
  /**
   * Eq. 2's MP = |R_t| / |M_t| with R_t = M_t ∩ clean. Defined as 1 when M_t is
   * empty (no memorized interaction is noisy), so that MP starts at 1 and
   * decreases, and an empty set never looks like the MP = MR crossing.
   */
  mp: number;
  /** Eq. 2's MR = |R_t| / |G| with G the clean interactions; 0 when G is empty. */
  mr: number;
}

/** MP, MR and memory rates of the memorized flags (1 = memorized) against noisy flags (1 = noisy), both in CSR order. */
export function memorizationMetrics(memorized: Uint8Array, noisy: Uint8Array): MemorizationMetrics {
  if (memorized.length !== noisy.length) {
    throw new RangeError(`memorizationMetrics: ${memorized.length} memorized flags but ${noisy.length} noisy flags`);
  }
  const n = noisy.length;
  let nNoisy = 0;
  let mClean = 0;
  let mNoisy = 0;
  for (let k = 0; k < n; k++) {
    const z = noisy[k] ? 1 : 0;
    nNoisy += z;
    if (memorized[k]) {
      if (z) mNoisy++;
      else mClean++;
    }
  }
  const nClean = n - nNoisy;
  const m = mClean + mNoisy;
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
  return {
    memorized: m,
    memorizedRatio: ratio(m, n),
    memRateClean: ratio(mClean, nClean),
    memRateNoisy: ratio(mNoisy, nNoisy),
    mp: m > 0 ? mClean / m : 1, // Eq. 2
    mr: ratio(mClean, nClean), // Eq. 2
  };
}
