/**
 * SGDL Phase I, memorization (Section 3.1): after each epoch's training,
 * (1) rank every user and update the memorized set M_t (Eq. 1) with MP_t and
 * MR_t against the true labels (Eq. 2); (2) compute a per-sample loss for
 * every training interaction, normalise them, fit the two-component GMM and
 * read the noise rate sigma_hat (Eq. 4); (3) check the switch rule
 * |M_t| >= (1 - sigma_hat) |D| (Eq. 3). The first epoch at which it holds is
 * the estimated memorization point t_m; M_{t_m} is kept as the memorized data.
 *
 * Per-sample losses (as the official estimate_noise): BPR models score
 * (u, i, j) with a fresh uniform negative j for every training interaction;
 * BCE models score each training positive with label 1. No dropout. The
 * losses are in CSR order, so per-user normalisation reads train.indptr.
 * By default they are read off the scores the memorization test computes
 * anyway (every model scores with the logit its loss uses: BPR =
 * softplus(s_uj - s_ui), BCE with label 1 = softplus(-s_ui)), so the loss
 * pass costs nothing; given a loss function (ctx.losses, option
 * gmmLosses "model") they come from the model's own loss instead. The test
 * suite checks both agree for every model.
 *
 * This class knows no trainer: it takes a scorer and optionally a loss
 * function, so the method (sgdl.ts) hands it ctx.model.scorer(ctx.params)
 * and, if asked, ctx.losses.
 */
import { filter, size, userOf, type Interactions } from "../../data/interactions";
import { NegativeSampler } from "../../data/sampler";
import type { Batch, BlockScorer, LossKind } from "../../models/model";
import type { EpochLog, FieldValue } from "../../training/events";
import type { StateReader, StateWriter } from "../../training/method-state";
import type { Rng } from "../../util/rng";
import type { Gmm2Params } from "./gmm";
import { MemorizationTracker, type EpochMemorization, type MemorizationPool, type MemorizationRule, type MemorizationTrackerState } from "./memorization";
import { decodeMemorizedSet, encodeMemorizedSet } from "./memorized-set";
import {
  estimateNoiseRate,
  MemorizationPointTracker,
  normalizeLosses,
  shiftedNoiseRate,
  type MemorizationPointEntry,
  type NormalizeMode,
  type ShiftMode,
} from "./memorization-point";

/** Bins of the Figure 4 loss histograms, on [0, 1]. */
export const FIGURE4_BINS = 50;

/** What Phase I needs to know (a subset of SgdlOptions). */
export interface Phase1Options {
  pool: MemorizationPool;
  rule: MemorizationRule;
  h: number;
  normalize: NormalizeMode;
  shift: number;
  shiftMode: ShiftMode;
  /** 0 = keep Figure 4's data at the memorization point (else at the last epoch). */
  figure4Epoch: number;
  /** Users per scorer call (default 256). */
  userBlock?: number;
}

/** The per-epoch log fields of Phase I (the record's names). */
export interface Phase1Fields {
  /** |M_t|. */
  memorized: number;
  /** |M_t| / |D|. */
  memorizedRatio: number;
  /** Figure 1: share of clean training interactions memorized. */
  memRateClean: number;
  /** Figure 1: share of noisy training interactions memorized. */
  memRateNoisy: number;
  /** Eq. 2 against the true labels. */
  mp: number;
  mr: number;
  /** sigma_hat of Eq. 4 (before any Table 4 shift). */
  noiseRateEstimate: number;
}

/** One observed epoch: the log fields plus the switch rule's view. */
export interface Phase1Observation extends Phase1Fields {
  epoch: number;
  /** 1 - sigma': the memorized ratio Eq. 3 asks for (sigma' = shifted sigma_hat). */
  threshold: number;
  /** Eq. 3 holds at this epoch. */
  reached: boolean;
  /** This is the first epoch at which Eq. 3 held: the estimated memorization point. */
  isMemorizationPoint: boolean;
}

