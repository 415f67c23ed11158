/**
 * One step of SGDL's self-guided learning (paper Section 3.2.1, Eq. 7-9), for
 * any model of the kit (models/model.ts), with the exact second-order
 * meta-gradient (sgdl-reference 5.3 B, the current official code):
 *   (a) assumed update  theta_hat(psi) = theta - eta1 d/dtheta (1/|B_t|) sum_k g(L_k; psi) L_k(theta)   (Eq. 7, plain SGD)
 *   (b) meta loss       l_meta(psi) = (1/|B_m|) sum_m L_m(theta_hat(psi))    (Eq. 8's objective; optionally a selection)
 *   (c) psi <- Adam step on d l_meta / d psi, through theta_hat                (Eq. 8, eta2 = metaLr)
 *   (d) actual update   theta <- the trainer's step on (1/|B_t|) sum_k g(L_k; psi_new) L_k   (Eq. 9, weights detached);
 *       from B_t's per-sample gradient factors at theta where the model has them (factored-update.ts: NeuMF), else autodiff
 *
 * theta_hat is built per LEAF of the memorized batch (model.leaves), from the
 * gradients w.r.t. the training batch's leaves, taken by an inner tf.grad while
 * the outer tape (d / d psi) records; see assumedLeaves for the mapping and why
 * it is exact. psi enters the inner backward linearly (L is detached before g),
 * so no second derivative passes through the weighting net's sigmoid.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, LeafSpec, LeafTensors, Model } from "../../models/model";
import { paramTensor, type Param, type ParamStore } from "../../models/ops/embedding-table";
import { SparseOperator, spmm } from "../../models/ops/spmm";
import { selectionOperator } from "../../models/propagation";
import type { Adam, ParamGradient } from "../../training/adam";
import { exampleCount } from "../../training/batches";
import { gradientStep, makeLeaves, type Objective, type StepResult } from "../../training/step";
import { perSampleSource } from "./cosine-features";
import { factoredMetaGradient } from "./factored-meta";
import { factoredActualUpdate } from "./factored-update";
import { linearMetaGradient, linearRowsFor } from "./linear-meta";
import { selectedMean, selectedRowsMean } from "./selected-mean";
import { detached, weights, type PsiTensors, type WeightingNet } from "./weighting";

export { selectedMean } from "./selected-mean";

/** The options of a meta step. */
export interface MetaStepOptions {
  /** "learned": psi follows Eq. 8 (paper, current code); "frozen": psi is never updated (the published code 91202d1, sgdl-reference 5.3). */
  weighting: "learned" | "frozen";
  /** eta1, the assumed update's SGD step (Eq. 7); default the model optimizer's lr (official code: args.lr). */
  eta1?: number;
  /** eta2, the lr of psi's Adam (Eq. 8); default the model optimizer's lr (paper: eta1 = eta2). */
  metaLr?: number;
  /**
   * The batch the assumed update descends on: "train" (paper Eq. 7, current code's meta step) or
   * "memorized" (the batch the meta loss is taken on: the code's scheduler features and the 91202d1 meta loss).
   */
  assumedFrom: "train" | "memorized";
  /** In frozen mode, evaluate the meta loss even when nothing needs its gradient (costs an assumed update); default false. */
  metaLossWhenFrozen: boolean;
  /**
   * What a matrix selection S picks: the memorized samples' per-sample "loss"es (kit default: l_meta = mean_r (S L)_r,
   * d l / d S[r, m] = L_m / R) or their per-position rows, "embedding" (the official code, sgdl-reference 5.3 B4:
   * S times LightGCN's final embeddings, selected-mean.ts's selectedRowsMean). Same meta loss and psi gradient for
   * a one-hot S; only the scheduler's gradient differs. "embedding" needs BPR batches.
   */
  selectionLevel: "loss" | "embedding";
}

export const META_STEP_DEFAULTS: Readonly<MetaStepOptions> = { weighting: "learned", assumedFrom: "train", metaLossWhenFrozen: false, selectionLevel: "loss" };

