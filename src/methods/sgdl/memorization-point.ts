/**
 * The memorization point (paper Section 3.1.2): estimate the noise rate sigma
 * from the loss distribution with a two-component GMM (Eq. 4) and switch from
 * Phase I to Phase II once the memorized set is as large as the estimated
 * clean part of the training data (Eq. 3).
 */
import { fitGmm2, posterior as gmmPosterior, type Gmm2, type GmmOptions } from "./gmm";

/**
 * "global": min-max over all training interactions (the paper: "normalize the
 * loss values of all training interactions"). "per-user": min-max within each
 * user's interactions (the official code's estimate_noise).
 */
export type NormalizeMode = "global" | "per-user";

/**
 * Min-max normalises losses to [0, 1], globally or per user. For per-user,
 * losses are in CSR order and user u owns losses[indptr[u] .. indptr[u+1]).
 * A group whose losses are all equal (or a user with one interaction) gets 0:
 * the official code leaves a one-interaction user's raw loss unnormalised and
 * turns an all-equal user into 0/0 = NaN (on which sklearn's fit then fails).
 */
export function normalizeLosses(losses: Float32Array | Float64Array, mode: NormalizeMode, indptr?: Int32Array): Float32Array {
  for (let i = 0; i < losses.length; i++) {
    if (!Number.isFinite(losses[i])) throw new RangeError(`normalizeLosses: losses[${i}] is ${losses[i]}; every loss must be finite`);
  }
  const out = new Float32Array(losses.length);
  if (mode === "global") {
    minMaxInto(losses, out, 0, losses.length);
    return out;
  }
  if (indptr === undefined) throw new RangeError("normalizeLosses: mode 'per-user' needs the CSR indptr of the losses");
  const nUsers = indptr.length - 1;
  if (nUsers < 0 || indptr[0] !== 0 || indptr[nUsers] !== losses.length) {
    throw new RangeError(`normalizeLosses: indptr must start at 0 and end at losses.length = ${losses.length}, got [${indptr[0]} .. ${indptr[nUsers]}]`);
  }
  for (let u = 0; u < nUsers; u++) {
    if (indptr[u + 1] < indptr[u]) throw new RangeError(`normalizeLosses: indptr decreases at user ${u} (${indptr[u]} > ${indptr[u + 1]})`);
    minMaxInto(losses, out, indptr[u], indptr[u + 1]);
  }
  return out;
}

/** out[k] = (x[k] - min) / (max - min) over k in [lo, hi); 0 where max = min. */
function minMaxInto(x: Float32Array | Float64Array, out: Float32Array, lo: number, hi: number): void {
  let min = Infinity;
  let max = -Infinity;
  for (let k = lo; k < hi; k++) {
    if (x[k] < min) min = x[k];
    if (x[k] > max) max = x[k];
  }
  const range = max - min;
  for (let k = lo; k < hi; k++) out[k] = range > 0 ? (x[k] - min) / range : 0;
}

/** The noise-rate estimate with the mixture it came from. */
export interface NoiseRateEstimate {
  /** sigma_hat: the mean posterior of the larger-mean component. */
  noiseRate: number;
  gmm: Gmm2;
  /** p(noisy | L(u,i)) per interaction, in the order of the input. */
  posterior: Float64Array;
}

/** Fits the GMM to normalised losses and returns sigma_hat with the posteriors. */
export function estimateNoiseRate(normalized: Float32Array | Float64Array, opts: GmmOptions = {}): NoiseRateEstimate {
  const gmm = fitGmm2(normalized, opts);
  const posterior = gmmPosterior(gmm, normalized);
  let sum = 0;
  for (let i = 0; i < posterior.length; i++) sum += posterior[i];
  const noiseRate = sum / posterior.length; // Eq. 4: sigma_hat = E_(u,i)[p(mu | L(u,i))]
  return { noiseRate, gmm, posterior };
}

/**
 * How a Table 4 shift s moves the estimate. The paper (Section 4.3.2) shifts
 * "the estimated noisy ratio sigma_hat to force early or late transition",
 * and Table 4 labels +10% "Early" and -10% "Late": a positive shift raises
 * sigma, lowers the clean-size threshold and so switches earlier.
 * "absolute" (default): sigma' = sigma_hat + s, percentage points
 * (+5% on sigma_hat = 0.20 gives 0.25, threshold 0.75 |D|).
 * "relative": sigma' = sigma_hat (1 + s) (+5% on 0.20 gives 0.21).
 * sigma' is clamped to [0, 1]. We default to points: the paper's shifts are
 * on a ratio, and a relative 5% of sigma ~ 0.2 (one point) is below the
 * epoch-to-epoch noise of sigma_hat in the official log (about 3 points).
 */