/** Figure 4's data: histograms of normalised losses of clean and noisy interactions on [0, 1], and the fitted GMM. */
export interface LossHistogram {
  epoch: number;
  /** Counts of clean interactions per bin (FIGURE4_BINS equal bins on [0, 1], 1 in the last). */
  clean: number[];
  noisy: number[];
  /** Component 1 has the larger mean (the "noisy" component of Eq. 4). */
  gmm: Gmm2Params;
  noiseRate: number;
}

/** The state at the memorization point. */
export interface MemorizationPointState {
  epoch: number;
  noiseRate: number;
  memorizedRatio: number;
  /** Indices of M_{t_m} in the train split's CSR order. */
  memorized: Int32Array;
}

/** Counts of values per bin of `bins` equal bins on [0, 1]; only the interactions with noisy[k] == want. */
function histogram01(values: Float32Array, noisy: Uint8Array, want: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (let k = 0; k < values.length; k++) {
    if ((noisy[k] ? 1 : 0) !== want) continue;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(values[k] * bins)));
    counts[b]++;
  }
  return counts;
}

/** softplus(x) = ln(1 + e^x), without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * Wraps a scorer so that every block it scores also writes the per-sample
 * losses of the block's users into `out` (CSR order): BPR softplus(s_uj - s_ui),
 * BCE softplus(-s_ui) for label 1 (models/losses.ts on the same logits).
 */
export function lossRecordingScorer(scorer: BlockScorer, train: Interactions, examples: Batch, out: Float64Array): BlockScorer {
  const nItems = train.nItems;
  return (users: Int32Array): Float32Array => {
    const scores = scorer(users);
    for (let r = 0; r < users.length; r++) {
      const row = r * nItems;
      for (let k = train.indptr[users[r]]; k < train.indptr[users[r] + 1]; k++) {
        out[k] =
          examples.kind === "bpr"
            ? softplus(scores[row + examples.neg[k]] - scores[row + examples.pos[k]])
            : softplus(-scores[row + examples.items[k]]);
      }
    }
    return scores;
  };
}

/** Phase I bookkeeping: memorization tracking, the noise-rate estimate and the switch rule, epoch by epoch. */
export class Phase1 {
  readonly tracker: MemorizationTracker;
  readonly point: MemorizationPointTracker;
  readonly observations: Phase1Observation[] = [];
  private readonly poolRng: Rng;
  private readonly lossRng: Rng;
  private readonly lossSampler: NegativeSampler;
  private readonly users: Int32Array;
  private atPoint: MemorizationPointState | null = null;
  private histogram: LossHistogram | null = null;

  /** rng is forked twice here: the "2n" pool's negatives and the loss negatives draw from separate streams. */
  constructor(
    readonly train: Interactions,
    readonly lossKind: LossKind,
    readonly options: Phase1Options,
    rng: Rng,
  ) {
    if (size(train) === 0) throw new RangeError("Phase1: the training split is empty");
    this.tracker = new MemorizationTracker(train, { h: options.h, pool: options.pool, rule: options.rule, userBlock: options.userBlock });
    this.point = new MemorizationPointTracker(size(train), options.shift, options.shiftMode);
    this.poolRng = rng.fork();
    this.lossRng = rng.fork();
    this.lossSampler = new NegativeSampler(train, this.lossRng);
    this.users = userOf(train);
  }

  /** The examples whose losses feed the GMM, in CSR order: (u, i, fresh negative) for BPR, (u, i, 1) for BCE. */
  lossExamples(): Batch {
    const n = size(this.train);
    const items = this.train.items.slice(0, n);
    if (this.lossKind === "bpr") return { kind: "bpr", users: this.users, pos: items, neg: this.lossSampler.sampleFor(this.users) };
    return { kind: "bce", users: this.users, items, labels: new Float32Array(n).fill(1) };
  }

