/**
 * The options of the `sgdl` method. The defaults are the paper's definitions
 * (Sections 3.1-3.2); the official code's behaviour (sgdl-reference 4, 5 and
 * 8) is the named preset `code` (its current HEAD) and `published` (commit
 * 91202d1, whose log gives the paper's LightGCN/MovieLens row: the weighting
 * net never trained). Every option is a plain value so a run config
 * (methodOptions) can carry it.
 */
import { SCHEDULER_KINDS, type SchedulerKind } from "./scheduler";
import type { MemorizationPool, MemorizationRule } from "./memorization";
import { MAX_HISTORY } from "./memorization-metrics";
import type { NormalizeMode, ShiftMode } from "./memorization-point";

/** The `sgdl` method's options. */
export interface SgdlOptions {
  /** Ranking-list pool of Eq. 1: "all" items (paper) or the user's N_u positives + N_u random negatives ("2n", code). */
  pool: MemorizationPool;
  /** Majority rule over the history: mean > 0.5 over the filled window (paper) or sum >= h/2 over h slots (code). */
  rule: MemorizationRule;
  /** History length h of Eq. 1 (paper grid {2, 5, 10, 20}). */
  h: number;
  /** Loss normalisation before the GMM: "global" min-max (paper) or min-max per user (code). */
  normalize: NormalizeMode;
  /** Table 4 shift of sigma_hat: +0.10 switches earlier, -0.10 later (memorization-point.ts). */
  shift: number;
  /** How the shift applies: percentage points ("absolute", default) or a fraction of sigma_hat ("relative"). */
  shiftMode: ShiftMode;
  /**
   * Where the GMM's per-sample losses come from: "scores" (default) reads them
   * off the memorization test's scores, the same logits the model's loss
   * uses, at no extra cost; "model" runs the model's loss (ctx.losses) on the
   * same examples. Equal up to float rounding (test/sgdl/phase1.test.ts).
   */
  gmmLosses: "scores" | "model";
  /** Phase I trains at lr * phase1LrScale (official code: 1/5); the lr is restored at the switch. */
  phase1LrScale: number;
  /**
   * Track memorization and never switch: Phase I goes on to the epoch cap
   * (Figure 1's normal panels, and Phase I's curves past the switch). Phase
   * "normal", the usual validation schedule and early stopping; the lr is
   * lr * phase1LrScale throughout (so with the default scale 1 this is normal
   * training). The estimated memorization point is still recorded.
   */
  trackOnly: boolean;
  /** Epoch whose normalised losses and GMM are kept for Figure 4; 0 = the memorization point (else the last tracked epoch). */
  figure4Epoch: number;

  // ---- Phase II (Section 3.2; phase2.ts) ----
  /** Stop at the switch instead of running Phase II (Phase I studies: notebook 03). */
  stopAtSwitch: boolean;
  /** Keep tracking memorization (memorized set, MP/MR, memory rates) in Phase II: Figure 1's SGDL panels; costs a ranking per epoch. */
  trackPhase2: boolean;
  /** "learned": psi follows Eq. 8; "frozen": psi stays at its random initialisation (the published code 91202d1). */
  weighting: "learned" | "frozen";
  /** Hidden units of g(.; psi): 64 (paper 4.1.4), 100 (code). */
  weightingHidden: number;
  /** psi's initialisation: "xavier" (kit) or "pytorch" (nn.Linear's default, the code). */
  weightingInit: "xavier" | "pytorch";
  /** Adam lr of psi (eta2 of Eq. 8); 0 = the model's lr (paper: eta1 = eta2; code meta_lr = lr). */
  metaLr: number;
  /** The scheduler (Section 3.2.2): "lstm" (paper), "lstm1" (code), "mlp" or "topf" (Table 5). */
  scheduler: SchedulerKind;
  /** Gumbel-softmax temperature of Eq. 12: 0.05 (paper; code 91202d1), 1.0 (code HEAD). */
  tau: number;
  /** Adam lr of the scheduler (code schedule_lr: 1e-3 in 91202d1, 5e-3 at HEAD). */
  scheduleLr: number;
  /** Table 3 ablations: "none", "no-dls" (Phase II trains on the memorized data only), "no-ads" (all memorized data, no scheduler). */
  ablation: "none" | "no-dls" | "no-ads";
  /** The assumed update of the scheduler's similarity: from the training batch (paper, Eq. 7) or the memorized batch (code's theta~). */
  cosineFrom: "train" | "memorized";
  /** One cosine over all covered rows (paper: one similarity) or one per table / node side (code: one per embedding table). */
  cosine: "all" | "group";
  /** The assumed update the meta loss is taken at: Eq. 7 on the training batch (paper, code HEAD) or on the memorized batch (91202d1). */
  metaFrom: "train" | "memorized";
  /** Re-create the model's and psi's Adam every Phase II epoch, as the code does (the scheduler's own reset is lstm1's). */
  freshOptimizers: boolean;
  /** What the scheduler's draws S pick in the meta loss: per-sample losses (kit) or per-position rows, i.e. LightGCN's final embeddings (code, sgdl-reference 5.3 B4; BPR models only); only S's gradient differs. */
  selectionLevel: "loss" | "embedding";
  /** Phase II epoch whose (loss, weight, label) samples and weighting curve are kept for Figure 5; 0 = the last. */
  figure5Epoch: number;
}

