/**
 * CDAE (Wu et al., WSDM'16), trained with per-sample BCE on (user, item, label)
 * pairs (paper 4.1.3-4.1.4: hidden 100, dropout 0.5):
 *   y~_u = corrupt(y_u)                 each training item dropped w.p. q, the rest scaled by 1/(1-q)
 *   h_u  = sigmoid(W^T y~_u + V_u + b)  [hidden]
 *   logit(u, i) = W'_i . h_u + b'_i
 * y_u is the user's whole training row, the target item included (as the
 * original CDAE: it reconstructs its own input). The hidden vector is computed
 * once per distinct user of a batch, from one corruption draw, and copied to
 * the user's positions by a sparse 0/1 selection (differentiable, unlike tf.gather on wasm).
 *
 * W^T y~_u runs as a sparse product over the rows of W that the batch's users
 * have interacted with: those rows are the encoder leaf, so W is updated lazily
 * like an embedding table (a whole-W leaf would copy, differentiate and
 * Adam-update all nItems rows every step for the same product).
 */
import * as tf from "@tensorflow/tfjs";
import type { Interactions } from "../data/interactions";
import type { Rng } from "../util/rng";
import { bceLoss } from "./losses";
import type { Batch, BlockScorer, ForwardMode, LeafSpec, LeafTensors, Model, ModelContext, ModelInstance } from "./model";
import type { Csr } from "./ops/csr";
import { gatherRowsArray, ParamStore } from "./ops/embedding-table";
import { SparseOperator, spmm, spmmArrays } from "./ops/spmm";

export interface CDAEConfig {
  /** Hidden units (paper: 100). */
  hidden: number;
  /** Input corruption (dropout) ratio q (paper: 0.5), training only. */
  dropout: number;
  /** Adam learning rate (paper 4.1.4: 0.001); read by the trainer. */
  lr: number;
}

export const CDAE_DEFAULTS: CDAEConfig = { hidden: 100, dropout: 0.5, lr: 1e-3 };

/** Users scored per chunk of the full ranking. */
const SCORE_CHUNK_USERS = 256;

/** CDAE with its own per-sample logits exposed for tests and methods that need predictions. */
export interface CDAEInstance extends ModelInstance {
  model: CDAEModel;
}

