/**
 * The options of the `sgdl` method. The defaults are the paper's definitions
 * (Sections 3.1.1-3.1.2); the official code's behaviour (sgdl-reference 4 and
 * 8 items 3-6) is the named preset `code`. Every option is a plain value so a
 * run config (methodOptions) can carry it.
 */
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
};

/** Named option sets: `paper` (the defaults) and `code` (the official code's Phase I: pool 2n, rule code, per-user normalisation, lr/5). */
export const SGDL_OPTION_PRESETS: Readonly<Record<"paper" | "code", Readonly<Partial<SgdlOptions>>>> = {
  paper: { pool: "all", rule: "paper", normalize: "global", phase1LrScale: 1 },
  code: { pool: "2n", rule: "code", normalize: "per-user", phase1LrScale: 0.2 },
};

/** Names of the option presets. */
export type SgdlOptionPreset = keyof typeof SGDL_OPTION_PRESETS;

/** Whether a string names an option preset. */
export function isSgdlOptionPreset(name: string): name is SgdlOptionPreset {
  return name === "paper" || name === "code";
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
  const trackOnly = o.trackOnly;
  if (typeof trackOnly !== "boolean") throw new Error(`sgdl option 'trackOnly' must be a boolean, got ${JSON.stringify(trackOnly)}`);
  return {
    pool: oneOf<MemorizationPool>("pool", ["all", "2n"]),
    rule: oneOf<MemorizationRule>("rule", ["paper", "code"]),
    h: num("h", (x) => Number.isInteger(x) && x >= 1 && x <= MAX_HISTORY, `an integer in [1, ${MAX_HISTORY}]`),
    normalize: oneOf<NormalizeMode>("normalize", ["global", "per-user"]),
    shift: num("shift", (x) => x >= -1 && x <= 1, "a number in [-1, 1] (e.g. 0.05 for +5 %)"),
    shiftMode: oneOf<ShiftMode>("shiftMode", ["absolute", "relative"]),
    gmmLosses: oneOf<"scores" | "model">("gmmLosses", ["scores", "model"]),
    phase1LrScale: num("phase1LrScale", (x) => x > 0, "a positive number"),
    trackOnly,
    figure4Epoch: num("figure4Epoch", (x) => Number.isInteger(x) && x >= 0, "a non-negative integer (0 = the memorization point)"),
  };
}

/** The options as a plain object for records and configs. */
export function plainSgdlOptions(o: SgdlOptions): PlainOptions {
  return { ...o };
}
