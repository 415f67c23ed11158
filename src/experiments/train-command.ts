/**
 * `sgdl train`: parses the flags, runs one experiment (experiments/runner.ts)
 * reporting progress through onEvent (the CLI draws a bar on stderr, and says there when a run resumes from its
 * checkpoint), and prints where the record is and the test
 * metrics; with --json, exactly one JSON object on stdout:
 *   { "record": <path>, "test": { "recall@5": .., "recall@20": .., "ndcg@5": .., "ndcg@20": .. } }
 */
import { parseArgs } from "node:util";
import type { MethodOptions } from "../methods/registry";
import { isSgdlOptionPreset, SGDL_OPTION_PRESETS } from "../methods/sgdl/options";
import { SCHEDULER_KINDS } from "../methods/sgdl/scheduler";
import { defaultDataset } from "../data/registry";
import { ConfigError, type RunConfigInput } from "./config";
import { runExperiment, type RunEvent } from "./runner";
import type { ResultRecord } from "./record";

export const TRAIN_USAGE = `usage: sgdl train --dataset NAME --model neumf|cdae|ngcf|lightgcn|mf --method normal|sgdl --seed N
                  [--epochs N] [--preset quick|paper] [--batch-size N] [--lr X]
                  [--eval-freq N] [--stop-step N] [--backend B] [--results DIR] [--no-reuse] [--no-resume] [--json]
                  sgdl: [--sgdl-options paper|code] [--pool all|2n] [--rule paper|code] [--history N]
                        [--normalize global|per-user] [--shift X] [--phase1-lr-scale X] [--track-only]

  Trains one model with one method and writes a result record under --results (default results/).
  --dataset defaults to ml-100k-sgdl when its files are present, else synthetic; --seed to 2020.
  A record with the same inputs (config, data fingerprint, seed, backend) is reused unless --no-reuse.
  An interrupted run resumes from its checkpoint (.cache/checkpoints/, written after each validation,
  and by sgdl after every epoch) with the same result; --no-resume deletes the checkpoint and starts over.
  --preset paper (default): the paper's settings; quick: a few epochs for a first look.
  --json prints one JSON object {record, test} on stdout; progress goes to stderr.
  sgdl options (methodOptions; defaults = the paper): --sgdl-options code sets the official code
  (Phase I: pool 2n, rule code, per-user normalisation, phase1 lr scale 0.2; Phase II: weighting
  net 100 wide, lstm1 scheduler, tau 1.0, per-table cosines at the memorized batch's assumed update,
  fresh optimizers each epoch); published = code as in the paper's logs (commit 91202d1: weighting
  frozen, tau 0.05, meta loss at the memorized batch's assumed update; the logs used --lr 0.0005).
  Single flags override the preset.
  --shift 0.05 moves sigma_hat by +5 points (Table 4: earlier switch). --track-only tracks memorization
  during normal training without switching (Figure 1); --stop-at-switch ends the run at the switch;
  --track-phase2 keeps tracking memorization in Phase II (Figure 1's SGDL panels).
  Phase II: --weighting learned|frozen, --scheduler lstm|lstm1|mlp|topf (Table 5), --tau X,
  --ablation none|no-dls|no-ads (Table 3), --meta-lr X (0 = --lr), --schedule-lr X,
  --selection-level loss|embedding (what the draws pick in the meta loss: per-sample losses, or the code's
  final embeddings; BPR models; not in the code/published presets yet).`;

