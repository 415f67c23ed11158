/**
 * The checkpoint file of a resumable training run: a JSON header (format
 * version, run key, where the loop stands, the epoch logs so far, early
 * stopping, the best checkpoint's epoch and value, every random stream's
 * state, the optimizer's t, lr and moment layout, and the method's own
 * state as JSON under `methodState`, training/method-state.ts) and a binary
 * payload of typed arrays (current parameters, Adam moments, best-checkpoint
 * parameters as float32; the method's arrays under `method/`, each with its
 * own type), named in the header with their types. On disk:
 *
 *   "SGDLCKPT" | header length H (uint32 LE) | header JSON, utf8, space-padded to a multiple of 4 | payload
 *
 * The payload is the arrays back to back in the header's order, in this
 * machine's byte order (recorded in the header), with its sha256 in the
 * header. Written atomically (temp file + rename); reading checks the magic,
 * format, key, every header field, the payload's length and checksum, and
 * names the file and the field when something is wrong (a DataError).
 * Numbers the JSON cannot hold (NaN, +-Infinity, -0: a NaN loss, the
 * -Infinity best value before any validation) are written as {"$number": "NaN"}
 * and read back as the same numbers.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import { writeFileAtomic } from "../util/atomic";
import { DataError } from "../util/errors";
import type { RngState } from "../util/rng";
import type { EarlyStoppingState } from "./early-stopping";
import type { EpochLog } from "./events";
import type { TrainSettings } from "./method";
import type { JsonValue, StateArray, StateArrayType } from "./method-state";

/**
 * Bumped whenever the layout or the header's meaning changes. Format 2 added
 * array types and `methodState`; format 1 files (all arrays float32, no
 * method state: `normal` runs) are still read; others are refused.
 */
export const CHECKPOINT_FORMAT = 2;

/** The formats readCheckpoint accepts. */
const READABLE_FORMATS: readonly number[] = [1, 2];

/** The element types of the payload's arrays. */
export type ArrayDtype = "float32" | "float64" | "int32" | "uint32" | "int8" | "uint8";

const DTYPES: Record<ArrayDtype, StateArrayType<StateArray> & { readonly BYTES_PER_ELEMENT: number }> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int8: Int8Array,
  uint8: Uint8Array,
};

/** The dtype name of a typed array. */
function dtypeOf(a: StateArray): ArrayDtype {
  for (const [name, type] of Object.entries(DTYPES)) if (a instanceof type) return name as ArrayDtype;
  throw new Error(`checkpoint: ${Object.prototype.toString.call(a)} is not an array type a checkpoint holds`);
}

const MAGIC = "SGDLCKPT";

/** Where a run stands after an epoch: everything but the arrays. */
export interface CheckpointState {
  /** The run's cache key (experiments/runner.ts): a checkpoint resumes only the run it was written by. */
  runKey: string;
  seed: number;
  /** The method's name. */
  method: string;
  settings: TrainSettings;
  /** The last finished epoch (1-based). */
  epoch: number;
  /** Gradient steps taken so far. */
  iteration: number;
  phase: string;
  /** Training stopped after this epoch (early stopping or the method): a resume goes straight to the test. */
  stopped: boolean;
  /** The epoch logs so far, as the run returns them. */
  epochs: EpochLog[];
  stopper: EarlyStoppingState;
  /** The best checkpoint (its parameters are the payload's `best/<name>` arrays), or null. */
  best: { epoch: number; value: number } | null;
  /** Every random stream's state, by stream name. */
  rng: Record<string, RngState>;
  /** The optimizer without its moments; `moments` names the parameters whose `adam.m/<name>`, `adam.v/<name>` arrays are in the payload. */
  adam: { t: number; lr: number; beta1: number; beta2: number; eps: number; moments: string[] };
  /** Wall time of the work so far (all segments up to this checkpoint), in seconds. */
  seconds: number;
  /** Epochs after which earlier segments resumed (empty on the first segment). */
  resumedFrom: number[];
  /** The method's own state (training/method-state.ts), absent for a method that keeps none; its arrays are the payload's `method/<name>`. */
  methodState?: { [key: string]: JsonValue };
}

/** A checkpoint in memory: the state and the named arrays. */
export interface Checkpoint {
  state: CheckpointState;
  arrays: Map<string, StateArray>;
}