/** The paper's definitions: the method's defaults. */
export const SGDL_DEFAULTS: Readonly<SgdlOptions> = {
  pool: "all",
  rule: "paper",
  h: 10,
  normalize: "global",
  shift: 0,
  shiftMode: "absolute",
  gmmLosses: "scores",
  phase1LrScale: 1,
  trackOnly: false,
  figure4Epoch: 0,
  stopAtSwitch: false,
  trackPhase2: false,
  weighting: "learned",
  weightingHidden: 64,
  weightingInit: "xavier",
  metaLr: 0,
  scheduler: "lstm",
  tau: 0.05,
  scheduleLr: 1e-3,
  ablation: "none",
  cosineFrom: "train",
  cosine: "all",
  metaFrom: "train",
  freshOptimizers: false,
  selectionLevel: "loss",
  figure5Epoch: 0,
};

/** The official code's Phase I: pool 2n, rule code, per-user normalisation, lr/5 (sgdl-reference 4). */
const CODE_PHASE1: Readonly<Partial<SgdlOptions>> = { pool: "2n", rule: "code", normalize: "per-user", phase1LrScale: 0.2 };

/** The official code's Phase II at HEAD (sgdl-reference 3.3-3.4, 5): LTW 100 with PyTorch init, lstm1, tau 1.0, schedule_lr 5e-3, theta~ cosines per table, fresh Adams per epoch. */
const CODE_PHASE2: Readonly<Partial<SgdlOptions>> = {
  weighting: "learned",
  weightingHidden: 100,
  weightingInit: "pytorch",
  scheduler: "lstm1",
  tau: 1.0,
  scheduleLr: 5e-3,
  cosineFrom: "memorized",
  cosine: "group",
  metaFrom: "train",
  freshOptimizers: true,
};

/**
 * Named option sets: `paper` (the defaults), `code` (the official code at
 * HEAD) and `published` (commit 91202d1, the paper's LightGCN/MovieLens row:
 * psi frozen at its init, meta loss at the memorized batch's theta~, tau 0.05,
 * schedule_lr 1e-3). The official runs also use lr 5e-4 (a run setting, --lr).
 * Not yet in `code` and `published`: the code's embedding-level selection
 * (selectionLevel "embedding"), added after their committed records were run;
 * give it as an option beside the preset (with psi frozen, as in `published`,
 * the scheduler's gradient cannot reach theta, so the test metrics stay the same).
 */
export const SGDL_OPTION_PRESETS: Readonly<Record<"paper" | "code" | "published", Readonly<Partial<SgdlOptions>>>> = {
  paper: {
    pool: "all",
    rule: "paper",
    normalize: "global",
    phase1LrScale: 1,
    weighting: "learned",
    weightingHidden: 64,
    weightingInit: "xavier",
    scheduler: "lstm",
    tau: 0.05,
    scheduleLr: 1e-3,
    cosineFrom: "train",
    cosine: "all",
    metaFrom: "train",
    freshOptimizers: false,
  },
  code: { ...CODE_PHASE1, ...CODE_PHASE2 },
  published: { ...CODE_PHASE1, ...CODE_PHASE2, weighting: "frozen", tau: 0.05, scheduleLr: 1e-3, metaFrom: "memorized" },
};

