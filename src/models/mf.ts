/**
 * Plain matrix factorisation: score(u, i) = p_u . q_i, trained with per-sample
 * BPR, softplus(s_neg - s_pos), on (user, positive, negative) triples, or with
 * per-sample BCE on (user, item, label) pairs when configured so. The simplest
 * model: for quick tests of the trainer and methods, and as a plain base model.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng";
import { bceLoss, bprLoss } from "./losses";
import type { Batch, BlockScorer, ForwardMode, LeafSpec, LeafTensors, LossKind, Model, ModelContext, ModelInstance } from "./model";
import { gatherRowsArray, ParamStore } from "./ops/embedding-table";

export interface MFConfig {
  /** Embedding size. */
  dim: number;
  /** Standard deviation of the normal initialisation. */
  initStd: number;
  /** Training loss: BPR on triples (default) or BCE on labelled pairs. */
  loss: LossKind;
  /** Adam learning rate; read by the trainer. */
  lr: number;
}

export const MF_DEFAULTS: MFConfig = { dim: 64, initStd: 0.1, loss: "bpr", lr: 1e-3 };

/** MF with its per-sample scores exposed. */
export interface MFInstance extends ModelInstance {
  model: MFModel;
}

/** An MF model with tables "userEmb" and "itemEmb" drawn N(0, initStd^2) from rng. */
export function createMF(ctx: ModelContext, cfg: Partial<MFConfig>, rng: Rng): MFInstance {
  const c: MFConfig = { ...MF_DEFAULTS, ...cfg };
  if (!Number.isInteger(c.dim) || c.dim < 1) throw new RangeError(`MF: dim must be a positive integer, got ${c.dim}`);
  if (!(c.initStd >= 0)) throw new RangeError(`MF: initStd must be >= 0, got ${c.initStd}`);
  if (c.loss !== "bpr" && c.loss !== "bce") throw new RangeError(`MF: loss must be 'bpr' or 'bce', got '${String(c.loss)}'`);
  if (!(c.lr > 0)) throw new RangeError(`MF: lr must be positive, got ${c.lr}`);
  const params = new ParamStore();
  params.add("userEmb", "table", [ctx.nUsers, c.dim], { kind: "normal", std: c.initStd }, rng);
  params.add("itemEmb", "table", [ctx.nItems, c.dim], { kind: "normal", std: c.initStd }, rng);
  return { model: new MFModel(ctx, c), params };
}

export class MFModel implements Model {
  readonly name = "mf";
  readonly loss: LossKind;

  constructor(
    private readonly ctx: ModelContext,
    readonly config: MFConfig,
  ) {
    this.loss = config.loss;
  }

  leaves(batch: Batch): LeafSpec[] {
    this.check(batch);
    if (batch.kind === "bpr") {
      return [
        { key: "user", param: "userEmb", rows: batch.users },
        { key: "itemPos", param: "itemEmb", rows: batch.pos },
        { key: "itemNeg", param: "itemEmb", rows: batch.neg },
      ];
    }
    return [
      { key: "user", param: "userEmb", rows: batch.users },
      { key: "item", param: "itemEmb", rows: batch.items },
    ];
  }

  /** Per-sample scores p_u . q_i [batch]: of the positives for a BPR batch, of the items for a BCE batch. */
  scores(leaves: LeafTensors, batch: Batch): tf.Tensor1D {
    this.check(batch);
    return dot(leafOf(leaves, "user"), leafOf(leaves, batch.kind === "bpr" ? "itemPos" : "item"));
  }

  losses(leaves: LeafTensors, batch: Batch, _mode: ForwardMode): tf.Tensor1D {
    this.check(batch);
    const u = leafOf(leaves, "user");
    if (batch.kind === "bpr") {
      return bprLoss(dot(u, leafOf(leaves, "itemPos")), dot(u, leafOf(leaves, "itemNeg")));
    }
    return bceLoss(dot(u, leafOf(leaves, "item")), tf.tensor1d(batch.labels));
  }

  scorer(params: ParamStore): BlockScorer {
    const { nItems } = this.ctx;
    const d = this.config.dim;
    const userParam = params.get("userEmb");
    const users = { ...userParam, data: userParam.data.slice() }; // a snapshot: later updates do not reach this scorer
    const items = params.get("itemEmb").data;
    const itemT = new Float32Array(d * nItems); // q^T [dim x nItems], so the matmul needs no transpose flag
    for (let i = 0; i < nItems; i++) for (let j = 0; j < d; j++) itemT[j * nItems + i] = items[i * d + j];
    return (block: Int32Array): Float32Array => {
      const s = tf.tidy(() => tf.matMul(tf.tensor2d(gatherRowsArray(users, block), [block.length, d]), tf.tensor2d(itemT, [d, nItems])));
      const out = s.dataSync() as Float32Array;
      s.dispose();
      return out;
    };
  }

  describe(): Record<string, string | number | boolean> {
    return { model: "mf", dim: this.config.dim, loss: this.loss, init: `userEmb, itemEmb N(0, ${this.config.initStd}^2)` };
  }

  private check(batch: Batch): void {
    if (batch.kind !== this.loss) throw new Error(`MF: configured for '${this.loss}' batches, got a '${batch.kind}' batch`);
  }
}

/** Row-wise dot products of two [n x d] tensors. */
function dot(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.mul(a, b), 1) as tf.Tensor1D;
}

/** A leaf by key, or an error naming the model and the key. */
function leafOf(leaves: LeafTensors, key: string): tf.Tensor {
  const t = leaves[key];
  if (t === undefined) throw new Error(`MF: missing leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  return t;
}