/** How the actual update (Eq. 9) takes its gradient: "auto" from per-sample gradient factors where they apply, else autodiff; "autodiff" always a second autodiff pass (gradientStep). */
export type ActualUpdatePath = "auto" | "autodiff";

/** The path of meta steps whose inputs name none: "auto". Tests and benchmarks may set "autodiff" to compare whole runs (and set it back). */
export const actualUpdateDefault: { path: ActualUpdatePath } = { path: "auto" };

/** What a meta step works on. */
export interface MetaStepInputs {
  /** The model, its parameters theta and theta's Adam (the actual update's optimizer). */
  model: Model;
  params: ParamStore;
  optimizer: Adam;
  /** The weighting net g(.; psi) and psi's Adam. */
  net: WeightingNet;
  metaOptimizer: Adam;
  /** B_t, the training batch, and B_m, the memorized batch (same kind: BPR triples or BCE pairs). */
  train: Batch;
  memorized: Batch;
  /** Forward mode of every pass (dropout draws from its rng). */
  mode: ForwardMode;
  /**
   * Optional selection of the memorized samples (the scheduler's): a [|B_m|] weight vector s
   * (l_meta = (1/|B_m|) sum_m s_m L_m) or an [R x |B_m|] (straight-through one-hot) matrix S
   * (l_meta = mean_r (S L)_r). Owned by the caller; its gradient is returned as selectionGrad.
   * By default S acts on the per-sample LOSSES (any model): for a hard one-hot S the value equals the official
   * code's, which multiplies LightGCN's final embeddings by S, but d l / d S[r, m] here is L_m / R, not the
   * code's embedding-level <d l / d e_r, e_m> (sgdl-reference 5.3 B4): that is MetaStepOptions.selectionLevel "embedding".
   */
  selection?: tf.Tensor;
  /**
   * How the meta-gradient is computed, same numbers either way: "auto" (default) the exact closed form of
   * linear-meta.ts when the model has linearRows (LightGCN's operator path) and the batches are BPR, or
   * factored-meta.ts's when the model has perSampleGradients (NeuMF) and its hook applies, else the general
   * nested-gradient path below; "general" always the latter (tests, benchmarks).
   */
  path?: "auto" | "general";
  /**
   * How the actual update (Eq. 9) takes its gradient, the same update up to float32 rounding: "auto" (default:
   * actualUpdateDefault.path) from B_t's per-sample gradient factors at theta (factored-update.ts) when the model has
   * them and its hook applies in `mode` (NeuMF without dropout), one Adam step of `optimizer`; else, and with
   * "autodiff", gradientStep with `optimizer` and `mode` (a second forward and backward pass).
   */
  actualUpdate?: ActualUpdatePath;
  /**
   * A caller's own actual update (objective of B_t's per-sample losses -> its step). When given it is always used:
   * the factored update could not know what it does. (The SGDL method passes none: ctx.plainStep is gradientStep
   * with ctx.optimizer in ctx.forwardMode(true), the `optimizer` and `mode` it passes.)
   */
  actualStep?: (batch: Batch, objective: Objective) => StepResult;
  /** The clock (ms) of MetaStepResult.actualUpdateMs; default performance.now. */
  clock?: () => number;
}

/** What a meta step reports. */
export interface MetaStepResult extends StepResult {
  /** (StepResult.loss) the actual update's weighted loss (1/|B_t|) sum_k w_k L_k(theta), before the update. */
  loss: number;
  /** l_meta at theta_hat(psi) with the OLD psi (null: frozen and not asked for). */
  metaLoss: number | null;
  /** The training batch's weights g(L_k(theta); psi_new) used by the actual update. */
  weights: Float32Array;
  /** The training batch's per-sample losses L_k(theta) the weights were computed from. */
  losses: Float32Array;
  /** ||d l_meta / d psi||_2 before Adam (null when frozen). */
  psiGradNorm: number | null;
  /** d l_meta / d selection, row-major in the selection's shape (null without a selection). */
  selectionGrad: Float32Array | null;
  /** How the actual update took its gradient: from per-sample gradient factors, or autodiff (gradientStep or the caller's actualStep). */
  actualUpdate: "factored" | "autodiff";
  /** Time of the actual update (inp.clock, ms). */
  actualUpdateMs: number;
}

