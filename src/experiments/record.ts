/**
 * The result record: one JSON file per run under results/, written
 * atomically. It holds the config, the data's identity, the environment, the
 * per-epoch log, the restored checkpoint, and the test metrics with their
 * per-user values (for significance tests). `readRecord` checks the fields a
 * reader relies on and names the file and field when one is missing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeJsonAtomic } from "../util/atomic";
import { DataError } from "../util/errors";
import type { EpochLog, FieldValue } from "../training/events";
import type { RunConfig } from "./config";
import type { Environment } from "./environment";

export const RECORD_SCHEMA = 1;

/** Table 1-style facts about the data the run used. */
export interface DatasetSummary {
  name: string;
  fingerprint: string;
  description: string;
  users: number;
  items: number;
  interactions: number;
  noisy: number;
  split: { train: number; valid: number; test: number };
  splitNoisy: { train: number; valid: number; test: number };
  warnings: number;
}

/** Per-user test metrics: users[j] has perUser[metric][j]. */
export interface PerUserMetrics {
  users: number[];
  [metric: string]: number[];
}

/** Test metric means (`recall@5`, `recall@20`, `ndcg@5`, `ndcg@20`, ...) and their per-user values. */
export interface TestMetrics {
  perUser: PerUserMetrics;
  [metric: string]: number | PerUserMetrics;
}

/** The checkpoint that was tested: its epoch and its validation value under the early-stopping metric. */
export interface BestCheckpoint {
  epoch: number;
  [metric: string]: number;
}

export interface ResultRecord {
  schema: typeof RECORD_SCHEMA;
  /** sha256 of the run's inputs (experiments/runner.ts): the cache key. */
  key: string;
  config: RunConfig;
  dataset: DatasetSummary;
  environment: Environment;
  seed: number;
  /** ISO time the run started. */
  startedAt: string;
  /** Wall time of the whole run (training, validation, test); of a resumed run, the sum over its segments (work after a segment's last checkpoint is not counted). */
  seconds: number;
  /** Present when the run was resumed from checkpoints: the epochs after which it resumed. */
  resumedFrom?: number[];
  epochs: EpochLog[];
  best: BestCheckpoint | null;
  stoppedEarly: boolean;
  test: TestMetrics;
  model: Record<string, string | number | boolean>;
  method: { name: string; [field: string]: FieldValue | null };
}

/** The record's file name: readable parts plus the key's first 16 hex digits. */
export function recordFileName(config: RunConfig, key: string): string {
  const data = config.dataPreset === null ? config.dataset : `${config.dataset}-${config.dataPreset}`;
  return `${data}_${config.model}_${config.method}_seed${config.seed}_${key.slice(0, 16)}.json`;
}

/** The record's path under a results folder. */
export function recordPath(resultsDir: string, config: RunConfig, key: string): string {
  return path.join(resultsDir, recordFileName(config, key));
}

/** Writes the record atomically (temp file + rename); returns its path. */
export function writeRecord(resultsDir: string, record: ResultRecord): string {
  const file = recordPath(resultsDir, record.config, record.key);
  writeJsonAtomic(file, record);
  return file;
}

/** The test block of a record: metric means and per-user arrays. */
export function testMetrics(mean: Record<string, number>, users: ArrayLike<number>, perUser: Record<string, ArrayLike<number>>): TestMetrics {
  const per: PerUserMetrics = { users: Array.from(users) };
  for (const [k, v] of Object.entries(perUser)) per[k] = Array.from(v);
  const out: TestMetrics = { perUser: per };
  for (const [k, v] of Object.entries(mean)) out[k] = v;
  return out;
}

/** Reads and checks a record; a missing or wrong field is a DataError naming the file and the field. */
export function readRecord(file: string): ResultRecord {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new DataError({ file }, `not a readable JSON result record: ${err instanceof Error ? err.message : String(err)}`);
  }
  const fail = (field: string, problem: string): never => {
    throw new DataError({ file, field }, problem);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("(record)", "must be a JSON object");
  const r = value as Record<string, unknown>;
  if (r.schema !== RECORD_SCHEMA) fail("schema", `expected ${RECORD_SCHEMA}, got ${JSON.stringify(r.schema)}`);
  for (const f of ["key", "startedAt"]) if (typeof r[f] !== "string") fail(f, "missing or not a string");
  for (const f of ["seed", "seconds"]) if (typeof r[f] !== "number") fail(f, "missing or not a number");
  for (const f of ["config", "dataset", "environment", "test", "model", "method"]) {
    if (typeof r[f] !== "object" || r[f] === null) fail(f, "missing or not an object");
  }
  if (!Array.isArray(r.epochs)) fail("epochs", "missing or not a list");
  (r.epochs as unknown[]).forEach((e, j) => {
    if (typeof e !== "object" || e === null) fail(`epochs[${j}]`, "not an object");
    const ep = e as Record<string, unknown>;
    for (const f of ["epoch", "seconds"]) if (typeof ep[f] !== "number") fail(`epochs[${j}].${f}`, "missing or not a number");
    if (typeof ep.phase !== "string") fail(`epochs[${j}].phase`, "missing or not a string");
    if (typeof ep.loss !== "number" && ep.loss !== null) fail(`epochs[${j}].loss`, "missing or not a number");
  });
  const test = r.test as Record<string, unknown>;
  if (typeof test.perUser !== "object" || test.perUser === null) fail("test.perUser", "missing or not an object");
  if (!Array.isArray((test.perUser as Record<string, unknown>).users)) fail("test.perUser.users", "missing or not a list");
  if (r.resumedFrom !== undefined && (!Array.isArray(r.resumedFrom) || r.resumedFrom.some((e) => typeof e !== "number"))) fail("resumedFrom", "must be a list of epochs");
  if (r.best !== null && (typeof r.best !== "object" || typeof (r.best as Record<string, unknown>).epoch !== "number")) fail("best", "must be null or an object with an epoch");
  return value as ResultRecord;
}
