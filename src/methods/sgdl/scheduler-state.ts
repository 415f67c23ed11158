/**
 * The scheduler's state for a checkpoint (Scheduler.exportState/importState)
 * and the lstm variant's carried (h, c) per key. SchedulerState is plain data:
 * numbers, strings, booleans, nested objects and lists, and typed arrays
 * (Float32Array, Int32Array) for the big parts, as training/method-state.ts's
 * StateWriter.pack stores beside the JSON (JSON.stringify alone would not keep
 * them). It holds the config phi was built with, phi, its Adam, the carried
 * state and an uncommitted one; the scheduler keeps no random stream (the
 * caller's rng draws phi and the Gumbel noise), so this is all a resumed run
 * needs to continue bit-identically.
 */
import type { ParamStore } from "../../models/ops/embedding-table";
import type { AdamState } from "../../training/adam";
import { SCHEDULER_CONFIG_FIELDS, type SchedulerConfig } from "./scheduler-config";

/** The format tag of SchedulerState. */
export const SCHEDULER_STATE_FORMAT = "sgdl-scheduler/1";

/** The lstm variant's carried state: rows for keys 0..rows-1 (a key never written holds zeros). */
export interface CarriedState {
  rows: number;
  /** [rows x hidden] each, row-major. */
  h: Float32Array;
  c: Float32Array;
}

/** A state computed by a forward pass and not yet committed by advance(): the keys and their rows [keys x hidden]. */
export interface PendingState {
  keys: Int32Array;
  h: Float32Array;
  c: Float32Array;
}

/** Everything a resumed scheduler needs (Scheduler.exportState). */
export interface SchedulerState {
  format: typeof SCHEDULER_STATE_FORMAT;
  /** The config the scheduler was built with; importState requires the same. */
  config: SchedulerConfig;
  /** phi, in the store's order (empty for topf). */
  params: { name: string; shape: number[]; data: Float32Array }[];
  /** phi's Adam: t, lr, hyperparameters and moments by parameter name. */
  adam: AdamState;
  /** lstm: the carried state; null for the other variants. */
  carried: CarriedState | null;
  /** lstm: a forward pass's state not yet committed by advance() (null between steps). */
  pending: PendingState | null;
}

/** The lstm variant's carried (h, c) per key, zero for keys never written; grows as keys appear. */
export class StateStore {
  private h = new Float32Array(0);
  private c = new Float32Array(0);
  /** Keys below this have storage (written or zero). */
  private rows = 0;

  constructor(private readonly hidden: number) {}

  /** The rows of the given keys [keys.length x H] each (zeros for keys never written). */
  read(keys: Int32Array): { h: Float32Array; c: Float32Array } {
    const H = this.hidden;
    const h = new Float32Array(keys.length * H);
    const c = new Float32Array(keys.length * H);
    for (let n = 0; n < keys.length; n++) {
      const k = keys[n];
      if (k < this.rows) {
        h.set(this.h.subarray(k * H, (k + 1) * H), n * H);
        c.set(this.c.subarray(k * H, (k + 1) * H), n * H);
      }
    }
    return { h, c };
  }

  /** Stores rows h, c [keys.length x H] under the keys (a repeated key keeps its last row). */
  write(keys: Int32Array, h: Float32Array, c: Float32Array): void {
    const H = this.hidden;
    let max = -1;
    for (const k of keys) max = Math.max(max, k);
    this.grow(max + 1);
    for (let n = 0; n < keys.length; n++) {
      const k = keys[n];
      this.h.set(h.subarray(n * H, (n + 1) * H), k * H);
      this.c.set(c.subarray(n * H, (n + 1) * H), k * H);
    }
  }

  clear(): void {
    this.h = new Float32Array(0);
    this.c = new Float32Array(0);
    this.rows = 0;
  }

  /** A copy of the stored rows. */
  exportState(): CarriedState {
    const n = this.rows * this.hidden;
    return { rows: this.rows, h: this.h.slice(0, n), c: this.c.slice(0, n) };
  }