/** Names of the option presets. */
export type SgdlOptionPreset = keyof typeof SGDL_OPTION_PRESETS;

/** Whether a string names an option preset. */
export function isSgdlOptionPreset(name: string): name is SgdlOptionPreset {
  return Object.prototype.hasOwnProperty.call(SGDL_OPTION_PRESETS, name);
}

/** A plain option object (as in a run config). */
export type PlainOptions = Record<string, number | string | boolean>;

/** Checks plain options (defaults filled in for missing ones) and returns typed SgdlOptions; throws naming the bad option. */
export function parseSgdlOptions(input: PlainOptions = {}): SgdlOptions {
  const o: PlainOptions = { ...SGDL_DEFAULTS, ...input };
  for (const key of Object.keys(o)) {
    if (!(key in SGDL_DEFAULTS)) throw new Error(`sgdl option '${key}' is unknown; known: ${Object.keys(SGDL_DEFAULTS).join(", ")}`);
  }
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T => {
    const v = o[key];
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      throw new Error(`sgdl option '${key}' must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  };
  const num = (key: string, ok: (x: number) => boolean, what: string): number => {
    const v = o[key];
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw new Error(`sgdl option '${key}' must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string): boolean => {
    const v = o[key];
    if (typeof v !== "boolean") throw new Error(`sgdl option '${key}' must be a boolean, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    pool: oneOf<MemorizationPool>("pool", ["all", "2n"]),
    rule: oneOf<MemorizationRule>("rule", ["paper", "code"]),
    h: num("h", (x) => Number.isInteger(x) && x >= 1 && x <= MAX_HISTORY, `an integer in [1, ${MAX_HISTORY}]`),
    normalize: oneOf<NormalizeMode>("normalize", ["global", "per-user"]),
    shift: num("shift", (x) => x >= -1 && x <= 1, "a number in [-1, 1] (e.g. 0.05 for +5 %)"),
    shiftMode: oneOf<ShiftMode>("shiftMode", ["absolute", "relative"]),
    gmmLosses: oneOf<"scores" | "model">("gmmLosses", ["scores", "model"]),
    phase1LrScale: num("phase1LrScale", (x) => x > 0, "a positive number"),
    trackOnly: bool("trackOnly"),
    figure4Epoch: num("figure4Epoch", (x) => Number.isInteger(x) && x >= 0, "a non-negative integer (0 = the memorization point)"),
    stopAtSwitch: bool("stopAtSwitch"),
    trackPhase2: bool("trackPhase2"),
    weighting: oneOf<"learned" | "frozen">("weighting", ["learned", "frozen"]),
    weightingHidden: num("weightingHidden", (x) => Number.isInteger(x) && x >= 1, "a positive integer"),
    weightingInit: oneOf<"xavier" | "pytorch">("weightingInit", ["xavier", "pytorch"]),
    metaLr: num("metaLr", (x) => x >= 0, "a non-negative number (0 = the model's lr)"),
    scheduler: oneOf<SchedulerKind>("scheduler", SCHEDULER_KINDS),
    tau: num("tau", (x) => x > 0, "a positive number"),
    scheduleLr: num("scheduleLr", (x) => x > 0, "a positive number"),
    ablation: oneOf<"none" | "no-dls" | "no-ads">("ablation", ["none", "no-dls", "no-ads"]),
    cosineFrom: oneOf<"train" | "memorized">("cosineFrom", ["train", "memorized"]),
    cosine: oneOf<"all" | "group">("cosine", ["all", "group"]),
    metaFrom: oneOf<"train" | "memorized">("metaFrom", ["train", "memorized"]),
    freshOptimizers: bool("freshOptimizers"),
    selectionLevel: oneOf<"loss" | "embedding">("selectionLevel", ["loss", "embedding"]),
    figure5Epoch: num("figure5Epoch", (x) => Number.isInteger(x) && x >= 0, "a non-negative integer (0 = the last Phase II epoch)"),
  };
}

/** The options as a plain object for records and configs. */
export function plainSgdlOptions(o: SgdlOptions): PlainOptions {
  return { ...o };
}