const OPTIONS = {
  dataset: { type: "string" },
  model: { type: "string" },
  method: { type: "string" },
  seed: { type: "string" },
  epochs: { type: "string" },
  preset: { type: "string" },
  "batch-size": { type: "string" },
  lr: { type: "string" },
  "eval-freq": { type: "string" },
  "stop-step": { type: "string" },
  backend: { type: "string" },
  results: { type: "string" },
  "sgdl-options": { type: "string" },
  pool: { type: "string" },
  rule: { type: "string" },
  history: { type: "string" },
  normalize: { type: "string" },
  shift: { type: "string" },
  "phase1-lr-scale": { type: "string" },
  "track-only": { type: "boolean" },
  "stop-at-switch": { type: "boolean" },
  "track-phase2": { type: "boolean" },
  weighting: { type: "string" },
  scheduler: { type: "string" },
  tau: { type: "string" },
  ablation: { type: "string" },
  "meta-lr": { type: "string" },
  "schedule-lr": { type: "string" },
  "selection-level": { type: "string" },
  "no-reuse": { type: "boolean" },
  "no-resume": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Config field -> the flag that sets it, for error messages. */
const FLAG_OF: Record<string, string> = {
  dataset: "--dataset",
  model: "--model",
  method: "--method",
  seed: "--seed",
  epochs: "--epochs",
  preset: "--preset",
  batchSize: "--batch-size",
  lr: "--lr",
  evalFreq: "--eval-freq",
  stopStep: "--stop-step",
  backend: "--backend",
};

/** sgdl option -> the flag that sets it, for error messages. */
const OPTION_FLAG: Record<string, string> = {
  pool: "--pool",
  rule: "--rule",
  h: "--history",
  normalize: "--normalize",
  shift: "--shift",
  phase1LrScale: "--phase1-lr-scale",
  trackOnly: "--track-only",
  stopAtSwitch: "--stop-at-switch",
  trackPhase2: "--track-phase2",
  weighting: "--weighting",
  scheduler: "--scheduler",
  tau: "--tau",
  ablation: "--ablation",
  metaLr: "--meta-lr",
  scheduleLr: "--schedule-lr",
  selectionLevel: "--selection-level",
};

/** A bad flag: the message names it. */
class FlagError extends Error {}

function intFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n)) throw new FlagError(`--${flag} must be an integer, got '${v}'`);
  return n;
}

function numFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new FlagError(`--${flag} must be a number, got '${v}'`);
  return n;
}

/** The run config and the command's own options from `sgdl train` arguments. */
export function parseTrainArgs(argv: string[]): { config: RunConfigInput; resultsDir?: string; reuse: boolean; resume: boolean; json: boolean; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new FlagError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  if (v.help) return { config: { dataset: "", model: "" }, reuse: true, resume: true, json: false, help: true };
  if (v.model === undefined) throw new FlagError("--model is required");
  // without --dataset: ml-100k-sgdl when present, else synthetic; without --seed: 2020 (config.ts)
  const config: RunConfigInput = { dataset: v.dataset ?? defaultDataset(), model: v.model };
  const set = <K extends keyof RunConfigInput>(k: K, x: RunConfigInput[K] | undefined) => {
    if (x !== undefined) config[k] = x;
  };
  set("method", v.method);
  set("seed", intFlag("seed", v.seed));
  set("epochs", intFlag("epochs", v.epochs));
  set("preset", v.preset);
  set("batchSize", intFlag("batch-size", v["batch-size"]));
  set("lr", numFlag("lr", v.lr));
  set("evalFreq", intFlag("eval-freq", v["eval-freq"]));
  set("stopStep", intFlag("stop-step", v["stop-step"]));
  set("backend", v.backend);
  const methodOptions = sgdlFlags(v);
  if (methodOptions !== undefined) config.methodOptions = methodOptions;
  return { config, resultsDir: v.results, reuse: !v["no-reuse"], resume: !v["no-resume"], json: v.json ?? false, help: false };
}

function choice(flag: string, v: string | undefined, allowed: readonly string[]): string | undefined {
  if (v !== undefined && !allowed.includes(v)) throw new FlagError(`--${flag} must be one of ${allowed.join(", ")}, got '${v}'`);
  return v;
}