/** A CDAE model, weights Xavier-uniform (paper 4.1.4) and biases 0, drawn from rng. */
export function createCDAE(ctx: ModelContext, cfg: Partial<CDAEConfig>, rng: Rng): CDAEInstance {
  const c: CDAEConfig = { ...CDAE_DEFAULTS, ...cfg };
  if (!Number.isInteger(c.hidden) || c.hidden < 1) throw new RangeError(`CDAE: hidden must be a positive integer, got ${c.hidden}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new RangeError(`CDAE: dropout must be in [0, 1), got ${c.dropout}`);
  if (!(c.lr > 0)) throw new RangeError(`CDAE: lr must be positive, got ${c.lr}`);
  if (ctx.train.nUsers !== ctx.nUsers || ctx.train.nItems !== ctx.nItems) {
    throw new Error(`CDAE: train is ${ctx.train.nUsers} x ${ctx.train.nItems}, context says ${ctx.nUsers} x ${ctx.nItems}`);
  }
  const params = new ParamStore();
  const xavier = { kind: "xavier-uniform" } as const;
  params.add("encoderW", "table", [ctx.nItems, c.hidden], xavier, rng); // W, one row per input item
  params.add("userNode", "table", [ctx.nUsers, c.hidden], xavier, rng); // V_u
  params.add("encoderB", "dense", [c.hidden], { kind: "zeros" }, rng); // b
  params.add("decoderW", "table", [ctx.nItems, c.hidden], xavier, rng); // W'_i
  params.add("decoderB", "table", [ctx.nItems, 1], { kind: "zeros" }, rng); // b'_i
  return { model: new CDAEModel(ctx, c), params };
}

/**
 * sigmoid(x) as a custom op whose gradient recomputes sigmoid from the saved
 * INPUT through this same op, so it can be differentiated any number of times.
 * tf.sigmoid's own gradient reads its saved output, whose tape node is recorded
 * before the sigmoid's, so a second derivative silently misses that path (tfjs 4.22).
 */
export function sigmoidAnyOrder(x: tf.Tensor): tf.Tensor {
  return sigmoidOp(x);
}

const sigmoidOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0];
  const save = args[1];
  if (!(x instanceof tf.Tensor) || typeof save !== "function") throw new Error("sigmoidAnyOrder: expected a tensor");
  save([x]);
  return {
    value: tf.sigmoid(x),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const s = sigmoidAnyOrder(saved[0]);
      return tf.mul(dy as tf.Tensor, tf.mul(s, tf.sub(1, s))); // sigmoid' = s (1 - s)
    },
  };
});

/**
 * What a batch reads, fixed by its users alone: the distinct users (first
 * appearance order), each position's slot among them, the encoder rows (the
 * sorted union of the distinct users' training items) and the 0/1 selection
 * S [positions x distinct] that copies a user's hidden vector to its positions.
 */
export interface CDAEBatchPlan {
  distinct: Int32Array;
  slot: Int32Array;
  items: Int32Array;
  select: SparseOperator;
}

/** The plan of a batch of users (see CDAEBatchPlan). */
export function batchPlan(train: Interactions, users: Int32Array): CDAEBatchPlan {
  const slotOf = new Map<number, number>();
  const distinct: number[] = [];
  const slot = new Int32Array(users.length);
  users.forEach((u, n) => {
    if (!(u >= 0 && u < train.nUsers)) throw new RangeError(`CDAE: user ${u} outside [0, ${train.nUsers})`);
    let s = slotOf.get(u);
    if (s === undefined) {
      s = distinct.length;
      slotOf.set(u, s);
      distinct.push(u);
    }
    slot[n] = s;
  });
  const seen = new Uint8Array(train.nItems);
  let nItems = 0;
  for (const u of distinct) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      if (seen[train.items[k]] === 0) {
        seen[train.items[k]] = 1;
        nItems++;
      }
    }
  }
  const items = new Int32Array(nItems);
  for (let i = 0, o = 0; i < train.nItems; i++) if (seen[i] === 1) items[o++] = i;
  const indptr = Int32Array.from({ length: users.length + 1 }, (_, n) => n);
  const select = SparseOperator.of({ rows: users.length, cols: distinct.length, indptr, indices: slot, values: new Float32Array(users.length).fill(1) });
  return { distinct: Int32Array.from(distinct), slot, items, select };
}

/**
 * The (corrupted) input rows y~_u, one per given user, as a Csr [users.length x
 * items.length] whose columns index `items` (ascending, holding every item of
 * these users). In training mode with q > 0 each training item is dropped with
 * probability q (draws from mode.rng: users in order, items ascending) and kept
 * ones are 1/(1-q); otherwise every training item is 1 and no draw is made.
 */
export function corruptedInput(train: Interactions, users: Int32Array, items: Int32Array, q: number, mode: ForwardMode): Csr {
  const colOf = new Int32Array(train.nItems).fill(-1);
  items.forEach((i, c) => (colOf[i] = c));
  const corrupt = mode.training && q > 0;
  const keep = corrupt ? 1 / (1 - q) : 1;
  const indptr = new Int32Array(users.length + 1);
  const cols: number[] = [];
  users.forEach((u, r) => {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      if (corrupt && mode.rng.next() < q) continue;
      const c = colOf[train.items[k]];
      if (c < 0) throw new Error(`CDAE: user ${u}'s item ${train.items[k]} is not among the input items`);
      cols.push(c);
    }
    indptr[r + 1] = cols.length;
  });
  return { rows: users.length, cols: items.length, indptr, indices: Int32Array.from(cols), values: new Float32Array(cols.length).fill(keep) };
}

export class CDAEModel implements Model {
  readonly name = "cdae";
  readonly loss = "bce";
  /** Plans per batch object, so leaves() and losses() agree without recomputing. */
  private readonly plans = new WeakMap<Batch, CDAEBatchPlan>();

  constructor(
    private readonly ctx: ModelContext,
    readonly config: CDAEConfig,
  ) {}

  private plan(batch: Batch): CDAEBatchPlan {
    let p = this.plans.get(batch);
    if (p === undefined) {
      p = batchPlan(this.ctx.train, bceBatch(batch).users);
      this.plans.set(batch, p);
    }
    return p;
  }

  leaves(batch: Batch): LeafSpec[] {
    const b = bceBatch(batch);
    const p = this.plan(b);
    return [
      { key: "encoderW", param: "encoderW", rows: p.items },
      { key: "userNode", param: "userNode", rows: p.distinct },
      { key: "encoderB", param: "encoderB" },
      { key: "decoderW", param: "decoderW", rows: b.items },
      { key: "decoderB", param: "decoderB", rows: b.items },
    ];
  }