  /**
   * One epoch: memorization at the scorer, sigma_hat from the per-sample
   * losses (read off the scorer's scores, or from lossesOf, which returns one
   * loss per example of lossExamples()), and the switch rule.
   */
  observe(scorer: BlockScorer, lossesOf?: (examples: Batch) => Float32Array): Phase1Observation {
    const n = size(this.train);
    const examples = this.lossExamples();
    let raw: Float32Array | Float64Array;
    let mem: EpochMemorization;
    if (lossesOf === undefined) {
      raw = new Float64Array(n).fill(NaN);
      mem = this.tracker.observe(lossRecordingScorer(scorer, this.train, examples, raw), this.poolRng);
    } else {
      mem = this.tracker.observe(scorer, this.poolRng);
      raw = lossesOf(examples);
      if (raw.length !== n) throw new RangeError(`Phase1.observe: ${raw.length} losses for ${n} training interactions`);
    }
    const normalized = normalizeLosses(raw, this.options.normalize, this.train.indptr);
    const est = estimateNoiseRate(normalized); // Eq. 4
    const first = this.point.switchEpoch === null;
    const reached = this.point.observe(mem.epoch, mem.memorized, est.noiseRate); // Eq. 3
    const isPoint = reached && first;
    if (isPoint) {
      this.atPoint = { epoch: mem.epoch, noiseRate: est.noiseRate, memorizedRatio: mem.memorizedRatio, memorized: this.tracker.memorizedSet() };
    }
    const f4 = this.options.figure4Epoch;
    if ((f4 === 0 && (this.atPoint === null || isPoint)) || f4 === mem.epoch) {
      const noisy = this.train.noisy;
      this.histogram = {
        epoch: mem.epoch,
        clean: histogram01(normalized, noisy, 0, FIGURE4_BINS),
        noisy: histogram01(normalized, noisy, 1, FIGURE4_BINS),
        gmm: { weights: [...est.gmm.weights], means: [...est.gmm.means], variances: [...est.gmm.variances] },
        noiseRate: est.noiseRate,
      };
    }
    const obs: Phase1Observation = {
      epoch: mem.epoch,
      memorized: mem.memorized,
      memorizedRatio: mem.memorizedRatio,
      memRateClean: mem.memRateClean,
      memRateNoisy: mem.memRateNoisy,
      mp: mem.mp,
      mr: mem.mr,
      noiseRateEstimate: est.noiseRate,
      threshold: 1 - shiftedNoiseRate(est.noiseRate, this.options.shift, this.options.shiftMode),
      reached,
      isMemorizationPoint: isPoint,
    };
    this.observations.push(obs);
    return obs;
  }

  /** The estimated memorization point t_m (first epoch with Eq. 3), or null. */
  get memorizationPoint(): number | null {
    return this.point.switchEpoch;
  }

  /** sigma_hat, |M|/|D| and M itself at the memorization point, or null before it. */
  get stateAtPoint(): MemorizationPointState | null {
    return this.atPoint;
  }

  /** Figure 4's data (at figure4Epoch, or the memorization point, else the last epoch so far), or null before any epoch. */
  get lossHistogram(): LossHistogram | null {
    return this.histogram;
  }

  /** M_{t_m} (the memorized set at the memorization point) as its own CSR split, or null before the point. */
  memorizedAtPoint(): Interactions | null {
    const p = this.atPoint;
    if (p === null) return null;
    const flags = new Uint8Array(size(this.train));
    for (const k of p.memorized) flags[k] = 1;
    return filter(this.train, (k) => flags[k] === 1);
  }

  /** Writes Phase I's state (tracker, switch rule, observations, Figure 4, both streams) for a checkpoint. */
  exportState(w: StateWriter): void {
    w.pack("tracker", this.tracker.exportState());
    w.pack("point", this.point.exportState());
    w.pack("observations", this.observations);
    w.rng("poolRng", this.poolRng);
    w.rng("lossRng", this.lossRng);
    w.pack("atPoint", this.atPoint);
    w.pack("histogram", this.histogram);
  }

