/**
 * The denoising scheduler's variants and their settings (paper 3.2.2, Table 5
 * and the official code; scheduler.ts documents each variant): the kind, the
 * feature count F, the hidden size, phi's learning rate, and the per-variant
 * options, with each variant's defaults and a check that names the bad field.
 */

export type SchedulerKind = "lstm" | "lstm1" | "mlp" | "topf";
export const SCHEDULER_KINDS: readonly SchedulerKind[] = ["lstm", "lstm1", "mlp", "topf"];

export interface SchedulerConfig {
  kind: SchedulerKind;
  /** Features per memorized sample F: [loss, cosine(s)...]; paper 2, official code 3. */
  features: number;
  /** Hidden size: lstm and mlp 64 (paper 4.1.4), lstm1 10 (code). */
  hidden: number;
  /** Adam learning rate of phi (code `schedule_lr`: 5e-3 at HEAD, 1e-3 before). */
  lr: number;
  /** Re-draw phi and its Adam at every Phase II epoch: lstm1 true (code), the others false. */
  reinitEachEpoch: boolean;
  /** lstm: carry the state per memorized sample id ("sample") or per batch row ("position"). */
  stateKey: "sample" | "position";
  /** topf: fraction of the memorized batch selected (paper: half). */
  topfFraction: number;
  /** topf: "sum" = minmax(loss) + minmax(cos) (paper's wording); "low-loss" = (1 - minmax(loss)) + minmax(cos). */
  topfRule: "sum" | "low-loss";
}

/** The config's fields in a fixed order (for export/import checks). */
export const SCHEDULER_CONFIG_FIELDS: readonly (keyof SchedulerConfig)[] = ["kind", "features", "hidden", "lr", "reinitEachEpoch", "stateKey", "topfFraction", "topfRule"];

/** The defaults of a variant. */
export function schedulerDefaults(kind: SchedulerKind): SchedulerConfig {
  if (!SCHEDULER_KINDS.includes(kind)) throw new Error(`scheduler kind must be one of ${SCHEDULER_KINDS.join(", ")}, got '${String(kind)}'`);
  return {
    kind,
    features: kind === "lstm1" ? 3 : 2,
    hidden: kind === "lstm1" ? 10 : 64,
    lr: 1e-3,
    reinitEachEpoch: kind === "lstm1",
    stateKey: "sample",
    topfFraction: 0.5,
    topfRule: "sum",
  };
}

/** Throws a RangeError naming the first bad field of c. */
export function checkSchedulerConfig(c: SchedulerConfig): void {
  if (!SCHEDULER_KINDS.includes(c.kind)) throw new Error(`scheduler kind must be one of ${SCHEDULER_KINDS.join(", ")}, got '${String(c.kind)}'`);
  const minF = c.kind === "lstm1" ? 2 : 1;
  if (!Number.isInteger(c.features) || c.features < minF) throw new RangeError(`scheduler '${c.kind}': features must be an integer >= ${minF}, got ${c.features}`);
  if (!Number.isInteger(c.hidden) || c.hidden < 1) throw new RangeError(`scheduler '${c.kind}': hidden must be a positive integer, got ${c.hidden}`);
  if (!(c.lr > 0)) throw new RangeError(`scheduler '${c.kind}': lr must be positive, got ${c.lr}`);
  if (!(c.topfFraction > 0 && c.topfFraction <= 1)) throw new RangeError(`scheduler: topfFraction must be in (0, 1], got ${c.topfFraction}`);
  if (c.topfRule !== "sum" && c.topfRule !== "low-loss") throw new RangeError(`scheduler: topfRule must be 'sum' or 'low-loss', got '${String(c.topfRule)}'`);
  if (c.stateKey !== "sample" && c.stateKey !== "position") throw new RangeError(`scheduler: stateKey must be 'sample' or 'position', got '${String(c.stateKey)}'`);
}
