/**
 * Adam (Kingma & Ba, 2015) on Float32Array parameters (models/ops/embedding-table.ts):
 * a dense update for gradients over a whole parameter, and a lazy row-wise
 * update for gradients over the rows a batch touched (TF's LazyAdam): untouched
 * rows keep their values and moments. One global step counter t, incremented
 * once per step() for all parameters, drives the bias correction (as TF's
 * optimizer iterations; PyTorch counts per parameter). The update is
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
 *   theta -= lr * mhat / (sqrt(vhat) + eps),  mhat = m / (1-b1^t), vhat = v / (1-b2^t)
 * with eps outside the square root, as PyTorch's and tfjs's Adam.
 * The moments live in the optimizer, not in the parameters: a new Adam starts
 * from zero moments and t = 0 (the official code re-creates its optimizers at
 * every Phase II epoch).
 */
import { scatterAddRows, tableDims, type Param, type ParamStore } from "../models/ops/embedding-table";

/** The optimizer semantics, for result records. */
export const OPTIMIZER_SEMANTICS = "adam-dense+lazy-rows/tf-lazyadam(global-t,eps-outside-sqrt)";

export interface AdamOptions {
  lr: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8 (PyTorch's; tfjs's default is 1e-7). */
  eps?: number;
}

/** A gradient over a whole parameter (dense update), or over some of a table's rows (lazy update). */
export type ParamGradient =
  | { kind: "dense"; grad: Float32Array }
  | { kind: "rows"; rows: Int32Array; grad: Float32Array };

/** Hyperparameters and bias corrections of one step. */
interface StepConsts {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  /** 1 - b1^t */
  c1: number;
  /** 1 - b2^t */
  c2: number;
}

/** Adam moments of one parameter. */
export interface AdamMoments {
  m: Float32Array;
  v: Float32Array;
}

/**
 * Everything a later step depends on, by parameter name (for a checkpoint):
 * the step counter, lr, the hyperparameters and the moments of each parameter
 * that has had a gradient. The lazy update keeps no per-row bookkeeping (one
 * global t; untouched rows keep their moments), so the moments are all of it.
 */
export interface AdamState {
  t: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** One entry per parameter with moments, in the order they were first updated. */
  moments: { name: string; m: Float32Array; v: Float32Array }[];
}

/** Adam over Float32Array parameters; dense or lazy per gradient. */
export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private t = 0;
  private readonly state = new Map<Param, AdamMoments>();

  constructor(opts: AdamOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  /** Steps taken so far (the t of the bias correction). */
  get iterations(): number {
    return this.t;
  }

  /** The moments of a parameter, or undefined before its first gradient. */
  moments(p: Param): AdamMoments | undefined {
    return this.state.get(p);
  }

  /** A copy of the optimizer's state, its moments named after the parameters in `params` (each must be the store's own parameter). */
  exportState(params: ParamStore): AdamState {
    const moments: AdamState["moments"] = [];
    for (const [p, s] of this.state) {
      if (params.get(p.name) !== p) throw new Error(`Adam.exportState: parameter '${p.name}' has moments but is not the store's parameter of that name`);
      moments.push({ name: p.name, m: s.m.slice(), v: s.v.slice() });
    }
    return { t: this.t, lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, moments };
  }

  /** Replaces t, lr and all moments with a state from exportState, its names resolved in `params`; the hyperparameters must match. */
  importState(state: AdamState, params: ParamStore): void {
    for (const k of ["beta1", "beta2", "eps"] as const) {
      if (state[k] !== this[k]) throw new Error(`Adam.importState: ${k} is ${state[k]} in the state, ${this[k]} in this optimizer`);
    }
    if (!Number.isInteger(state.t) || state.t < 0) throw new RangeError(`Adam.importState: t must be a non-negative integer, got ${state.t}`);
    const next = new Map<Param, AdamMoments>();
    for (const { name, m, v } of state.moments) {
      const p = params.get(name);
      if (next.has(p)) throw new Error(`Adam.importState: moments of '${name}' given twice`);
      if (m.length !== p.data.length || v.length !== p.data.length) {
        throw new Error(`Adam.importState: moments of '${name}' have ${m.length}/${v.length} values, the parameter has ${p.data.length}`);
      }
      next.set(p, { m: m.slice(), v: v.slice() });
    }
    this.t = state.t;
    this.lr = state.lr;
    this.state.clear();
    for (const [p, s] of next) this.state.set(p, s);
  }

  /** One step: t += 1, then every given parameter is updated (dense or lazy rows); parameters not given are left alone. */
  step(grads: Iterable<readonly [Param, ParamGradient]>): void {
    this.t++;
    const k: StepConsts = {
      lr: this.lr,
      b1: this.beta1,
      b2: this.beta2,
      eps: this.eps,
      c1: 1 - Math.pow(this.beta1, this.t),
      c2: 1 - Math.pow(this.beta2, this.t),
    };
    const seen = new Set<Param>();
    for (const [p, g] of grads) {
      if (seen.has(p)) throw new Error(`Adam.step: parameter '${p.name}' given twice in one step`);
      seen.add(p);
      let s = this.state.get(p);
      if (s === undefined) {
        s = { m: new Float32Array(p.data.length), v: new Float32Array(p.data.length) };
        this.state.set(p, s);
      }
      if (g.kind === "dense") {
        if (g.grad.length !== p.data.length) {
          throw new Error(`Adam.step: gradient of '${p.name}' has ${g.grad.length} values, parameter has ${p.data.length}`);
        }
        adamSpan(p.data, s.m, s.v, g.grad, 0, 0, p.data.length, k);
      } else {
        lazyRows(p, s, g.rows, g.grad, k);
      }
    }
  }
}

/** The lazy update of the given rows; repeated rows are first summed (as TF's LazyAdam deduplicates). */
function lazyRows(p: Param, s: AdamMoments, rows: Int32Array, grad: Float32Array, k: StepConsts): void {
  const { rows: nRows, dim } = tableDims(p);
  if (grad.length !== rows.length * dim) {
    throw new Error(`Adam.step: row gradient of '${p.name}' has ${grad.length} values, expected ${rows.length} x ${dim}`);
  }
  const seen = new Set<number>();
  let repeated = false;
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n];
    if (!(r >= 0 && r < nRows)) throw new Error(`Adam.step: row ${r} outside table '${p.name}' [0, ${nRows})`);
    if (seen.has(r)) repeated = true;
    seen.add(r);
  }
  if (repeated) {
    const folded = scatterAddRows(dim, [{ idx: rows, grad }]);
    rows = folded.rows;
    grad = folded.grad;
  }
  for (let n = 0; n < rows.length; n++) adamSpan(p.data, s.m, s.v, grad, rows[n] * dim, n * dim, dim, k);
}

/** The Adam update of len consecutive coordinates: parameter/moments from offset at, gradient from offset gAt. */
function adamSpan(
  data: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grad: Float32Array,
  at: number,
  gAt: number,
  len: number,
  k: StepConsts,
): void {
  const { lr, b1, b2, eps, c1, c2 } = k;
  for (let j = 0; j < len; j++) {
    const g = grad[gAt + j];
    const i = at + j;
    const mi = b1 * m[i] + (1 - b1) * g;
    const vi = b2 * v[i] + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    data[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
  }
}
