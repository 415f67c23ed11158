/**
 * The models by their `--model` names: one createModel() for all of them, and
 * each model's defaults (the paper's settings, 4.1.4). Overrides are checked
 * against the defaults: an unknown key or a value of the wrong type is an
 * error naming the model and the key.
 */
import type { Rng } from "../util/rng";
import { CDAE_DEFAULTS, createCDAE } from "./cdae";
import { createLightGCN, LIGHTGCN_DEFAULTS } from "./lightgcn";
import { createMF, MF_DEFAULTS } from "./mf";
import type { ModelContext, ModelInstance, ModelName } from "./model";
import { createNeuMF, NEUMF_DEFAULTS } from "./neumf";
import { createNGCF, NGCF_DEFAULTS } from "./ngcf";

export const MODEL_NAMES: readonly ModelName[] = ["neumf", "cdae", "ngcf", "lightgcn", "mf"];

/** A model's settings as plain values (numbers, strings, booleans). */
export type ModelSettings = Record<string, number | string | boolean>;

/** Whether a string is one of MODEL_NAMES. */
export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

function known(name: string): ModelName {
  if (!isModelName(name)) throw new Error(`unknown model '${name}'; known: ${MODEL_NAMES.join(", ")}`);
  return name;
}

/** The defaults of a model (a copy): its paper settings, `lr` included. */
export function modelDefaults(name: string): ModelSettings {
  switch (known(name)) {
    case "neumf":
      return { ...NEUMF_DEFAULTS };
    case "cdae":
      return { ...CDAE_DEFAULTS };
    case "ngcf":
      return { ...NGCF_DEFAULTS };
    case "lightgcn":
      return { ...LIGHTGCN_DEFAULTS };
    case "mf":
      return { ...MF_DEFAULTS };
  }
}

/** Checks overrides against a model's defaults: known keys, same value types. Throws naming the key. */
export function checkModelSettings(name: string, cfg: ModelSettings): void {
  const defaults = modelDefaults(name);
  for (const [key, value] of Object.entries(cfg)) {
    if (!(key in defaults)) throw new Error(`model '${name}' has no setting '${key}'; known: ${Object.keys(defaults).join(", ")}`);
    const want = typeof defaults[key];
    if (typeof value !== want) throw new Error(`model '${name}' setting '${key}' must be a ${want}, got ${JSON.stringify(value)}`);
  }
}

/** A model with fresh parameters drawn from rng; cfg overrides its defaults. */
export function createModel(name: string, ctx: ModelContext, cfg: ModelSettings, rng: Rng): ModelInstance {
  checkModelSettings(name, cfg);
  // The per-model factories check value ranges; the casts below only narrow checked keys and types.
  switch (known(name)) {
    case "neumf":
      return createNeuMF(ctx, cfg as Partial<typeof NEUMF_DEFAULTS>, rng);
    case "cdae":
      return createCDAE(ctx, cfg as Partial<typeof CDAE_DEFAULTS>, rng);
    case "ngcf":
      return createNGCF(ctx, cfg as Partial<typeof NGCF_DEFAULTS>, rng);
    case "lightgcn":
      return createLightGCN(ctx, cfg as Partial<typeof LIGHTGCN_DEFAULTS>, rng);
    case "mf":
      return createMF(ctx, cfg as Partial<typeof MF_DEFAULTS>, rng);
  }
}