/** The header as written: the state plus the format and the payload's layout. */
interface Header extends CheckpointState {
  format: number;
  endianness: string;
  arrays: { name: string; length: number; dtype?: ArrayDtype }[];
  payload: { bytes: number; sha256: string };
}

/** JSON text that keeps NaN, +-Infinity and -0 ({"$number": "NaN"}). */
function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== "number" || (Number.isFinite(v) && !Object.is(v, -0))) return v;
    return { $number: Object.is(v, -0) ? "-0" : String(v) };
  });
}

/** Parses encodeJson's text, turning {"$number": ...} back into numbers. */
function decodeJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const n: unknown = (v as Record<string, unknown>).$number;
      if (keys.length === 1 && typeof n === "string" && ["NaN", "Infinity", "-Infinity", "-0"].includes(n)) return n === "-0" ? -0 : Number(n);
    }
    return v;
  });
}

/** Writes a checkpoint atomically: a reader sees the previous file or this one, never half of one. */
export function writeCheckpoint(file: string, ckpt: Checkpoint): void {
  const layout: Header["arrays"] = [];
  const parts: Buffer[] = [];
  for (const [name, a] of ckpt.arrays) {
    layout.push({ name, length: a.length, dtype: dtypeOf(a) });
    parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  }
  const payload = Buffer.concat(parts);
  const header: Header = {
    format: CHECKPOINT_FORMAT,
    endianness: os.endianness(),
    ...ckpt.state,
    arrays: layout,
    payload: { bytes: payload.length, sha256: createHash("sha256").update(payload).digest("hex") },
  };
  let text = encodeJson(header);
  while (Buffer.byteLength(text, "utf8") % 4 !== 0) text += " ";
  const head = Buffer.from(text, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length, 0);
  writeFileAtomic(file, Buffer.concat([Buffer.from(MAGIC, "ascii"), len, head, payload]));
}