  /**
   * Per-sample logits [batch] from the leaf tensors; corruption on in training
   * mode, drawn once per distinct user, whose hidden vector all its positions share.
   */
  logits(leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D {
    const b = bceBatch(batch);
    const n = b.users.length;
    const p = this.plan(b);
    const w = leafOf(leaves, "encoderW") as tf.Tensor2D;
    if (w.shape[0] !== p.items.length) throw new Error(`CDAE: leaf 'encoderW' has ${w.shape[0]} rows, the batch reads ${p.items.length}`);
    const input = SparseOperator.of(corruptedInput(this.ctx.train, p.distinct, p.items, this.config.dropout, mode));
    const z = tf.add(tf.add(spmm(input, w), leafOf(leaves, "userNode")), leafOf(leaves, "encoderB"));
    const h = spmm(p.select, sigmoidAnyOrder(z) as tf.Tensor2D); // h_u = sigmoid(W^T y~_u + V_u + b), per position
    const dot = tf.sum(tf.mul(h, leafOf(leaves, "decoderW")), 1);
    return tf.add(dot, tf.reshape(leafOf(leaves, "decoderB"), [n]));
  }

  losses(leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D {
    const b = bceBatch(batch);
    return bceLoss(this.logits(leaves, b, mode), tf.tensor1d(b.labels));
  }

  scorer(params: ParamStore): BlockScorer {
    const { nItems, train } = this.ctx;
    const hidden = this.config.hidden;
    // a snapshot: later parameter updates do not reach this scorer
    const w = params.get("encoderW").data.slice();
    const userNodeParam = params.get("userNode");
    const userNode = { ...userNodeParam, data: userNodeParam.data.slice() };
    const b = params.get("encoderB").data.slice();
    const decoderT = new Float32Array(hidden * nItems); // W'^T [hidden x nItems]
    const dw = params.get("decoderW").data;
    for (let i = 0; i < nItems; i++) for (let j = 0; j < hidden; j++) decoderT[j * nItems + i] = dw[i * hidden + j];
    const decoderB = params.get("decoderB").data.slice();

    return (users: Int32Array): Float32Array => {
      const out = new Float32Array(users.length * nItems);
      for (let c0 = 0; c0 < users.length; c0 += SCORE_CHUNK_USERS) {
        const chunk = users.subarray(c0, Math.min(c0 + SCORE_CHUNK_USERS, users.length));
        const m = chunk.length;
        // hidden from the uncorrupted input: h_u = sigmoid(W^T y_u + V_u + b)
        const z = spmmArrays(trainRows(train, chunk), w, hidden);
        const v = gatherRowsArray(userNode, chunk);
        for (let r = 0; r < m; r++) {
          for (let j = 0; j < hidden; j++) {
            const k = r * hidden + j;
            z[k] = 1 / (1 + Math.exp(-(z[k] + v[k] + b[j])));
          }
        }
        const scores = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(z, [m, hidden]), tf.tensor2d(decoderT, [hidden, nItems])), tf.tensor1d(decoderB)));
        out.set(scores.dataSync(), c0 * nItems);
        scores.dispose();
      }
      return out;
    };
  }

  describe(): Record<string, string | number | boolean> {
    return {
      model: "cdae",
      hidden: this.config.hidden,
      dropout: this.config.dropout,
      loss: "bce",
      input: "whole training row, target item included (original CDAE); corruption once per distinct user per batch",
      encoder: "sparse product over the batch users' item rows (lazy rows of W), hidden once per distinct user",
      init: "W, V, W' xavier-uniform; biases 0",
    };
  }
}

/** The users' uncorrupted training rows y_u as a Csr [users.length x nItems] of ones. */
export function trainRows(train: Interactions, users: Int32Array): Csr {
  const indptr = new Int32Array(users.length + 1);
  for (let r = 0; r < users.length; r++) indptr[r + 1] = indptr[r] + train.indptr[users[r] + 1] - train.indptr[users[r]];
  const indices = new Int32Array(indptr[users.length]);
  for (let r = 0; r < users.length; r++) indices.set(train.items.subarray(train.indptr[users[r]], train.indptr[users[r] + 1]), indptr[r]);
  return { rows: users.length, cols: train.nItems, indptr, indices, values: new Float32Array(indices.length).fill(1) };
}

/** The batch as a BCE batch, or an error (CDAE trains on BCE pairs). */
function bceBatch(batch: Batch): Extract<Batch, { kind: "bce" }> {
  if (batch.kind !== "bce") throw new Error(`CDAE: needs a BCE batch (user, item, label), got '${batch.kind}'`);
  return batch;
}

/** A leaf by key, or an error naming the model and the key. */
function leafOf(leaves: LeafTensors, key: string): tf.Tensor {
  const t = leaves[key];
  if (t === undefined) throw new Error(`CDAE: missing leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  return t;
}
