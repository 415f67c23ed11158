/**
 * A training method's own state in a checkpoint (training/method.ts
 * exportState/importState; saved by training/resume.ts): a JSON object plus
 * named typed arrays. StateWriter builds one with nested paths ("phase1.tracker"):
 * a typed array anywhere in a value goes into the arrays under its path and
 * the JSON keeps {"$array": path} in its place. StateReader reads it back and
 * throws a MethodStateError naming the field on anything missing or of the
 * wrong type; resume.ts turns that into a DataError naming the checkpoint
 * file and the field (`methodState.<path>` in the header, `method/<path>` in
 * the arrays).
 */
import type { Rng, RngState } from "../util/rng";
import type { AdamState } from "./adam";

/** A value JSON holds (NaN and +-Infinity too: the checkpoint header keeps them). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The typed arrays a method state may hold (each keeps its type in the checkpoint). */
export type StateArray = Float32Array | Float64Array | Int32Array | Uint32Array | Int8Array | Uint8Array;

/** A typed-array constructor of StateArray. */
export interface StateArrayType<T extends StateArray> {
  new (length: number): T;
  readonly name: string;
}

/** A method's state: JSON and the typed arrays it refers to by name. */
export interface MethodState {
  json: { [key: string]: JsonValue };
  arrays: Map<string, StateArray>;
}

/** A bad method state: `field` is where (`methodState.a.b` in the JSON, `method/a.b` among the arrays). */
export class MethodStateError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(problem);
    this.name = "MethodStateError";
  }
}

/** The JSON marker of an array stored beside the JSON. */
const ARRAY_REF = "$array";

/** Whether v is one of the StateArray types. */
export function isStateArray(v: unknown): v is StateArray {
  return (
    v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array || v instanceof Uint32Array || v instanceof Int8Array || v instanceof Uint8Array
  );
}

/** Builds a MethodState; child writers share the arrays and nest their JSON. */
export class StateWriter {
  readonly json: { [key: string]: JsonValue } = {};

  constructor(
    private readonly arrays: Map<string, StateArray> = new Map(),
    private readonly prefix = "",
  ) {}

  /** A JSON value under key. */
  set(key: string, value: JsonValue): void {
    this.json[key] = value;
  }

  /** A random stream's state under key. */
  rng(key: string, r: Rng): void {
    this.json[key] = r.getState();
  }

  /** A copy of a typed array under key. */
  array(key: string, a: StateArray): void {
    this.json[key] = this.store(`${this.prefix}${key}`, a);
  }

  /** Any value of plain objects, lists, primitives and typed arrays (e.g. an AdamState); typed arrays are copied beside the JSON. */
  pack(key: string, value: unknown): void {
    this.json[key] = this.packValue(`${this.prefix}${key}`, value);
  }

  /** A writer for the object under key (its arrays named `<path>.<key>.`). */
  child(key: string): StateWriter {
    const w = new StateWriter(this.arrays, `${this.prefix}${key}.`);
    this.json[key] = w.json;
    return w;
  }

  /** The state written so far. */
  state(): MethodState {
    return { json: this.json, arrays: this.arrays };
  }

  private store(name: string, a: StateArray): JsonValue {
    if (this.arrays.has(name)) throw new Error(`method state: array '${name}' written twice`);
    this.arrays.set(name, a.slice());
    return { [ARRAY_REF]: name };
  }

  private packValue(path: string, v: unknown): JsonValue {
    // narrowed one test at a time: tslab compiles without strictNullChecks, where `v === null` does not narrow unknown
    if (v === null) return null;
    if (typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
    if (isStateArray(v)) return this.store(path, v);
    if (Array.isArray(v)) return v.map((x: unknown, j) => this.packValue(`${path}[${j}]`, x));
    if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      const out: { [key: string]: JsonValue } = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = this.packValue(`${path}.${k}`, x);
      return out;
    }
    throw new Error(`method state: '${path}' is a ${Object.prototype.toString.call(v)}, not plain data (objects, lists, numbers, strings, booleans, null, typed arrays)`);
  }
}

/** Reads a MethodState, failing with a MethodStateError that names the field. */
export class StateReader {
  private readonly obj: { [key: string]: JsonValue };

  constructor(
    private readonly state: MethodState,
    private readonly prefix = "",
    obj?: { [key: string]: JsonValue },
  ) {
    this.obj = obj ?? state.json;
  }

  /** The field's name in the checkpoint header. */
  field(key: string): string {
    return `methodState.${this.prefix}${key}`;
  }

  /** Throws a MethodStateError for key. */
  fail(key: string, problem: string): never {
    throw new MethodStateError(this.field(key), problem);
  }

  /** Whether key is present (and not null). */
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  /** The keys of this object. */
  keys(): string[] {
    return Object.keys(this.obj);
  }

  /** The raw JSON value (undefined when absent). */
  raw(key: string): JsonValue | undefined {
    return this.obj[key];
  }

  /** The number under key. */
  num(key: string): number {
    const v = this.obj[key];
    return typeof v === "number" ? v : this.fail(key, `missing or not a number (${JSON.stringify(v)})`);
  }

