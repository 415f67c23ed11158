/**
 * The training methods by their `--method` names. Each entry builds a Method
 * from its options (a plain JSON object from the run config); an unknown
 * option is an error naming it.
 */
import type { Method } from "../training/method";
import { normalMethod } from "./normal";
import { parseSgdlOptions, plainSgdlOptions, SGDL_DEFAULTS } from "./sgdl/options";
import { createPhase2 } from "./sgdl/phase2";
import { sgdlMethod } from "./sgdl/sgdl";
import type { SgdlOptions } from "./sgdl/options";

/** The sgdl method with its Phase II, or stopping at the switch. */
function createSgdl(o: SgdlOptions): Method {
  return sgdlMethod(o, o.stopAtSwitch ? undefined : createPhase2(o));
}

/** Options of a method as they appear in a run config. */
export type MethodOptions = Record<string, number | string | boolean>;

interface MethodEntry {
  /** Known option names with their defaults. */
  defaults: MethodOptions;
  /** Checks the values (the defaults merged with the given options); throws naming the option. */
  check?(options: MethodOptions): void;
  create(options: MethodOptions): Method;
}

const METHODS: Record<string, MethodEntry> = {
  normal: { defaults: {}, create: () => normalMethod() },
  // Phase I (memorization), then Phase II (self-guided learning) unless stopAtSwitch. Defaults: the paper (methods/sgdl/options.ts).
  sgdl: { defaults: plainSgdlOptions(SGDL_DEFAULTS), check: (o) => void parseSgdlOptions(o), create: (o) => createSgdl(parseSgdlOptions(o)) },
};

/** The known method names. */
export const METHOD_NAMES: readonly string[] = Object.keys(METHODS);

/** Whether a string names a known method. */
export function isMethodName(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(METHODS, name);
}

/** The default options of a method (a copy). */
export function methodDefaults(name: string): MethodOptions {
  return { ...entry(name).defaults };
}

/** Checks options against a method's defaults: known keys, same value types. Throws naming the option. */
export function checkMethodOptions(name: string, options: MethodOptions): void {
  const defaults = entry(name).defaults;
  for (const [key, value] of Object.entries(options)) {
    if (!(key in defaults)) {
      const list = Object.keys(defaults);
      throw new Error(`method '${name}' has no option '${key}'${list.length ? `; known: ${list.join(", ")}` : " (it takes none)"}`);
    }
    if (typeof value !== typeof defaults[key]) throw new Error(`method '${name}' option '${key}' must be a ${typeof defaults[key]}, got ${JSON.stringify(value)}`);
  }
  const check = entry(name).check;
  if (check) check({ ...defaults, ...options });
}

/** A method by name, its defaults overridden by options. */
export function createMethod(name: string, options: MethodOptions = {}): Method {
  checkMethodOptions(name, options);
  return entry(name).create({ ...entry(name).defaults, ...options });
}

function entry(name: string): MethodEntry {
  if (!isMethodName(name)) throw new Error(`unknown method '${name}'; known: ${METHOD_NAMES.join(", ")}`);
  return METHODS[name];
}
