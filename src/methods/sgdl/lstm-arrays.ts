/**
 * The LSTM cell of lstm.ts on typed arrays, for the scheduler's per-step path:
 * the gate weights are fused into one matrix W = [wx; wh; b; b2]
 * [(input + H + biases) x 4H] (the parameters are stored row-major with 4H
 * columns, so W is their concatenation), so the gates are one product
 * z = [x, h, 1, 1] W. Without a previous state (zero: the official code's
 * length-1 sequences) the wh rows are left out and wh's gradient is zero, as
 * h Wh's gradient at h = 0. Gates (i, f, g, o) and formulas as lstm.ts:
 *   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c').
 * Truncated backprop: the backward pass gives the weights' gradient only, no
 * gradient into the previous state (the scheduler's carried state is a constant).
 */
import * as tf from "@tensorflow/tfjs";
import type { ParamStore } from "../../models/ops/embedding-table";
import type { LstmCellSpec } from "./lstm";
import { JS_MATMUL_LIMIT, matMulArrays, transposeArray } from "./matrix-arrays";

/** What one forward pass of a cell keeps for its backward pass. */
export interface CellPass {
  spec: LstmCellSpec;
  b: number;
  /** Whether the previous state took part (wh rows in W). */
  recurrent: boolean;
  /** The inputs A = [x, h, 1...] [B x K]. */
  a: Float32Array;
  /** Gate activations [B x 4H]: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o). */
  act: Float64Array;
  /** The previous cell state [B x H], null for zero. */
  cPrev: Float32Array | null;
  /** tanh(c') [B x H]. */
  tanhC: Float64Array;
  /** The new state [B x H] each, float32. */
  h: Float32Array;
  c: Float32Array;
}

/** The rows of A and W: input, plus H with a previous state, plus one per bias. */
function fusedWidth(spec: LstmCellSpec, recurrent: boolean): number {
  return spec.input + (recurrent ? spec.hidden : 0) + spec.biases;
}

/** W [K x 4H] = [wx; wh (with a previous state); b; b2 (two biases)] of a cell's parameters. */
export function fusedWeights(params: ParamStore, spec: LstmCellSpec, recurrent: boolean): Float32Array {
  const g = 4 * spec.hidden;
  const parts = [`${spec.name}.wx`, ...(recurrent ? [`${spec.name}.wh`] : []), `${spec.name}.b`, ...(spec.biases === 2 ? [`${spec.name}.b2`] : [])];
  const w = new Float32Array(fusedWidth(spec, recurrent) * g);
  let at = 0;
  for (const name of parts) {
    const d = params.get(name).data;
    w.set(d, at);
    at += d.length;
  }
  if (at !== w.length) throw new Error(`LSTM '${spec.name}': parameters hold ${at} values, the fused matrix ${w.length}`);
  return w;
}

/** One step of the cell on typed arrays: x [B x input], the previous state [B x H] each (null: zero), W from fusedWeights(.., prev !== null). */
export function cellForward(spec: LstmCellSpec, w: Float32Array, x: Float32Array, b: number, prev: { h: Float32Array; c: Float32Array } | null): CellPass {
  const H = spec.hidden;
  const G = 4 * H;
  const recurrent = prev !== null;
  const k = fusedWidth(spec, recurrent);
  if (x.length !== b * spec.input) throw new Error(`LSTM '${spec.name}': input has ${x.length} values, expected ${b} x ${spec.input}`);
  if (prev !== null && (prev.h.length !== b * H || prev.c.length !== b * H)) throw new Error(`LSTM '${spec.name}': state must be [${b} x ${H}]`);
  const a = new Float32Array(b * k);
  for (let n = 0; n < b; n++) {
    const row = n * k;
    for (let j = 0; j < spec.input; j++) a[row + j] = x[n * spec.input + j];
    if (prev !== null) a.set(prev.h.subarray(n * H, (n + 1) * H), row + spec.input);
    for (let j = k - spec.biases; j < k; j++) a[row + j] = 1;
  }
  const { z, sig } = gates(a, w, b, k, G);
  const act = new Float64Array(b * G);
  const tanhC = new Float64Array(b * H);
  const h = new Float32Array(b * H);
  const c = new Float32Array(b * H);
  const cPrev = prev === null ? null : prev.c;
  for (let n = 0; n < b; n++) {
    const r = n * G;
    for (let j = 0; j < H; j++) {
      const i = sig[r + j];
      const f = sig[r + H + j];
      const g = tanh(z[r + 2 * H + j]);
      const o = sig[r + 3 * H + j];
      act[r + j] = i;
      act[r + H + j] = f;
      act[r + 2 * H + j] = g;
      act[r + 3 * H + j] = o;
      const cNew = (cPrev === null ? 0 : f * cPrev[n * H + j]) + i * g;
      const t = tanh(cNew);
      tanhC[n * H + j] = t;
      c[n * H + j] = cNew;
      h[n * H + j] = o * t;
    }
  }
  return { spec, b, recurrent, a, act, cPrev, tanhC, h, c };
}

