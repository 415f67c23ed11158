/**
 * phi's forward and backward pass on typed arrays for one memorized batch:
 * the scheduler's per-step path (Scheduler.draw and trainFromSelectionGrad),
 * the same functions as the tf path of scheduler.ts (which stays for
 * differentiating arbitrary losses) in a handful of JS loops and at most two
 * matrix products per LSTM cell, since at B = 128 the step is bound by tf's
 * per-op dispatch. Logits o [B] (Eq. 10) in float64; the backward pass takes
 * dL/do and gives phi's gradient by parameter name.
 * - "lstm": the paper's cell (lstm-arrays.ts, fused gates) on the carried
 *   state, then o = h' w + b; gradients through the current step only.
 * - "lstm1": four cells at zero state (loss fwd/bwd, cosines fwd/bwd), their
 *   h concatenated -> Linear(4H, 2H) -> tanh -> Linear(2H, 1).
 * - "mlp": F -> H -> ReLU -> 1 (ReLU's gradient 0 at 0, as tf's).
 */
import type { ParamStore } from "../../models/ops/embedding-table";
import type { LstmCellSpec } from "./lstm";
import { cellBackward, cellForward, fusedWeights, type CellPass } from "./lstm-arrays";
import { matMulArrays, transposeArray } from "./matrix-arrays";

/** The variants with parameters and what their shapes depend on. */
export interface NetShape {
  kind: "lstm" | "lstm1" | "mlp";
  features: number;
  hidden: number;
}

/** A forward pass: the logits, lstm's next state, and the backward pass at the same point. */
export interface NetPass {
  /** o [B] (Eq. 10). */
  logits: Float64Array;
  /** lstm: the new state [B x H] each (to be carried); null for the others. */
  next: { h: Float32Array; c: Float32Array } | null;
  /** phi's gradient by parameter name from dL/do [B]. */
  backward(dLdo: Float64Array): Record<string, Float32Array>;
}

/** The paper's LSTM cell. */
export function lstmSpec(c: { features: number; hidden: number }): LstmCellSpec {
  return { name: "lstm", input: c.features, hidden: c.hidden, biases: 1 };
}

/** The official code's four cells and what each reads: loss LSTM and gradient LSTM, forward and backward direction each. */
export function lstm1Cells(c: { features: number; hidden: number }): Array<{ spec: LstmCellSpec; input: "loss" | "cos" }> {
  const cell = (name: string, input: "loss" | "cos"): { spec: LstmCellSpec; input: "loss" | "cos" } => ({
    spec: { name, input: input === "loss" ? 1 : c.features - 1, hidden: c.hidden, biases: 2 },
    input,
  });
  return [cell("lossLstm.fwd", "loss"), cell("lossLstm.bwd", "loss"), cell("gradLstm.fwd", "cos"), cell("gradLstm.bwd", "cos")];
}

/** phi's forward pass on features x [B x F] row-major; lstm needs the previous state of the rows [B x H] each. */
export function netForward(shape: NetShape, params: ParamStore, x: Float32Array, b: number, prev: { h: Float32Array; c: Float32Array } | null): NetPass {
  if (x.length !== b * shape.features) throw new Error(`scheduler '${shape.kind}': features have ${x.length} values, expected ${b} x ${shape.features}`);
  switch (shape.kind) {
    case "mlp":
      return mlpForward(shape, params, x, b);
    case "lstm1":
      return lstm1Forward(shape, params, x, b);
    case "lstm": {
      if (prev === null) throw new Error("scheduler 'lstm': the forward pass needs the carried state");
      const spec = lstmSpec(shape);
      const cell = cellForward(spec, fusedWeights(params, spec, true), x, b, prev);
      const w = params.get("out.w").data;
      const head = readOut(cell.h, b, shape.hidden, w, params.get("out.b").data[0]);
      return {
        logits: head,
        next: { h: cell.h, c: cell.c },
        backward: (dLdo) => {
          const g = readOutBackward(cell.h, b, shape.hidden, w, dLdo);
          return { ...cellBackward(cell, g.dIn), "out.w": g.dw, "out.b": g.db };
        },
      };
    }
  }
}

/** F -> H -> ReLU -> 1. */
function mlpForward(shape: NetShape, params: ParamStore, x: Float32Array, b: number): NetPass {
  const F = shape.features;
  const H = shape.hidden;
  const pre = addBias(matMulArrays(x, params.get("mlp.w1").data, b, F, H), params.get("mlp.b1").data);
  const h = new Float64Array(b * H);
  for (let k = 0; k < h.length; k++) h[k] = pre[k] > 0 ? pre[k] : 0;
  const w2 = params.get("mlp.w2").data;
  return {
    logits: readOut(h, b, H, w2, params.get("mlp.b2").data[0]),
    next: null,
    backward: (dLdo) => {
      const g = readOutBackward(h, b, H, w2, dLdo);
      const dPre = new Float32Array(b * H);
      for (let k = 0; k < dPre.length; k++) dPre[k] = pre[k] > 0 ? g.dIn[k] : 0;
      return { "mlp.w1": matMulArrays(transposeArray(x, b, F), dPre, F, b, H), "mlp.b1": columnSums(dPre, b, H), "mlp.w2": g.dw, "mlp.b2": g.db };
    },
  };
}

