/**
 * The run config: everything a run depends on besides the data's bytes and
 * the backend. `resolveConfig` fills a partial config from its preset and
 * checks every field; a bad field is a ConfigError that names it.
 */
import { BACKENDS, type BackendName } from "../backend";
import { DATASET_NAMES, isDatasetName } from "../data/registry";
import { SYNTHETIC_PRESETS } from "../data/synthetic";
import { checkMethodOptions, isMethodName, METHOD_NAMES, type MethodOptions } from "../methods/registry";
import type { ModelName } from "../models/model";
import { checkModelSettings, isModelName, MODEL_NAMES, type ModelSettings } from "../models/registry";
import { PRESET_NAMES, presetSettings, type PresetName } from "./presets";

/** A resolved run config: every field set and checked. */
export interface RunConfig {
  /** `--dataset` name (data/registry.ts). */
  dataset: string;
  /** Synthetic generator size preset (`quick`, `default`, `yelp`); null for the real datasets. */
  dataPreset: string | null;
  model: ModelName;
  /** `--method` name (methods/registry.ts). */
  method: string;
  seed: number;
  preset: PresetName;
  /** Cap on epochs. */
  epochs: number;
  batchSize: number;
  lr: number;
  /** Validate after epochs e with e % evalFreq == 0. */
  evalFreq: number;
  /** Early-stopping patience in validations. */
  stopStep: number;
  /** Cut-offs; early stopping watches recall@ks[0]. */
  ks: number[];
  /** Requested backend; the record names the one that ran. */
  backend: BackendName | "auto";
  /** Model settings overriding its defaults (not lr: that is the field above). */
  modelConfig: ModelSettings;
  methodOptions: MethodOptions;
}

/** What a caller gives: dataset and model at least; the rest comes from the preset (default `paper`). Names are checked, so they are plain strings here. */
export type RunConfigInput = Partial<Omit<RunConfig, "model" | "preset" | "backend">> & { dataset: string; model: string; preset?: string; backend?: string };

/** A bad config field; the message names the field. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`config field '${field}': ${problem}`);
    this.name = "ConfigError";
  }
}

/** The seed of the official code (set_seed(2020)), used when none is given. */
export const DEFAULT_SEED = 2020;

const FIELDS: readonly (keyof RunConfig)[] = [
  "dataset",
  "dataPreset",
  "model",
  "method",
  "seed",
  "preset",
  "epochs",
  "batchSize",
  "lr",
  "evalFreq",
  "stopStep",
  "ks",
  "backend",
  "modelConfig",
  "methodOptions",
];

/** Fills a partial config from its preset and checks every field; throws ConfigError naming the bad one. */
export function resolveConfig(input: RunConfigInput): RunConfig {
  if (typeof input !== "object" || input === null) throw new ConfigError("(config)", "must be an object");
  for (const key of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(key)) throw new ConfigError(key, `unknown field; known: ${FIELDS.join(", ")}`);
  }
  const dataset = str("dataset", input.dataset);
  if (!isDatasetName(dataset)) throw new ConfigError("dataset", `unknown dataset '${dataset}'; known: ${DATASET_NAMES.join(", ")}`);
  const model = str("model", input.model);
  if (!isModelName(model)) throw new ConfigError("model", `unknown model '${model}'; known: ${MODEL_NAMES.join(", ")}`);
  const method = input.method === undefined ? "normal" : str("method", input.method);
  if (!isMethodName(method)) throw new ConfigError("method", `unknown method '${method}'; known: ${METHOD_NAMES.join(", ")}`);
  const presetName = input.preset === undefined ? "paper" : str("preset", input.preset);
  if (!(PRESET_NAMES as readonly string[]).includes(presetName)) throw new ConfigError("preset", `unknown preset '${presetName}'; known: ${PRESET_NAMES.join(", ")}`);
  const preset = presetName as PresetName;
  const p = presetSettings(preset, dataset, model);

  let dataPreset: string | null = null;
  if (dataset === "synthetic") {
    dataPreset = input.dataPreset === undefined || input.dataPreset === null ? p.dataPreset : str("dataPreset", input.dataPreset);
    if (!(dataPreset in SYNTHETIC_PRESETS)) throw new ConfigError("dataPreset", `unknown synthetic preset '${dataPreset}'; known: ${Object.keys(SYNTHETIC_PRESETS).join(", ")}`);
  } else if (input.dataPreset !== undefined && input.dataPreset !== null) {
    throw new ConfigError("dataPreset", `only the synthetic dataset has size presets, not '${dataset}'`);
  }

  const backend = input.backend === undefined ? "auto" : str("backend", input.backend);
  if (backend !== "auto" && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new ConfigError("backend", `unknown backend '${backend}'; known: auto, ${BACKENDS.join(", ")}`);
  }

  const ks = input.ks === undefined ? p.ks : input.ks;
  if (!Array.isArray(ks) || ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new ConfigError("ks", `must be a non-empty list of positive integers, got ${JSON.stringify(ks)}`);
  }
  if (new Set(ks).size !== ks.length) throw new ConfigError("ks", `has duplicates: ${JSON.stringify(ks)}`);

  const modelConfig = record("modelConfig", input.modelConfig);
  if ("lr" in modelConfig) throw new ConfigError("modelConfig.lr", "set the learning rate with the top-level field 'lr'");
  try {
    checkModelSettings(model, modelConfig);
  } catch (err) {
    throw new ConfigError("modelConfig", err instanceof Error ? err.message : String(err));
  }
  const methodOptions = record("methodOptions", input.methodOptions);
  try {
    checkMethodOptions(method, methodOptions);
  } catch (err) {
    throw new ConfigError("methodOptions", err instanceof Error ? err.message : String(err));
  }

  return {
    dataset,
    dataPreset,
    model,
    method,
    seed: int("seed", input.seed ?? DEFAULT_SEED, 0),
    preset,
    epochs: int("epochs", input.epochs ?? p.epochs, 1),
    batchSize: int("batchSize", input.batchSize ?? p.batchSize, 1),
    lr: positive("lr", input.lr ?? p.lr),
    evalFreq: int("evalFreq", input.evalFreq ?? p.evalFreq, 1),
    stopStep: int("stopStep", input.stopStep ?? p.stopStep, 1),
    ks: ks.slice(),
    backend: backend as BackendName | "auto",
    modelConfig,
    methodOptions,
  };
}

function str(field: string, v: unknown): string {
  if (typeof v !== "string" || v === "") throw new ConfigError(field, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function int(field: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw new ConfigError(field, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function positive(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new ConfigError(field, `must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

function record(field: string, v: unknown): Record<string, number | string | boolean> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(field, `must be an object of settings, got ${JSON.stringify(v)}`);
  const out: Record<string, number | string | boolean> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "number" && typeof x !== "string" && typeof x !== "boolean") {
      throw new ConfigError(`${field}.${k}`, `must be a number, string or boolean, got ${JSON.stringify(x)}`);
    }
    out[k] = x;
  }
  return out;
}