/** The sgdl method options from the flags: the --sgdl-options preset, then single flags over it; undefined when none is given. */
function sgdlFlags(v: {
  "sgdl-options"?: string;
  pool?: string;
  rule?: string;
  history?: string;
  normalize?: string;
  shift?: string;
  "phase1-lr-scale"?: string;
  "track-only"?: boolean;
  "stop-at-switch"?: boolean;
  "track-phase2"?: boolean;
  weighting?: string;
  scheduler?: string;
  tau?: string;
  ablation?: string;
  "meta-lr"?: string;
  "schedule-lr"?: string;
  "selection-level"?: string;
}): MethodOptions | undefined {
  const out: MethodOptions = {};
  const preset = v["sgdl-options"];
  if (preset !== undefined) {
    if (!isSgdlOptionPreset(preset)) throw new FlagError(`--sgdl-options must be one of ${Object.keys(SGDL_OPTION_PRESETS).join(", ")}, got '${preset}'`);
    Object.assign(out, SGDL_OPTION_PRESETS[preset]);
  }
  const put = (key: string, x: string | number | boolean | undefined) => {
    if (x !== undefined) out[key] = x;
  };
  put("pool", choice("pool", v.pool, ["all", "2n"]));
  put("rule", choice("rule", v.rule, ["paper", "code"]));
  put("h", intFlag("history", v.history));
  put("normalize", choice("normalize", v.normalize, ["global", "per-user"]));
  put("shift", numFlag("shift", v.shift));
  put("phase1LrScale", numFlag("phase1-lr-scale", v["phase1-lr-scale"]));
  if (v["track-only"]) out.trackOnly = true;
  if (v["stop-at-switch"]) out.stopAtSwitch = true;
  if (v["track-phase2"]) out.trackPhase2 = true;
  put("weighting", choice("weighting", v.weighting, ["learned", "frozen"]));
  put("scheduler", choice("scheduler", v.scheduler, SCHEDULER_KINDS));
  put("tau", numFlag("tau", v.tau));
  put("ablation", choice("ablation", v.ablation, ["none", "no-dls", "no-ads"]));
  put("metaLr", numFlag("meta-lr", v["meta-lr"]));
  put("scheduleLr", numFlag("schedule-lr", v["schedule-lr"]));
  put("selectionLevel", choice("selection-level", v["selection-level"], ["loss", "embedding"]));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The record's test means, recall@K then ndcg@K for each K. */
export function testSummary(record: ResultRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const metric of ["recall", "ndcg"]) {
    for (const k of record.config.ks) {
      const value = record.test[`${metric}@${k}`];
      if (typeof value === "number") out[`${metric}@${k}`] = value;
    }
  }
  return out;
}

/** Runs `sgdl train` with the given arguments; lines for stdout go to `out`. Resolves to the exit code. */
export async function trainCommand(argv: string[], out: (line: string) => void, onEvent: (e: RunEvent) => void = () => undefined): Promise<number> {
  let args;
  try {
    args = parseTrainArgs(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`sgdl train: ${err.message}\n\n${TRAIN_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    out(TRAIN_USAGE);
    return 0;
  }
  let result;
  try {
    result = await runExperiment(args.config, { resultsDir: args.resultsDir, reuse: args.reuse, resume: args.resume, onEvent });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const flag = FLAG_OF[err.field];
    let message = flag ? err.message.replace(`config field '${err.field}'`, flag) : err.message;
    if (err.field === "methodOptions") message = message.replace(/option '(\w+)'/, (m, k: string) => (OPTION_FLAG[k] ? `${m} (${OPTION_FLAG[k]})` : m));
    process.stderr.write(`sgdl train: ${message}\n`);
    return 2;
  }
  const test = testSummary(result.record);
  if (args.json) {
    out(JSON.stringify({ record: result.path, test }));
    return 0;
  }
  const resumed = result.record.resumedFrom;
  out(`record: ${result.path}${result.cached ? " (reused)" : ""}${resumed ? ` (resumed after epoch ${resumed.join(", ")})` : ""}`);
  const best = result.record.best;
  out(`best validation: ${best ? `epoch ${best.epoch}` : "none (last parameters tested)"}`);
  out(`test: ${Object.entries(test).map(([k, x]) => `${k} ${x.toFixed(4)}`).join("  ")}`);
  return 0;
}