/** Four cells at zero state -> Linear(4H, 2H) -> tanh -> Linear(2H, 1). */
function lstm1Forward(shape: NetShape, params: ParamStore, x: Float32Array, b: number): NetPass {
  const F = shape.features;
  const H = shape.hidden;
  const loss = new Float32Array(b);
  const cos = new Float32Array(b * (F - 1));
  for (let n = 0; n < b; n++) {
    loss[n] = x[n * F];
    for (let j = 1; j < F; j++) cos[n * (F - 1) + j - 1] = x[n * F + j];
  }
  const cells: CellPass[] = lstm1Cells(shape).map(({ spec, input }) => cellForward(spec, fusedWeights(params, spec, false), input === "loss" ? loss : cos, b, null));
  const cat = new Float32Array(b * 4 * H);
  cells.forEach((cell, q) => {
    for (let n = 0; n < b; n++) cat.set(cell.h.subarray(n * H, (n + 1) * H), n * 4 * H + q * H);
  });
  const w1 = params.get("fc1.w").data;
  const hid = addBias(matMulArrays(cat, w1, b, 4 * H, 2 * H), params.get("fc1.b").data);
  for (let k = 0; k < hid.length; k++) hid[k] = Math.tanh(hid[k]);
  const w2 = params.get("fc2.w").data;
  return {
    logits: readOut(hid, b, 2 * H, w2, params.get("fc2.b").data[0]),
    next: null,
    backward: (dLdo) => {
      const g = readOutBackward(hid, b, 2 * H, w2, dLdo);
      const dPre = new Float32Array(b * 2 * H);
      for (let k = 0; k < dPre.length; k++) dPre[k] = g.dIn[k] * (1 - hid[k] * hid[k]);
      const dCat = matMulArrays(dPre, transposeArray(w1, 4 * H, 2 * H), b, 2 * H, 4 * H);
      const out: Record<string, Float32Array> = { "fc1.w": matMulArrays(transposeArray(cat, b, 4 * H), dPre, 4 * H, b, 2 * H), "fc1.b": columnSums(dPre, b, 2 * H), "fc2.w": g.dw, "fc2.b": g.db };
      cells.forEach((cell, q) => {
        const dh = new Float64Array(b * H);
        for (let n = 0; n < b; n++) for (let j = 0; j < H; j++) dh[n * H + j] = dCat[n * 4 * H + q * H + j];
        Object.assign(out, cellBackward(cell, dh));
      });
      return out;
    },
  };
}

/** z [B x N] + bias [N] in float64. */
function addBias(z: Float32Array, bias: Float32Array): Float64Array {
  const n = bias.length;
  const out = new Float64Array(z.length);
  for (let r = 0; r < z.length; r += n) for (let j = 0; j < n; j++) out[r + j] = z[r + j] + bias[j];
  return out;
}

/** o_n = sum_j h_nj w_j + bias, for h [B x N]. */
function readOut(h: ArrayLike<number>, b: number, n: number, w: Float32Array, bias: number): Float64Array {
  const o = new Float64Array(b);
  for (let r = 0; r < b; r++) {
    let s = bias;
    for (let j = 0; j < n; j++) s += h[r * n + j] * w[j];
    o[r] = s;
  }
  return o;
}

/** readOut's backward: dL/dw = h^T dL/do, dL/dbias = sum dL/do, dL/dh = dL/do w^T. */
function readOutBackward(h: ArrayLike<number>, b: number, n: number, w: Float32Array, dLdo: Float64Array): { dw: Float32Array; db: Float32Array; dIn: Float64Array } {
  if (dLdo.length !== b) throw new Error(`scheduler: dL/do has ${dLdo.length} values for ${b} rows`);
  const dw = new Float64Array(n);
  const dIn = new Float64Array(b * n);
  let db = 0;
  for (let r = 0; r < b; r++) {
    const d = dLdo[r];
    db += d;
    for (let j = 0; j < n; j++) {
      dw[j] += h[r * n + j] * d;
      dIn[r * n + j] = d * w[j];
    }
  }
  return { dw: new Float32Array(dw), db: Float32Array.of(db), dIn };
}

/** Column sums of z [B x N] in float64. */
function columnSums(z: ArrayLike<number>, b: number, n: number): Float32Array {
  const s = new Float64Array(n);
  for (let r = 0; r < b; r++) for (let j = 0; j < n; j++) s[j] += z[r * n + j];
  return new Float32Array(s);
}