  /** An integer in [min, max]. */
  int(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.num(key);
    return Number.isInteger(v) && v >= min && v <= max ? v : this.fail(key, `must be an integer in [${min}, ${max}], got ${v}`);
  }

  /** The number under key, or null. */
  numOrNull(key: string): number | null {
    return this.obj[key] === null ? null : this.num(key);
  }

  /** An integer >= min under key, or null. */
  intOrNull(key: string, min = 0): number | null {
    return this.obj[key] === null ? null : this.int(key, min);
  }

  /** The string under key. */
  str(key: string): string {
    const v = this.obj[key];
    return typeof v === "string" ? v : this.fail(key, `missing or not a string (${JSON.stringify(v)})`);
  }

  /** The boolean under key. */
  bool(key: string): boolean {
    const v = this.obj[key];
    return typeof v === "boolean" ? v : this.fail(key, `missing or not a boolean (${JSON.stringify(v)})`);
  }

  /** A list of numbers, of the given length if given. */
  nums(key: string, length?: number): number[] {
    const v = this.obj[key];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number")) return this.fail(key, "missing or not a list of numbers");
    if (length !== undefined && v.length !== length) this.fail(key, `has ${v.length} numbers, expected ${length}`);
    return v as number[];
  }

  /** Sets r to the stream state under key. */
  rng(key: string, r: Rng): void {
    const v = this.nums(key, 4);
    this.wrap(key, () => r.setState(v as RngState));
  }

  /** A reader of the object under key. */
  child(key: string): StateReader {
    const v = this.obj[key];
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.fail(key, "missing or not an object");
    return new StateReader(this.state, `${this.prefix}${key}.`, v);
  }

  /** Readers of the objects in the list under key (fields named `key[j].field`). */
  items(key: string): StateReader[] {
    const v = this.obj[key];
    if (!Array.isArray(v)) return this.fail(key, "missing or not a list");
    return v.map((x, j) => {
      if (typeof x !== "object" || x === null || Array.isArray(x)) return this.fail(`${key}[${j}]`, "not an object");
      return new StateReader(this.state, `${this.prefix}${key}[${j}].`, x);
    });
  }

  /** The typed array under key (a copy), of the given type and, if given, length. */
  array<T extends StateArray>(key: string, type: StateArrayType<T>, length?: number): T {
    const a = this.resolve(key, this.obj[key]);
    if (!(a instanceof type)) return this.fail(key, `array '${this.arrayName(this.obj[key])}' is a ${a.constructor.name}, expected a ${type.name}`);
    if (length !== undefined && a.length !== length) this.fail(key, `array '${this.arrayName(this.obj[key])}' has ${a.length} values, expected ${length}`);
    return a.slice() as T;
  }

  /** What StateWriter.pack stored under key, typed arrays put back (the caller checks its shape). */
  unpack(key: string): unknown {
    if (!(key in this.obj)) this.fail(key, "missing");
    return this.unpackValue(key, this.obj[key]);
  }

  /** An optimizer state stored with pack (Adam.exportState), checked for its shape (Adam.importState checks the rest). */
  adam(key: string): AdamState {
    const v = this.unpack(key);
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.fail(key, "missing or not an object");
    const o = v as Record<string, unknown>;
    for (const k of ["t", "lr", "beta1", "beta2", "eps"]) if (typeof o[k] !== "number") this.fail(key, `'${k}' is missing or not a number`);
    const moments = o.moments;
    if (!Array.isArray(moments)) return this.fail(key, "'moments' is missing or not a list");
    moments.forEach((x: unknown, j) => {
      const e = typeof x === "object" && x !== null ? (x as Record<string, unknown>) : {};
      if (typeof e.name !== "string" || !(e.m instanceof Float32Array) || !(e.v instanceof Float32Array)) this.fail(key, `moments[${j}] must be {name, m: Float32Array, v: Float32Array}`);
    });
    return v as AdamState;
  }

  /** Runs f, turning any error but a MethodStateError into one for key (e.g. a component's importState refusing the value). */
  wrap<T>(key: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof MethodStateError) throw err;
      return this.fail(key, err instanceof Error ? err.message : String(err));
    }
  }

  private arrayName(v: JsonValue | undefined): string {
    return typeof v === "object" && v !== null && !Array.isArray(v) && typeof v[ARRAY_REF] === "string" ? (v[ARRAY_REF] as string) : "?";
  }

  private resolve(key: string, v: JsonValue | undefined): StateArray {
    const name = this.arrayName(v);
    if (name === "?") return this.fail(key, `missing or not an array reference ({"${ARRAY_REF}": name})`);
    const a = this.state.arrays.get(name);
    if (a === undefined) throw new MethodStateError(`method/${name}`, "missing from the checkpoint's arrays");
    return a;
  }

  private unpackValue(key: string, v: JsonValue): unknown {
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((x) => this.unpackValue(key, x));
    if (Object.keys(v).length === 1 && typeof v[ARRAY_REF] === "string") return this.resolve(key, v).slice();
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = this.unpackValue(key, x);
    return out;
  }
}
