/**
 * Runs one experiment: a pure function of (config, dataset fingerprint, seed)
 * on a given backend. The cache key is the sha256 of exactly those inputs
 * (plus the record schema and the kit's version); when a record with that key
 * is already under the results folder and reuse is on, it is returned without
 * training, so a notebook reruns only what is missing. While a run trains it
 * keeps a checkpoint under `.cache/checkpoints/<key>.ckpt` (training/resume.ts):
 * a run that was interrupted resumes from it with the same result, and the
 * checkpoint is deleted once the record is written.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend } from "../backend";
import type { Dataset } from "../data/dataset";
import { loadDataset } from "../data/registry";
import { datasetStats } from "../data/stats";
import { createMethod } from "../methods/registry";
import { createModel } from "../models/registry";
import type { TrainEvent } from "../training/events";
import { train } from "../training/trainer";
import { resolveConfig, type RunConfig, type RunConfigInput } from "./config";
import { collectEnvironment, projectRoot } from "./environment";
import { RECORD_SCHEMA, readRecord, recordPath, testMetrics, writeRecord, type DatasetSummary, type ResultRecord } from "./record";

/** Training events, plus the runner's own: the key is known, or a cached record was reused. */
export type RunEvent =
  | TrainEvent
  | { type: "run-start"; key: string; config: RunConfig }
  | { type: "cached"; key: string; path: string };

export interface RunOptions {
  onEvent?: (event: RunEvent) => void;
  /** Folder of result records (default `results/` at the project root). */
  resultsDir?: string;
  /** Return an existing record with the same key instead of training (default true). */
  reuse?: boolean;
  /** Data folder (default SGDL_DATA_DIR, else data/ at the project root). */
  dataDir?: string;
  /** Resume from the run's checkpoint when there is one (default true); false deletes it and starts over. */
  resume?: boolean;
  /** Folder of checkpoints (default `.cache/checkpoints/` at the project root). */
  checkpointDir?: string;
}

export interface RunResult {
  record: ResultRecord;
  /** Where the record is. */
  path: string;
  /** The record was reused, not trained now. */
  cached: boolean;
}

/** The default results folder: `results/` at the project root. */
export function defaultResultsDir(): string {
  return path.join(projectRoot(), "results");
}

/** The default checkpoint folder: `.cache/checkpoints/` at the project root. */
export function defaultCheckpointDir(): string {
  return path.join(projectRoot(), ".cache", "checkpoints");
}

/** The kit's version from package.json (part of the cache key). */
function kitVersion(): string {
  const pkg: unknown = JSON.parse(fs.readFileSync(path.join(projectRoot(), "package.json"), "utf8"));
  return typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string" ? pkg.version : "unknown";
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The cache key: sha256 over the config (without the requested backend), the data's fingerprint, the seed and the backend that runs. */
export function runKey(config: RunConfig, fingerprint: string, backend: string): string {
  const { backend: _requested, ...rest } = config;
  const inputs = { schema: RECORD_SCHEMA, kit: kitVersion(), config: rest, dataset: fingerprint, seed: config.seed, backend };
  return createHash("sha256").update(canonicalJson(inputs)).digest("hex");
}

const datasets = new Map<string, Dataset>();

/** Loads a dataset once per process (datasets are immutable). */
function cachedDataset(config: RunConfig, dataDir: string | undefined): Dataset {
  const id = JSON.stringify([config.dataset, config.dataPreset, dataDir ?? process.env.SGDL_DATA_DIR ?? ""]);
  let d = datasets.get(id);
  if (d === undefined) {
    d = loadDataset(config.dataset, { dataDir, preset: config.dataPreset ?? undefined });
    datasets.set(id, d);
  }
  return d;
}

/** Table 1-style facts for the record. */
function summarize(d: Dataset): DatasetSummary {
  const s = datasetStats(d);
  return {
    name: d.name,
    fingerprint: d.fingerprint,
    description: d.description,
    users: s.users,
    items: s.items,
    interactions: s.interactions,
    noisy: s.noisy,
    split: s.split,
    splitNoisy: s.splitNoisy,
    warnings: s.warnings.length,
  };
}

/** Runs (or reuses) one experiment and writes its record atomically. */
export async function runExperiment(input: RunConfigInput, opts: RunOptions = {}): Promise<RunResult> {
  const config = resolveConfig(input);
  const emit = opts.onEvent ?? (() => undefined);
  const resultsDir = path.resolve(opts.resultsDir ?? defaultResultsDir());
  const backend = await initBackend(config.backend);
  const dataset = cachedDataset(config, opts.dataDir);
  const key = runKey(config, dataset.fingerprint, backend.name);
  const file = recordPath(resultsDir, config, key);
  if ((opts.reuse ?? true) && fs.existsSync(file)) {
    const record = readRecord(file);
    if (record.key === key) {
      emit({ type: "cached", key, path: file });
      return { record, path: file, cached: true };
    }
  }
  emit({ type: "run-start", key, config });
  const startedAt = new Date().toISOString();
  // taken before training: the commit the run started from, not the one checked out when it ended
  const environment = collectEnvironment(backend);
  const method = createMethod(config.method, config.methodOptions);
  const checkpoint = path.join(path.resolve(opts.checkpointDir ?? defaultCheckpointDir()), `${key}.ckpt`);
  if (opts.resume === false) fs.rmSync(checkpoint, { force: true });
  const result = await train({
    dataset,
    createModel: (mc, rng) => createModel(config.model, mc, { ...config.modelConfig, lr: config.lr }, rng),
    method,
    settings: { epochs: config.epochs, batchSize: config.batchSize, lr: config.lr, evalFreq: config.evalFreq, stopStep: config.stopStep, ks: config.ks },
    seed: config.seed,
    onEvent: emit,
    checkpoint: { path: checkpoint, runKey: key },
  });
  const record: ResultRecord = {
    schema: RECORD_SCHEMA,
    key,
    config,
    dataset: summarize(dataset),
    environment,
    seed: config.seed,
    startedAt,
    seconds: result.seconds,
    epochs: result.epochs,
    best: result.best ? { epoch: result.best.epoch, [result.best.metric]: result.best.value } : null,
    stoppedEarly: result.stoppedEarly,
    test: testMetrics(result.test.mean, result.test.users, result.test.perUser),
    model: result.model.describe(),
    method: { name: method.name, ...(method.describe ? method.describe() : {}) },
  };
  if (result.resumedFrom.length > 0) record.resumedFrom = result.resumedFrom;
  const written = writeRecord(resultsDir, record);
  fs.rmSync(checkpoint, { force: true });
  return { record, path: written, cached: false };
}
