/**
 * `sgdl train`: parses the flags, runs one experiment (experiments/runner.ts)
 * reporting progress through onEvent (the CLI draws a bar on stderr), and prints where the record is and the test
 * metrics; with --json, exactly one JSON object on stdout:
 *   { "record": <path>, "test": { "recall@5": .., "recall@20": .., "ndcg@5": .., "ndcg@20": .. } }
 */
import { parseArgs } from "node:util";
import { ConfigError, type RunConfigInput } from "./config";
import { runExperiment, type RunEvent } from "./runner";
import type { ResultRecord } from "./record";

export const TRAIN_USAGE = `usage: sgdl train --dataset NAME --model neumf|cdae|ngcf|lightgcn|mf --method normal --seed N
                  [--epochs N] [--preset quick|paper] [--batch-size N] [--lr X]
                  [--eval-freq N] [--stop-step N] [--backend B] [--results DIR] [--no-reuse] [--json]

  Trains one model with one method and writes a result record under --results (default results/).
  A record with the same inputs (config, data fingerprint, seed, backend) is reused unless --no-reuse.
  --preset paper (default): the paper's settings; quick: a few epochs for a first look.
  --json prints one JSON object {record, test} on stdout; progress goes to stderr.`;

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
  "no-reuse": { type: "boolean" },
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
export function parseTrainArgs(argv: string[]): { config: RunConfigInput; resultsDir?: string; reuse: boolean; json: boolean; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new FlagError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  if (v.help) return { config: { dataset: "", model: "" }, reuse: true, json: false, help: true };
  for (const f of ["dataset", "model", "seed"] as const) if (v[f] === undefined) throw new FlagError(`--${f} is required`);
  const config: RunConfigInput = { dataset: v.dataset ?? "", model: v.model ?? "" };
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
  return { config, resultsDir: v.results, reuse: !v["no-reuse"], json: v.json ?? false, help: false };
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
    result = await runExperiment(args.config, { resultsDir: args.resultsDir, reuse: args.reuse, onEvent });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const flag = FLAG_OF[err.field];
    process.stderr.write(`sgdl train: ${flag ? err.message.replace(`config field '${err.field}'`, flag) : err.message}\n`);
    return 2;
  }
  const test = testSummary(result.record);
  if (args.json) {
    out(JSON.stringify({ record: result.path, test }));
    return 0;
  }
  out(`record: ${result.path}${result.cached ? " (reused)" : ""}`);
  const best = result.record.best;
  out(`best validation: ${best ? `epoch ${best.epoch}` : "none (last parameters tested)"}`);
  out(`test: ${Object.entries(test).map(([k, x]) => `${k} ${x.toFixed(4)}`).join("  ")}`);
  return 0;
}