export type ShiftMode = "absolute" | "relative";

/** sigma' = sigma_hat shifted by s (see ShiftMode), clamped to [0, 1]. */
export function shiftedNoiseRate(noiseRate: number, shift = 0, mode: ShiftMode = "absolute"): number {
  if (!Number.isFinite(noiseRate) || noiseRate < 0 || noiseRate > 1) throw new RangeError(`noise rate must be in [0, 1], got ${noiseRate}`);
  if (!Number.isFinite(shift)) throw new RangeError(`shift must be finite, got ${shift}`);
  const s = mode === "absolute" ? noiseRate + shift : noiseRate * (1 + shift);
  return Math.min(1, Math.max(0, s));
}

/**
 * Eq. 3 switch rule |M_t| >= (1 - sigma') |D|, compared as the official code
 * does: |M_t| / |D| >= 1 - sigma'. An empty memorized set never switches
 * (Phase II needs memorized data; only reachable with sigma' = 1).
 */
export function reachedMemorizationPoint(memorized: number, total: number, noiseRate: number, shift = 0, mode: ShiftMode = "absolute"): boolean {
  if (!Number.isInteger(total) || total <= 0) throw new RangeError(`total |D| must be a positive integer, got ${total}`);
  if (!Number.isInteger(memorized) || memorized < 0 || memorized > total) throw new RangeError(`memorized |M_t| must be an integer in [0, ${total}], got ${memorized}`);
  if (memorized === 0) return false;
  return memorized / total >= 1 - shiftedNoiseRate(noiseRate, shift, mode); // Eq. 3
}

/** One epoch of Phase I as the switch rule saw it. */
export interface MemorizationPointEntry {
  epoch: number;
  memorized: number;
  /** |M_t| / |D|. */
  memorizedRatio: number;
  /** sigma_hat of this epoch (before the shift). */
  noiseRate: number;
  /** 1 - sigma': the memorized ratio needed to switch. */
  threshold: number;
  reached: boolean;
}

/** Per-epoch history of (|M_t|, sigma_hat) and the first epoch at which Eq. 3 holds. */
export class MemorizationPointTracker {
  readonly history: MemorizationPointEntry[] = [];
  private first: number | null = null;

  constructor(
    readonly total: number,
    readonly shift = 0,
    readonly shiftMode: ShiftMode = "absolute",
  ) {
    if (!Number.isInteger(total) || total <= 0) throw new RangeError(`total |D| must be a positive integer, got ${total}`);
  }

  /** Records one epoch (epochs strictly increasing) and returns whether the rule holds at it. */
  observe(epoch: number, memorized: number, noiseRate: number): boolean {
    const last = this.history[this.history.length - 1];
    if (last !== undefined && !(epoch > last.epoch)) throw new RangeError(`epochs must increase: ${epoch} after ${last.epoch}`);
    const reached = reachedMemorizationPoint(memorized, this.total, noiseRate, this.shift, this.shiftMode);
    const threshold = 1 - shiftedNoiseRate(noiseRate, this.shift, this.shiftMode);
    this.history.push({ epoch, memorized, memorizedRatio: memorized / this.total, noiseRate, threshold, reached });
    if (reached && this.first === null) this.first = epoch;
    return reached;
  }

  /** The first epoch at which Eq. 3 held (the estimated memorization point t_m), or null. */
  get switchEpoch(): number | null {
    return this.first;
  }

  /** A copy of the history (for a checkpoint). */
  exportState(): MemorizationPointEntry[] {
    return this.history.map((e) => ({ ...e }));
  }

  /** Replaces the history by replaying a state's (epoch, |M_t|, sigma_hat) through observe; throws naming the entry (nothing changed then). */
  importState(entries: readonly MemorizationPointEntry[]): void {
    if (!Array.isArray(entries)) throw new RangeError("MemorizationPointTracker.importState: the state must be a list of epochs");
    const replay = new MemorizationPointTracker(this.total, this.shift, this.shiftMode);
    entries.forEach((e, j) => {
      try {
        if (!(Number.isInteger(e.epoch) && e.epoch >= 1)) throw new RangeError(`epoch must be a positive integer, got ${JSON.stringify(e.epoch)}`);
        replay.observe(e.epoch, e.memorized, e.noiseRate);
      } catch (err) {
        throw new RangeError(`MemorizationPointTracker.importState: entry ${j}: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    this.history.splice(0, this.history.length, ...replay.history);
    this.first = replay.first;
  }
}