/** The cell's parameter gradients by name from dL/dh' [B x H] (truncated: the previous state is a constant). */
export function cellBackward(pass: CellPass, dh: Float64Array): Record<string, Float32Array> {
  const { spec, b, act, tanhC, cPrev } = pass;
  const H = spec.hidden;
  const G = 4 * H;
  if (dh.length !== b * H) throw new Error(`LSTM '${spec.name}': dL/dh has ${dh.length} values, expected ${b} x ${H}`);
  const dz = new Float32Array(b * G);
  for (let n = 0; n < b; n++) {
    const r = n * G;
    for (let j = 0; j < H; j++) {
      const i = act[r + j];
      const f = act[r + H + j];
      const g = act[r + 2 * H + j];
      const o = act[r + 3 * H + j];
      const t = tanhC[n * H + j];
      const d = dh[n * H + j];
      const dc = d * o * (1 - t * t);
      dz[r + j] = dc * g * i * (1 - i);
      dz[r + H + j] = cPrev === null ? 0 : dc * cPrev[n * H + j] * f * (1 - f);
      dz[r + 2 * H + j] = dc * i * (1 - g * g);
      dz[r + 3 * H + j] = d * t * o * (1 - o);
    }
  }
  const k = fusedWidth(spec, pass.recurrent);
  const dw = matMulArrays(transposeArray(pass.a, b, k), dz, k, b, G); // dW = A^T dZ
  const out: Record<string, Float32Array> = {};
  let at = 0;
  const take = (name: string, rows: number): void => {
    out[`${spec.name}.${name}`] = dw.slice(at * G, (at + rows) * G);
    at += rows;
  };
  take("wx", spec.input);
  if (pass.recurrent) take("wh", H);
  else out[`${spec.name}.wh`] = new Float32Array(H * G);
  take("b", 1);
  if (spec.biases === 2) take("b2", 1);
  return out;
}

/** z = A W [m x n] and sigmoid(z): one tf matMul and one sigmoid when large (wasm's sigmoid is vectorised), else JS. */
function gates(a: Float32Array, w: Float32Array, m: number, k: number, n: number): { z: Float32Array; sig: Float32Array } {
  if (m * k * n < JS_MATMUL_LIMIT) {
    const z = matMulArrays(a, w, m, k, n);
    const sig = new Float32Array(z.length);
    for (let j = 0; j < z.length; j++) sig[j] = 1 / (1 + Math.exp(-z[j]));
    return { z, sig };
  }
  const ta = tf.tensor2d(a, [m, k]);
  const tw = tf.tensor2d(w, [k, n]);
  const tz = tf.matMul(ta, tw);
  const ts = tf.sigmoid(tz);
  const out = { z: tz.dataSync() as Float32Array, sig: ts.dataSync() as Float32Array };
  tf.dispose([ta, tw, tz, ts]);
  return out;
}

/** tanh(x) = 1 - 2 / (exp(2x) + 1) in float64 (faster than Math.tanh; exact to ~1e-16 absolute). */
function tanh(x: number): number {
  return 1 - 2 / (Math.exp(2 * x) + 1);
}