  /** Puts back what exportState wrote (same training split and options); throws a MethodStateError naming the field. */
  importState(r: StateReader): void {
    const n = size(this.train);
    const tracker = r.unpack("tracker");
    const point = r.unpack("point");
    const observations = readObservations(r);
    let atPoint: MemorizationPointState | null = null;
    if (r.has("atPoint")) {
      const a = r.child("atPoint");
      const memorized = a.array("memorized", Int32Array);
      memorized.forEach((k, j) => {
        if (!(k >= 0 && k < n && (j === 0 || k > memorized[j - 1]))) a.fail("memorized", `must hold ascending indices in [0, ${n}); [${j}] is ${k}`);
      });
      atPoint = { epoch: a.int("epoch", 1), noiseRate: a.num("noiseRate"), memorizedRatio: a.num("memorizedRatio"), memorized };
    }
    let histogram: LossHistogram | null = null;
    if (r.has("histogram")) {
      const h = r.child("histogram");
      const g = h.child("gmm");
      histogram = {
        epoch: h.int("epoch", 1),
        clean: h.nums("clean", FIGURE4_BINS),
        noisy: h.nums("noisy", FIGURE4_BINS),
        gmm: { weights: pair(g, "weights"), means: pair(g, "means"), variances: pair(g, "variances") },
        noiseRate: h.num("noiseRate"),
      };
    }
    r.wrap("tracker", () => this.tracker.importState(tracker as MemorizationTrackerState));
    r.wrap("point", () => this.point.importState(point as MemorizationPointEntry[]));
    if (this.tracker.epoch !== this.point.history.length) r.fail("point", `has ${this.point.history.length} epochs, the tracker ${this.tracker.epoch}`);
    if (observations.length !== this.tracker.epoch) r.fail("observations", `has ${observations.length} epochs, the tracker ${this.tracker.epoch}`);
    if ((atPoint === null ? null : atPoint.epoch) !== this.point.switchEpoch) r.fail("atPoint", `is at epoch ${atPoint?.epoch ?? null}, the switch rule first held at ${this.point.switchEpoch}`);
    r.rng("poolRng", this.poolRng);
    r.rng("lossRng", this.lossRng);
    this.observations.splice(0, this.observations.length, ...observations);
    this.atPoint = atPoint;
    this.histogram = histogram;
  }

  /** The record fields of Phase I's outcome (see readPhase1Facts). */
  describe(): Record<string, FieldValue | null> {
    const p = this.atPoint;
    const h = this.histogram;
    const n = size(this.train);
    return {
      memorizationPoint: p ? p.epoch : null,
      noiseRateAtPoint: p ? p.noiseRate : null,
      memorizedRatioAtPoint: p ? p.memorizedRatio : null,
      memorizedCount: p ? p.memorized.length : null,
      memorizedSet: p ? encodeMemorizedSet(p.memorized, n) : null,
      memorizedSetLength: n,
      memorizedSetEncoding: "base64 bitmask over the train split in CSR order, bit k in byte k>>3 at position k&7 (decodeMemorizedSet)",
      figure4Epoch: h ? h.epoch : null,
      figure4Clean: h ? h.clean : null,
      figure4Noisy: h ? h.noisy : null,
      // [w0, w1, mu0, mu1, var0, var1], component 1 the larger mean
      figure4Gmm: h ? [h.gmm.weights[0], h.gmm.weights[1], h.gmm.means[0], h.gmm.means[1], h.gmm.variances[0], h.gmm.variances[1]] : null,
      figure4NoiseRate: h ? h.noiseRate : null,
    };
  }
}

/** Two numbers under key. */
function pair(r: StateReader, key: string): [number, number] {
  const v = r.nums(key, 2);
  return [v[0], v[1]];
}

