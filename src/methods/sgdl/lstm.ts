/**
 * A hand-written LSTM cell (Hochreiter & Schmidhuber, 1997) over dense
 * parameters kept in a ParamStore, as a pure function of leaf tensors: the
 * scheduler takes first-order gradients w.r.t. those leaves with tf.grads
 * (tanh and sigmoid are fine at first order in tfjs 4.22; only their second
 * derivatives are broken). Gate layout as PyTorch's nn.LSTM (i, f, g, o):
 *   z = x Wx + h Wh + b,  [i, f, g, o] = split(z, 4)
 *   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c')
 * Parameters of a cell named p: `p.wx` [input x 4H], `p.wh` [H x 4H], `p.b`
 * [4H], and with two biases (PyTorch's b_ih and b_hh) also `p.b2` [4H].
 */
import * as tf from "@tensorflow/tfjs";
import type { LeafTensors } from "../../models/model";
import type { ParamStore } from "../../models/ops/embedding-table";
import type { Rng } from "../../util/rng";

/** The shape of one cell. */
export interface LstmCellSpec {
  /** Parameter name prefix, e.g. "lstm" gives "lstm.wx", "lstm.wh", "lstm.b". */
  name: string;
  input: number;
  hidden: number;
  /** 1 (one bias, the paper's 4d^2 + 12d count with 2 inputs) or 2 (PyTorch's b_ih + b_hh, the official code). */
  biases: 1 | 2;
}

/** How the cell's weights are drawn: Xavier-uniform matrices and zero biases (paper 4.1.4), or PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for all. */
export type LstmInit = "xavier" | "pytorch";

/** A cell's state [B x H] each. */
export interface LstmState {
  h: tf.Tensor2D;
  c: tf.Tensor2D;
}

/** Adds the cell's parameters to the store, drawn from rng. */
export function addLstmCell(store: ParamStore, spec: LstmCellSpec, init: LstmInit, rng: Rng): void {
  checkSpec(spec);
  const g = 4 * spec.hidden;
  const k = 1 / Math.sqrt(spec.hidden);
  const matrix = init === "xavier" ? ({ kind: "xavier-uniform" } as const) : ({ kind: "uniform", bound: k } as const);
  const bias = init === "xavier" ? ({ kind: "zeros" } as const) : ({ kind: "uniform", bound: k } as const);
  store.add(`${spec.name}.wx`, "dense", [spec.input, g], matrix, rng);
  store.add(`${spec.name}.wh`, "dense", [spec.hidden, g], matrix, rng);
  store.add(`${spec.name}.b`, "dense", [g], bias, rng);
  if (spec.biases === 2) store.add(`${spec.name}.b2`, "dense", [g], bias, rng);
}

/** The number of parameters of a cell: 4H(input + H) + 4H per bias. */
export function lstmCellSize(spec: LstmCellSpec): number {
  return 4 * spec.hidden * (spec.input + spec.hidden) + 4 * spec.hidden * spec.biases;
}

/** A zero state [b x H]. */
export function zeroState(b: number, hidden: number): LstmState {
  return { h: tf.zeros([b, hidden]), c: tf.zeros([b, hidden]) };
}

/** One step of the cell: the new state from input x [B x input] and the previous state (zero if omitted), at the given leaves. */
export function lstmCell(leaves: LeafTensors, spec: LstmCellSpec, x: tf.Tensor2D, state?: LstmState): LstmState {
  const b = x.shape[0];
  const hid = spec.hidden;
  if (x.shape[1] !== spec.input) throw new Error(`LSTM '${spec.name}': input has ${x.shape[1]} features, the cell expects ${spec.input}`);
  const s = state ?? zeroState(b, hid);
  if (s.h.shape[0] !== b || s.h.shape[1] !== hid || s.c.shape[0] !== b || s.c.shape[1] !== hid) {
    throw new Error(`LSTM '${spec.name}': state must be [${b} x ${hid}], got h [${s.h.shape.join(", ")}], c [${s.c.shape.join(", ")}]`);
  }
  // h Wh is computed even for a zero state, so Wh always receives its (zero) gradient, as in PyTorch
  let z = tf.add(tf.add(tf.matMul(x, leaf(leaves, spec, "wx")), tf.matMul(s.h, leaf(leaves, spec, "wh"))), leaf(leaves, spec, "b"));
  if (spec.biases === 2) z = tf.add(z, leaf(leaves, spec, "b2"));
  const gate = (k: number): tf.Tensor2D => tf.slice(z, [0, k * hid], [b, hid]) as tf.Tensor2D;
  const c = tf.add(tf.mul(tf.sigmoid(gate(1)), s.c), tf.mul(tf.sigmoid(gate(0)), tf.tanh(gate(2)))) as tf.Tensor2D;
  const h = tf.mul(tf.sigmoid(gate(3)), tf.tanh(c)) as tf.Tensor2D;
  return { h, c };
}

function leaf(leaves: LeafTensors, spec: LstmCellSpec, part: string): tf.Tensor2D {
  const key = `${spec.name}.${part}`;
  const t = leaves[key];
  if (t === undefined) throw new Error(`LSTM '${spec.name}': no leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  return t as tf.Tensor2D;
}

function checkSpec(spec: LstmCellSpec): void {
  for (const [what, n] of [["input", spec.input], ["hidden", spec.hidden]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`LSTM '${spec.name}': ${what} must be a positive integer, got ${n}`);
  }
  if (spec.biases !== 1 && spec.biases !== 2) throw new RangeError(`LSTM '${spec.name}': biases must be 1 or 2, got ${String(spec.biases)}`);
}