  /** Replaces the store with a state from exportState (checked by checkSchedulerState). */
  importState(s: CarriedState): void {
    this.clear();
    this.grow(s.rows);
    this.h.set(s.h);
    this.c.set(s.c);
  }

  /** Makes keys below `rows` stored (capacity doubles). */
  private grow(rows: number): void {
    const H = this.hidden;
    if (rows * H > this.h.length) {
      const cap = Math.max(rows, 2 * (this.h.length / H)) * H;
      const h2 = new Float32Array(cap);
      const c2 = new Float32Array(cap);
      h2.set(this.h);
      c2.set(this.c);
      this.h = h2;
      this.c = c2;
    }
    this.rows = Math.max(this.rows, rows);
  }
}

/**
 * Checks a state against the scheduler it is imported into: format, every
 * config field, phi's names and sizes, and the carried and pending state's
 * shapes; throws an Error naming the field. Adam's part is checked by Adam.importState.
 */
export function checkSchedulerState(s: SchedulerState, config: SchedulerConfig, params: ParamStore): void {
  const fail = (field: string, problem: string): never => {
    throw new Error(`scheduler.importState: ${field} ${problem}`);
  };
  if (typeof s !== "object" || s === null) fail("state", "is not an object");
  if (s.format !== SCHEDULER_STATE_FORMAT) fail("format", `is '${String(s.format)}', expected '${SCHEDULER_STATE_FORMAT}'`);
  if (typeof s.config !== "object" || s.config === null) fail("config", "is missing");
  for (const k of SCHEDULER_CONFIG_FIELDS) {
    if (s.config[k] !== config[k]) fail(`config.${k}`, `is ${JSON.stringify(s.config[k])} in the state, ${JSON.stringify(config[k])} in this scheduler`);
  }
  const mine = params.list();
  if (!Array.isArray(s.params)) fail("params", "is not a list");
  if (s.params.length !== mine.length) fail("params", `has ${s.params.length} entries, this scheduler ${mine.length} (${mine.map((p) => p.name).join(", ")})`);
  s.params.forEach((p, j) => {
    const want = mine[j];
    if (p.name !== want.name) fail(`params[${j}].name`, `is '${String(p.name)}', expected '${want.name}'`);
    if (!(p.data instanceof Float32Array)) fail(`params[${j}].data`, `('${want.name}') is not a Float32Array`);
    if (p.data.length !== want.data.length) fail(`params[${j}].data`, `('${want.name}') has ${p.data.length} values, the parameter has ${want.data.length}`);
    if (!Array.isArray(p.shape) || p.shape.join(",") !== want.shape.join(",")) fail(`params[${j}].shape`, `('${want.name}') is [${String(p.shape)}], the parameter's is [${want.shape.join(", ")}]`);
  });
  if (typeof s.adam !== "object" || s.adam === null) fail("adam", "is missing");
  const H = config.hidden;
  const rows = (field: string, r: { h: unknown; c: unknown }, n: number): void => {
    for (const part of ["h", "c"] as const) {
      const a = r[part];
      if (!(a instanceof Float32Array)) fail(`${field}.${part}`, "is not a Float32Array");
      else if (a.length !== n * H) fail(`${field}.${part}`, `has ${a.length} values, expected ${n} x ${H}`);
    }
  };
  if (config.kind !== "lstm") {
    if (s.carried !== null) fail("carried", `must be null for kind '${config.kind}'`);
    if (s.pending !== null) fail("pending", `must be null for kind '${config.kind}'`);
    return;
  }
  if (typeof s.carried !== "object" || s.carried === null) return fail("carried", "is missing (kind 'lstm')");
  if (!Number.isInteger(s.carried.rows) || s.carried.rows < 0) fail("carried.rows", `must be a non-negative integer, got ${s.carried.rows}`);
  rows("carried", s.carried, s.carried.rows);
  if (s.pending !== null) {
    if (typeof s.pending !== "object" || !(s.pending.keys instanceof Int32Array)) return fail("pending.keys", "is not an Int32Array");
    for (const k of s.pending.keys) if (k < 0) fail("pending.keys", `holds the negative key ${k}`);
    rows("pending", s.pending, s.pending.keys.length);
  }
}