/** Per-sample weights from detached per-sample losses, as tf ops (what the inner objective of Eq. 7 multiplies by). */
export type WeightsOf = (detachedLosses: tf.Tensor1D) => tf.Tensor1D;

/** Leaf tensors by key from parallel lists. */
function byKey(specs: readonly LeafSpec[], tensors: readonly tf.Tensor[]): LeafTensors {
  const out: Record<string, tf.Tensor> = {};
  specs.forEach((s, i) => (out[s.key] = tensors[i]));
  return out;
}

/** The model's per-sample losses, checked to be one per example. */
function batchLosses(model: Model, leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D {
  const l = model.losses(leaves, batch, mode);
  const n = exampleCount(batch);
  if (l.rank !== 1 || l.shape[0] !== n) throw new Error(`model '${model.name}': losses must be a vector of ${n} values, got [${l.shape.join(", ")}]`);
  return l;
}

/** The 0/1 match matrix M [target.length x source.length], M[v, n] = [target[v] == source[n]], as a sparse operator; null if all zero. */
export function matchOperator(target: Int32Array, source: Int32Array): SparseOperator | null {
  const at = new Map<number, number[]>();
  source.forEach((r, n) => {
    const list = at.get(r);
    if (list === undefined) at.set(r, [n]);
    else list.push(n);
  });
  const indptr = new Int32Array(target.length + 1);
  const cols: number[] = [];
  target.forEach((r, v) => {
    const list = at.get(r);
    if (list !== undefined) cols.push(...list);
    indptr[v + 1] = cols.length;
  });
  if (cols.length === 0) return null;
  const csr = { rows: target.length, cols: source.length, indptr, indices: Int32Array.from(cols), values: new Float32Array(cols.length).fill(1) };
  return SparseOperator.of(csr);
}

/**
 * The gradient w.r.t. one source leaf (same parameter p) laid out like one
 * target leaf, i.e. the target leaf's share of the full gradient of p:
 *   whole <- whole: the gradient itself;
 *   whole <- rows idx: S^T grad, S [N x R] the 0/1 gather of rows idx (a gather's adjoint: scatter-add);
 *   rows vidx <- whole: S_v grad, the rows vidx of the full gradient;
 *   rows vidx <- rows idx: M grad, M[v, n] = [vidx_v == idx_n] (null if no row is shared).
 * All are sparse products (models/ops/spmm.ts), differentiable any number of times.
 */
function mapGradient(target: LeafSpec, source: LeafSpec, grad: tf.Tensor, p: Param): tf.Tensor | null {
  if (target.rows === undefined && source.rows === undefined) return grad;
  const rows = p.shape[0];
  if (target.rows === undefined) return spmm(selectionOperator(source.rows as Int32Array, rows).transposed, grad as tf.Tensor2D);
  if (source.rows === undefined) return spmm(selectionOperator(target.rows, rows), grad as tf.Tensor2D);
  const m = matchOperator(target.rows, source.rows);
  return m === null ? null : spmm(m, grad as tf.Tensor2D);
}

/**
 * The assumed parameters theta_hat (Eq. 7) at the leaves the `target` batch
 * reads: theta_hat = theta - eta1 grad_theta (1/|S|) sum_k w_k L_k(theta) over
 * the `source` batch S, w = weightsOf(detached L(theta)). Call it inside a
 * gradient tape to differentiate through it (w.r.t. whatever weightsOf reads);
 * outside one it just gives values (wrap in tf.tidy).
 *
 * Per parameter p the full gradient is G_p = sum over the source leaves of p of
 * (whole leaf) its gradient, (row leaf, rows idx) the scatter-add of its
 * per-position gradient onto rows idx, exactly what the trainer's optimizer
 * receives (toParamGradients). theta_hat_p = theta_p - eta1 G_p, and a target
 * leaf of p reads theta_hat_p whole, or its rows vidx one per position. For
 * rows, (G_p)[vidx_v] = sum_n [idx_n == vidx_v] grad[n] = (M grad)[v]: the match
 * matrix M picks exactly the per-position gradients that the scatter-add would
 * fold onto row vidx_v, so theta_hat rows = theta rows - eta1 M grad is exact;
 * a target row no source position reads has an all-zero M row and keeps theta.
 * Every map is linear in the source gradients, which are linear in w (psi
 * enters Eq. 7 only through w), so d theta_hat / d psi is exact too.
 */
export function assumedLeaves(
  model: Model,
  params: ParamStore,
  source: Batch,
  target: Batch,
  weightsOf: WeightsOf,
  eta1: number,
  mode: ForwardMode,
): LeafTensors {
  const sourceSpecs = model.leaves(source);
  const targetSpecs = model.leaves(target);
  const theta = makeLeaves(params, sourceSpecs).tensors; // constants: the outer tape differentiates w.r.t. w only
  const inner = (): tf.Scalar => {
    const l = batchLosses(model, byKey(sourceSpecs, theta), source, mode);
    const w = weightsOf(detached(l) as tf.Tensor1D);
    return tf.mean(tf.mul(w, l)) as tf.Scalar; // Eq. 7's weighted loss; w carries no gradient back to theta
  };
  // allowNoGradients: a leaf the losses do not read gets none (no update of it, as the trainer)
  const { grads } = tf.engine().gradients(inner, theta, undefined, true);
  const hat = makeLeaves(params, targetSpecs).tensors.map((t, j) => {
    const target = targetSpecs[j];
    const p = params.get(target.param);
    const parts: tf.Tensor[] = [];
    sourceSpecs.forEach((s, i) => {
      const g = grads[i];
      if (s.param !== target.param || g == null) return;
      const part = mapGradient(target, s, g, p);
      if (part !== null) parts.push(part);
    });
    if (parts.length === 0) return t; // theta_hat = theta here
    return tf.sub(t, tf.mul(eta1, parts.length === 1 ? parts[0] : tf.addN(parts)));
  });
  return byKey(targetSpecs, hat);
}

/** l_meta = selectedMean(L(theta_hat)) on the memorized batch (or selectedRowsMean of its rows, level "embedding"), theta_hat from assumedLeaves (Eq. 7-8); a scalar tensor. */
export function metaObjective(
  model: Model,
  params: ParamStore,
  source: Batch,
  memorized: Batch,
  weightsOf: WeightsOf,
  eta1: number,
  mode: ForwardMode,
  selection?: tf.Tensor,
  selectionLevel: "loss" | "embedding" = "loss",
): tf.Scalar {
  const hat = assumedLeaves(model, params, source, memorized, weightsOf, eta1, mode);
  if (selection !== undefined && selectionLevel === "embedding") return selectedRowsMean(perSampleSource(model)(hat, memorized, mode), selection);
  return selectedMean(batchLosses(model, hat, memorized, mode), selection);
}

/** Checks and completes the options; eta1 and metaLr default to the model optimizer's lr. */
export function resolveMetaOptions(options: Partial<MetaStepOptions>, modelLr: number): Required<MetaStepOptions> {
  const o = { ...META_STEP_DEFAULTS, ...options };
  if (o.weighting !== "learned" && o.weighting !== "frozen") throw new Error(`meta step option 'weighting' must be "learned" or "frozen", got ${JSON.stringify(o.weighting)}`);
  if (o.assumedFrom !== "train" && o.assumedFrom !== "memorized") throw new Error(`meta step option 'assumedFrom' must be "train" or "memorized", got ${JSON.stringify(o.assumedFrom)}`);
  if (o.selectionLevel !== "loss" && o.selectionLevel !== "embedding") throw new Error(`meta step option 'selectionLevel' must be "loss" or "embedding", got ${JSON.stringify(o.selectionLevel)}`);
  const eta1 = o.eta1 ?? modelLr;
  const metaLr = o.metaLr ?? modelLr;
  if (!(Number.isFinite(eta1) && eta1 > 0)) throw new Error(`meta step option 'eta1' must be a positive number, got ${eta1}`);
  if (!(Number.isFinite(metaLr) && metaLr > 0)) throw new Error(`meta step option 'metaLr' must be a positive number, got ${metaLr}`);
  return { weighting: o.weighting, assumedFrom: o.assumedFrom, metaLossWhenFrozen: o.metaLossWhenFrozen === true, selectionLevel: o.selectionLevel, eta1, metaLr };
}

/** psi as tensors in ParamStore order, and by name. */
function psiOf(net: WeightingNet): { list: Param[]; tensors: tf.Tensor[]; byName: PsiTensors } {
  const list = net.params.list();
  const tensors = list.map(paramTensor);
  const byName: Record<string, tf.Tensor> = {};
  list.forEach((p, i) => (byName[p.name] = tensors[i]));
  return { list, tensors, byName };
}

/** What the meta-gradient needs: a meta step's inputs without the optimizers and the actual step. */
export type MetaLossInputs = Omit<MetaStepInputs, "optimizer" | "metaOptimizer" | "actualUpdate" | "actualStep" | "clock">;

/** The meta loss and its gradients: per psi parameter (ParamStore order), and w.r.t. the selection. */
export interface MetaGradient {
  /** l_meta at theta_hat(psi) (null: frozen, no selection, not asked for). */
  metaLoss: number | null;
  /** d l_meta / d psi per psi parameter (null when frozen). */
  psiGrads: Float32Array[] | null;
  selectionGrad: Float32Array | null;
}

/** Meta loss, d l_meta / d psi (if learned, Eq. 8) and d l_meta / d selection (if given), at the current theta and psi; nothing is updated. */
export function metaGradient(inp: MetaLossInputs, o: Required<MetaStepOptions>): MetaGradient {
  const learned = o.weighting === "learned";
  const source = o.assumedFrom === "train" ? inp.train : inp.memorized;
  if (inp.path !== undefined && inp.path !== "auto" && inp.path !== "general") throw new Error(`meta step: path must be "auto" or "general", got ${JSON.stringify(inp.path)}`);
  if (o.selectionLevel === "embedding" && inp.memorized.kind !== "bpr") {
    throw new Error(`meta step: selectionLevel "embedding" (the official code's, on LightGCN) needs BPR batches; model '${inp.model.name}' trains on '${inp.memorized.kind}' (use "loss")`);
  }
  if (inp.path !== "general" && linearRowsFor(inp.model, [source, inp.memorized]) !== null) return linearMetaGradient(inp, o); // same numbers, closed form
  if (inp.path !== "general" && inp.model.perSampleGradients !== undefined) {
    const fast = factoredMetaGradient(inp, o); // same numbers from per-sample gradient factors; null: the hook declines (dropout drawn)
    if (fast !== null) return fast;
  }
  const psi = psiOf(inp.net);
  const f = (): tf.Scalar =>
    metaObjective(inp.model, inp.params, source, inp.memorized, (l) => weights(psi.byName, l), o.eta1, inp.mode, inp.selection, o.selectionLevel);
  try {
    const xs = learned ? [...psi.tensors] : [];
    if (inp.selection !== undefined) xs.push(inp.selection);
    if (xs.length === 0) {
      if (!o.metaLossWhenFrozen) return { metaLoss: null, psiGrads: null, selectionGrad: null };
      const v = tf.tidy(f);
      const metaLoss = v.dataSync()[0];
      v.dispose();
      return { metaLoss, psiGrads: null, selectionGrad: null };
    }
    const { value, grads } = tf.engine().gradients(f, xs, undefined, true);
    try {
      const read = (g: tf.Tensor | null | undefined, like: tf.Tensor): Float32Array => (g == null ? new Float32Array(like.size) : (g.dataSync().slice() as Float32Array));
      const psiGrads = learned ? psi.tensors.map((t, i) => read(grads[i], t)) : null;
      const selectionGrad = inp.selection !== undefined ? read(grads[xs.length - 1], inp.selection) : null;
      return { metaLoss: value.dataSync()[0], psiGrads, selectionGrad };
    } finally {
      value.dispose();
      for (const g of grads) if (g != null) g.dispose();
    }
  } finally {
    tf.dispose(psi.tensors);
  }
}

/**
 * One SGDL Phase II step on (B_t, B_m): meta loss and exact meta-gradient
 * (Eq. 7-8), psi's Adam step (learned only), then the actual update of theta
 * with the new weights (Eq. 9). Disposes every tensor it makes.
 */
export function metaStep(inp: MetaStepInputs, options: Partial<MetaStepOptions> = {}): MetaStepResult {
  if (inp.train.kind !== inp.memorized.kind) throw new Error(`meta step: training batch is '${inp.train.kind}' but memorized batch is '${inp.memorized.kind}'`);
  const path = inp.actualUpdate ?? actualUpdateDefault.path;
  if (path !== "auto" && path !== "autodiff") throw new Error(`meta step: actualUpdate must be "auto" or "autodiff", got ${JSON.stringify(path)}`);
  const o = resolveMetaOptions(options, inp.optimizer.lr);
  const { metaLoss, psiGrads, selectionGrad } = metaGradient(inp, o);
  if (metaLoss !== null && !Number.isFinite(metaLoss)) throw new Error(`meta step: the meta loss is ${metaLoss}`);

  let psiGradNorm: number | null = null;
  if (psiGrads !== null) {
    let s = 0;
    for (const g of psiGrads) for (const x of g) s += x * x;
    psiGradNorm = Math.sqrt(s);
    const list = inp.net.params.list();
    inp.metaOptimizer.lr = o.metaLr;
    inp.metaOptimizer.step(list.map((p, i): [Param, ParamGradient] => [p, { kind: "dense", grad: psiGrads[i] }])); // Eq. 8
  }

  // Eq. 9 with the new psi: weights of the detached losses (in the autodiff path a constant factor in the tape)
  const psi = psiOf(inp.net);
  const clock = inp.clock ?? ((): number => performance.now());
  const t0 = clock();
  let w = new Float32Array(0);
  let l = new Float32Array(0);
  const objective: Objective = (losses) => {
    const wt = weights(psi.byName, losses);
    w = wt.dataSync().slice() as Float32Array;
    l = losses.dataSync().slice() as Float32Array;
    return tf.mean(tf.mul(wt, losses)) as tf.Scalar;
  };
  try {
    if (path === "auto" && inp.actualStep === undefined) {
      const fast = factoredActualUpdate(inp, (losses) => weights(psi.byName, losses)); // null: no factors here (e.g. dropout drawn)
      if (fast !== null) {
        const done = { loss: fast.loss, size: fast.size, weights: fast.weights, losses: fast.losses };
        return { ...done, metaLoss, psiGradNorm, selectionGrad, actualUpdate: "factored", actualUpdateMs: clock() - t0 };
      }
    }
    const step = inp.actualStep ?? ((b: Batch, obj: Objective) => gradientStep(inp.model, inp.params, inp.optimizer, b, inp.mode, obj));
    const res = step(inp.train, objective);
    return { loss: res.loss, size: res.size, metaLoss, weights: w, losses: l, psiGradNorm, selectionGrad, actualUpdate: "autodiff", actualUpdateMs: clock() - t0 };
  } finally {
    tf.dispose(psi.tensors);
  }
}
