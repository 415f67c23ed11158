/**
 * Model parameters kept outside tf, in Float32Arrays: embedding tables
 * (kind "table", [rows x dim], a batch touches a few rows) and dense weights
 * (kind "dense", used whole every step). A step copies what it needs into fresh
 * leaf tensors, takes gradients w.r.t. those leaves, reads them back and hands
 * them to the optimizer (training/adam.ts). Keeping tables out of tf avoids
 * tf.gather, whose gradient is very slow on cpu and missing on wasm.
 *
 * Batch rows are gathered PER POSITION (a row that appears twice in a batch is
 * copied twice); scatterAddRows folds the per-position gradients back onto the
 * unique rows, summing repeats, which is exactly the gradient of a gather.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../../util/rng";

export type ParamKind = "table" | "dense";

/** One named parameter, row-major values in `data`. */
export interface Param {
  readonly name: string;
  readonly kind: ParamKind;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** How a parameter's values are drawn. */
export type Init =
  | { kind: "normal"; std: number }
  | { kind: "xavier-uniform" }
  | { kind: "uniform"; bound: number }
  | { kind: "zeros" };

/** The number of values of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new Error(`invalid shape [${shape.join(", ")}]`);
    n *= s;
  }
  return n;
}

/** Fills `out` from the initialiser with draws from rng (same seed, same values). */
export function initValues(init: Init, shape: readonly number[], rng: Rng, out: Float32Array = new Float32Array(shapeSize(shape))): Float32Array {
  switch (init.kind) {
    case "zeros":
      out.fill(0);
      return out;
    case "normal":
      for (let k = 0; k < out.length; k++) out[k] = init.std * rng.normal();
      return out;
    case "uniform":
      for (let k = 0; k < out.length; k++) out[k] = (2 * rng.next() - 1) * init.bound;
      return out;
    case "xavier-uniform": {
      // Glorot & Bengio (2010): U(-b, b), b = sqrt(6 / (fan_in + fan_out)); 2-D only
      if (shape.length !== 2) throw new Error(`xavier-uniform needs a 2-D shape, got [${shape.join(", ")}]`);
      const bound = Math.sqrt(6 / (shape[0] + shape[1]));
      for (let k = 0; k < out.length; k++) out[k] = (2 * rng.next() - 1) * bound;
      return out;
    }
  }
}

/** A new parameter with values drawn from the initialiser. */
export function createParam(name: string, kind: ParamKind, shape: readonly number[], init: Init, rng: Rng): Param {
  if (kind === "table" && shape.length !== 2) throw new Error(`table '${name}' must be 2-D [rows, dim], got [${shape.join(", ")}]`);
  return { name, kind, shape: [...shape], data: initValues(init, shape, rng) };
}

/** The named parameters of a model, in insertion order: what the trainer and the optimizer see. */
export class ParamStore {
  private readonly byName = new Map<string, Param>();

  /** Adds a parameter drawn from `init` with `rng`; names are unique. */
  add(name: string, kind: ParamKind, shape: readonly number[], init: Init, rng: Rng): Param {
    return this.put(createParam(name, kind, shape, init, rng));
  }

  /** Adds an existing parameter; names are unique. */
  put(p: Param): Param {
    if (this.byName.has(p.name)) throw new Error(`parameter '${p.name}' already exists`);
    this.byName.set(p.name, p);
    return p;
  }

  /** The parameter of that name; throws if there is none. */
  get(name: string): Param {
    const p = this.byName.get(name);
    if (p === undefined) throw new Error(`no parameter '${name}' (have: ${[...this.byName.keys()].join(", ")})`);
    return p;
  }

  /** All parameters in insertion order. */
  list(): Param[] {
    return [...this.byName.values()];
  }

  /** A deep copy (values copied, same names, kinds and shapes). */
  clone(): ParamStore {
    const c = new ParamStore();
    for (const p of this.byName.values()) c.put({ name: p.name, kind: p.kind, shape: [...p.shape], data: p.data.slice() });
    return c;
  }

  /** Total number of values. */
  size(): number {
    let n = 0;
    for (const p of this.byName.values()) n += p.data.length;
    return n;
  }
}

/** Rows and dim of a table-shaped (2-D) parameter. */
export function tableDims(p: Param): { rows: number; dim: number } {
  if (p.shape.length !== 2) throw new Error(`parameter '${p.name}' is not 2-D: [${p.shape.join(", ")}]`);
  return { rows: p.shape[0], dim: p.shape[1] };
}

/** Copies table rows idx[0..n) into a new Float32Array [n x dim] (repeats copied per position). */
export function gatherRowsArray(p: Param, idx: ArrayLike<number>): Float32Array {
  const { rows, dim } = tableDims(p);
  const out = new Float32Array(idx.length * dim);
  for (let n = 0; n < idx.length; n++) {
    const r = idx[n];
    if (!(r >= 0 && r < rows)) throw new Error(`gatherRows: row ${r} outside table '${p.name}' [0, ${rows})`);
    out.set(p.data.subarray(r * dim, (r + 1) * dim), n * dim);
  }
  return out;
}

/** The rows idx of a table as a new leaf tensor [idx.length, dim] (one row per position). */
export function gatherRows(p: Param, idx: ArrayLike<number>): tf.Tensor2D {
  return tf.tensor2d(gatherRowsArray(p, idx), [idx.length, tableDims(p).dim]);
}

/** The whole parameter as a new leaf tensor (its values copied, so later updates do not alias it). */
export function paramTensor(p: Param): tf.Tensor {
  return tf.tensor(p.data.slice(), [...p.shape]);
}

/** A gradient for some rows of a table: rows are unique, grad is [rows.length x dim] in the same order. */
export interface RowGradient {
  rows: Int32Array;
  grad: Float32Array;
}

/** One gathered piece: the positions' rows and the gradient w.r.t. the gathered leaf [idx.length x dim]. */
export interface GatheredGradient {
  idx: ArrayLike<number>;
  grad: Float32Array;
}

/**
 * Folds per-position gradients (one or more gathers from the same table, e.g.
 * positive and negative items) onto unique rows, summing every repeat: the
 * gradient of the table restricted to the rows the batch touched.
 */
export function scatterAddRows(dim: number, parts: readonly GatheredGradient[]): RowGradient {
  const slot = new Map<number, number>();
  const order: number[] = [];
  for (const part of parts) {
    if (part.grad.length !== part.idx.length * dim) {
      throw new Error(`scatterAddRows: gradient has ${part.grad.length} values, expected ${part.idx.length} x ${dim}`);
    }
    for (let n = 0; n < part.idx.length; n++) {
      const r = part.idx[n];
      if (!slot.has(r)) {
        slot.set(r, order.length);
        order.push(r);
      }
    }
  }
  const grad = new Float32Array(order.length * dim);
  for (const part of parts) {
    for (let n = 0; n < part.idx.length; n++) {
      const o = (slot.get(part.idx[n]) as number) * dim;
      const b = n * dim;
      for (let j = 0; j < dim; j++) grad[o + j] += part.grad[b + j];
    }
  }
  return { rows: Int32Array.from(order), grad };
}