/** The observations of a Phase I state, each field checked. */
function readObservations(r: StateReader): Phase1Observation[] {
  return r.items("observations").map((o) => {
    const numbers = ["memorizedRatio", "memRateClean", "memRateNoisy", "mp", "mr", "noiseRateEstimate", "threshold"] as const;
    const out: Phase1Observation = {
      epoch: o.int("epoch", 1),
      memorized: o.int("memorized"),
      memorizedRatio: 0,
      memRateClean: 0,
      memRateNoisy: 0,
      mp: 0,
      mr: 0,
      noiseRateEstimate: 0,
      threshold: 0,
      reached: o.bool("reached"),
      isMemorizationPoint: o.bool("isMemorizationPoint"),
    };
    for (const k of numbers) out[k] = o.num(k);
    return out;
  });
}

/** Phase I's outcome read back from a record's method block. */
export interface Phase1Facts {
  /** Epoch at which the method left Phase I (null: never, or trackOnly). */
  switchEpoch: number | null;
  /** Estimated memorization point (first epoch with Eq. 3), also under trackOnly. */
  memorizationPoint: number | null;
  noiseRateAtPoint: number | null;
  memorizedRatioAtPoint: number | null;
  /** M_{t_m} as indices into the train split's CSR order (empty when there is no point). */
  memorized: Int32Array;
  figure4: LossHistogram | null;
}

/** Reads Phase I's facts from a record's `method` block (what the sgdl method's describe() wrote); throws naming a missing field. */
export function readPhase1Facts(method: Record<string, FieldValue | null | undefined>): Phase1Facts {
  const numOrNull = (k: string): number | null => {
    const v = method[k];
    if (v === null || v === undefined) return null;
    if (typeof v !== "number") throw new Error(`record method field '${k}' must be a number or null, got ${JSON.stringify(v)}`);
    return v;
  };
  const arr = (k: string): number[] => {
    const v = method[k];
    if (!Array.isArray(v)) throw new Error(`record method field '${k}' must be a list of numbers, got ${JSON.stringify(v)}`);
    return v;
  };
  const n = numOrNull("memorizedSetLength");
  if (n === null) throw new Error("record method field 'memorizedSetLength' is missing: not an sgdl record");
  const enc = method.memorizedSet;
  const memorized = typeof enc === "string" ? decodeMemorizedSet(enc, n) : new Int32Array(0);
  const f4 = numOrNull("figure4Epoch");
  let figure4: LossHistogram | null = null;
  if (f4 !== null) {
    const g = arr("figure4Gmm");
    figure4 = {
      epoch: f4,
      clean: arr("figure4Clean"),
      noisy: arr("figure4Noisy"),
      gmm: { weights: [g[0], g[1]], means: [g[2], g[3]], variances: [g[4], g[5]] },
      noiseRate: numOrNull("figure4NoiseRate") ?? NaN,
    };
  }
  return {
    switchEpoch: numOrNull("switchEpoch"),
    memorizationPoint: numOrNull("memorizationPoint"),
    noiseRateAtPoint: numOrNull("noiseRateAtPoint"),
    memorizedRatioAtPoint: numOrNull("memorizedRatioAtPoint"),
    memorized,
    figure4,
  };
}

/**
 * The switch epoch Eq. 3 gives on a logged Phase I under a Table 4 shift:
 * the first epoch with a non-empty M_t and |M_t| / |D| >= 1 - sigma', sigma'
 * = shiftedNoiseRate(sigma_hat, shift, mode); null if none. On the log of a
 * trackOnly run this is the switch epoch a switching run with that shift
 * would have (both train identically up to it).
 */
export function switchEpochFromLog(epochs: readonly EpochLog[], shift = 0, mode: ShiftMode = "absolute"): number | null {
  for (const e of epochs) {
    if (typeof e.memorized !== "number" || typeof e.memorizedRatio !== "number" || typeof e.noiseRateEstimate !== "number") continue;
    if (e.memorized > 0 && e.memorizedRatio >= 1 - shiftedNoiseRate(e.noiseRateEstimate, shift, mode)) return e.epoch; // Eq. 3
  }
  return null;
}