/** Reads and checks a checkpoint written for run `runKey`; a wrong, corrupt or foreign file is a DataError naming the file and field. */
export function readCheckpoint(file: string, runKey: string): Checkpoint {
  const fail = (field: string, problem: string): never => {
    throw new DataError({ file, field }, `${problem} (not a usable checkpoint; delete it to start the run over)`);
  };
  const buf = fs.readFileSync(file);
  if (buf.length < MAGIC.length + 4 || buf.toString("ascii", 0, MAGIC.length) !== MAGIC) fail("(magic)", `does not start with '${MAGIC}'`);
  const headLen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + headLen;
  if (start > buf.length) fail("(header)", `header length ${headLen} runs past the end of the file (${buf.length} bytes)`);
  let value: unknown;
  try {
    value = decodeJson(buf.toString("utf8", MAGIC.length + 4, start));
  } catch (err) {
    fail("(header)", `header is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const h = checkHeader(value, fail);
  if (h.runKey !== runKey) fail("runKey", `belongs to run ${h.runKey.slice(0, 16)}..., not to ${runKey.slice(0, 16)}...`);
  const payload = buf.subarray(start);
  const width = (a: Header["arrays"][number]): number => DTYPES[a.dtype ?? "float32"].BYTES_PER_ELEMENT;
  const bytes = h.arrays.reduce((s, a) => s + width(a) * a.length, 0);
  if (h.payload.bytes !== bytes) fail("payload.bytes", `is ${h.payload.bytes}, the arrays need ${bytes}`);
  if (payload.length !== bytes) fail("payload", `has ${payload.length} bytes, expected ${bytes} (truncated or padded file)`);
  if (createHash("sha256").update(payload).digest("hex") !== h.payload.sha256) fail("payload.sha256", "does not match the payload (corrupt file)");
  const arrays = new Map<string, StateArray>();
  let at = 0;
  for (const a of h.arrays) {
    // copy into a fresh, aligned buffer (a Buffer's offset need not be a multiple of the element size)
    const out = new DTYPES[a.dtype ?? "float32"](a.length);
    const n = width(a) * a.length;
    new Uint8Array(out.buffer).set(payload.subarray(at, at + n));
    arrays.set(a.name, out);
    at += n;
  }
  const { format: _f, endianness: _e, arrays: _a, payload: _p, ...state } = h;
  return { state, arrays };
}

type Fail = (field: string, problem: string) => never;

/** The header's fields, each checked for its type; the first bad one is reported by name. */
function checkHeader(value: unknown, fail: Fail): Header {
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(field, "missing or not an object");
  const num = (v: unknown, field: string): number => (typeof v === "number" ? v : fail(field, "missing or not a number"));
  const count = (v: unknown, field: string): number => (Number.isInteger(v) && num(v, field) >= 0 ? num(v, field) : fail(field, "missing or not a non-negative integer"));
  const str = (v: unknown, field: string): string => (typeof v === "string" ? v : fail(field, "missing or not a string"));
  const list = (v: unknown, field: string): unknown[] => (Array.isArray(v) ? v : fail(field, "missing or not a list"));
  const nums = (v: unknown, field: string): number[] => list(v, field).map((x, j) => num(x, `${field}[${j}]`));

  const h = obj(value, "(header)");
  if (typeof h.format !== "number" || !READABLE_FORMATS.includes(h.format)) fail("format", `expected ${READABLE_FORMATS.join(" or ")}, got ${JSON.stringify(h.format)}`);
  if (h.endianness !== os.endianness()) fail("endianness", `written on a ${String(h.endianness)} machine, this one is ${os.endianness()}`);
  str(h.runKey, "runKey");
  num(h.seed, "seed");
  str(h.method, "method");
  const s = obj(h.settings, "settings");
  for (const k of ["epochs", "batchSize", "lr", "evalFreq", "stopStep"]) num(s[k], `settings.${k}`);
  nums(s.ks, "settings.ks");
  count(h.epoch, "epoch");
  count(h.iteration, "iteration");
  str(h.phase, "phase");
  if (typeof h.stopped !== "boolean") fail("stopped", "missing or not a boolean");
  list(h.epochs, "epochs").forEach((e, j) => {
    const ep = obj(e, `epochs[${j}]`);
    for (const k of ["epoch", "loss", "seconds"]) num(ep[k], `epochs[${j}].${k}`);
    str(ep.phase, `epochs[${j}].phase`);
  });
  const st = obj(h.stopper, "stopper");
  for (const k of ["stopStep", "validations", "bestValue", "firstBest"]) num(st[k], `stopper.${k}`);
  if (st.bestEpoch !== null) num(st.bestEpoch, "stopper.bestEpoch");
  if (h.best !== null) {
    const b = obj(h.best, "best");
    num(b.epoch, "best.epoch");
    num(b.value, "best.value");
  }
  for (const [name, words] of Object.entries(obj(h.rng, "rng"))) {
    const w = nums(words, `rng.${name}`);
    if (w.length !== 4 || w.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) fail(`rng.${name}`, "must be four unsigned 32-bit integers");
  }
  const adam = obj(h.adam, "adam");
  count(adam.t, "adam.t");
  for (const k of ["lr", "beta1", "beta2", "eps"]) num(adam[k], `adam.${k}`);
  list(adam.moments, "adam.moments").forEach((n, j) => str(n, `adam.moments[${j}]`));
  num(h.seconds, "seconds");
  nums(h.resumedFrom, "resumedFrom");
  if (h.methodState !== undefined) {
    if (h.format === 1) fail("methodState", "a format 1 checkpoint holds no method state");
    obj(h.methodState, "methodState");
  }
  const seen = new Set<string>();
  list(h.arrays, "arrays").forEach((a, j) => {
    const e = obj(a, `arrays[${j}]`);
    const name = str(e.name, `arrays[${j}].name`);
    count(e.length, `arrays[${j}].length`);
    if (e.dtype !== undefined || h.format !== 1) {
      const d = str(e.dtype, `arrays[${j}].dtype`);
      if (!(d in DTYPES)) fail(`arrays[${j}].dtype`, `'${d}' is not one of ${Object.keys(DTYPES).join(", ")}`);
    }
    if (seen.has(name)) fail(`arrays[${j}].name`, `'${name}' appears twice`);
    seen.add(name);
  });
  const p = obj(h.payload, "payload");
  count(p.bytes, "payload.bytes");
  str(p.sha256, "payload.sha256");
  return h as unknown as Header;
}
