/**
 * NeuMF (He et al., 2017) as T-CE's "NeuMF-end" (sgdl-reference 10.3), trained
 * with per-sample BCE on (user, item, label) pairs (paper 4.1.3-4.1.4):
 *   GMF:  p_u^G * q_i^G                                   [factors]
 *   MLP:  [p_u^M, q_i^M] -> (Dropout, Linear, ReLU) x layers, halving   [factors]
 *   logit = [GMF, MLP] . h + b                            (predict layer)
 * with MLP embeddings of factors * 2^(layers-1) (128 for 32 / 3). Weights are
 * stored [in x out] (x W, not PyTorch's W x). Full ranking splits the first MLP
 * layer into a user half and an item half, so the item half is computed once.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng";
import { bceLoss } from "./losses";
import type { Batch, BlockScorer, ForwardMode, LeafSpec, LeafTensors, Model, ModelContext, ModelInstance } from "./model";
import { neumfPerSampleGradients } from "./neumf-per-sample";
import { gatherRowsArray, ParamStore, type Param } from "./ops/embedding-table";
import type { PerSampleGradientSource } from "./per-sample-gradients";

export interface NeuMFConfig {
  /** GMF embedding size and the MLP's output size (paper: 32). */
  factors: number;
  /** MLP layers (paper: 3); MLP embeddings are factors * 2^(layers-1). */
  layers: number;
  /** Dropout before each MLP Linear, training only (T-CE: 0). */
  dropout: number;
  /** Adam learning rate (paper 4.1.4: 0.001); read by the trainer. */
  lr: number;
}

export const NEUMF_DEFAULTS: NeuMFConfig = { factors: 32, layers: 3, dropout: 0, lr: 1e-3 };

/** Pairs per chunk of the full-ranking MLP tower (bounds the [pairs x 128] intermediate). */
const SCORE_CHUNK_PAIRS = 8192;

/** NeuMF with its own per-sample logits exposed for tests and methods that need predictions. */
export interface NeuMFInstance extends ModelInstance {
  model: NeuMFModel;
}

/** A NeuMF model with T-CE's initialisation, its parameters drawn from rng. */
export function createNeuMF(ctx: ModelContext, cfg: Partial<NeuMFConfig>, rng: Rng): NeuMFInstance {
  const c: NeuMFConfig = { ...NEUMF_DEFAULTS, ...cfg };
  checkConfig(c);
  const mlpDim = c.factors * 2 ** (c.layers - 1);
  const params = new ParamStore();
  const emb = { kind: "normal", std: 0.01 } as const; // T-CE: nn.init.normal_(std=0.01)
  params.add("userGmf", "table", [ctx.nUsers, c.factors], emb, rng);
  params.add("itemGmf", "table", [ctx.nItems, c.factors], emb, rng);
  params.add("userMlp", "table", [ctx.nUsers, mlpDim], emb, rng);
  params.add("itemMlp", "table", [ctx.nItems, mlpDim], emb, rng);
  for (let l = 1; l <= c.layers; l++) {
    const fanIn = 2 * mlpDim / 2 ** (l - 1); // T-CE: factor_num * 2^(num_layers - i), i = l - 1
    params.add(`mlpW${l}`, "dense", [fanIn, fanIn / 2], { kind: "xavier-uniform" }, rng);
    params.add(`mlpB${l}`, "dense", [fanIn / 2], { kind: "zeros" }, rng);
  }
  // PyTorch kaiming_uniform_(w, a=1, nonlinearity='sigmoid'): gain = calculate_gain('sigmoid') = 1
  // (a only matters for leaky_relu), std = gain / sqrt(fan_in), bound = sqrt(3) * std = sqrt(3 / fan_in).
  const predictFanIn = 2 * c.factors;
  params.add("predictW", "dense", [predictFanIn, 1], { kind: "uniform", bound: Math.sqrt(3 / predictFanIn) }, rng);
  params.add("predictB", "dense", [1], { kind: "zeros" }, rng);
  return { model: new NeuMFModel(ctx, c, mlpDim), params };
}

function checkConfig(c: NeuMFConfig): void {
  if (!Number.isInteger(c.factors) || c.factors < 1) throw new RangeError(`NeuMF: factors must be a positive integer, got ${c.factors}`);
  if (!Number.isInteger(c.layers) || c.layers < 1) throw new RangeError(`NeuMF: layers must be a positive integer, got ${c.layers}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new RangeError(`NeuMF: dropout must be in [0, 1), got ${c.dropout}`);
  if (!(c.lr > 0)) throw new RangeError(`NeuMF: lr must be positive, got ${c.lr}`);
}

/** A leaf by key, or an error naming the model and the key. */
function leafOf(leaves: LeafTensors, key: string): tf.Tensor {
  const t = leaves[key];
  if (t === undefined) throw new Error(`NeuMF: missing leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  return t;
}

/** The user half of the first MLP layer: userMlp W1[0:mlpDim] [rows x h1] (no bias). */
export function userFirstLayer(userMlp: tf.Tensor2D, w1: tf.Tensor2D): tf.Tensor2D {
  const d = userMlp.shape[1];
  return tf.matMul(userMlp, tf.slice(w1, [0, 0], [d, -1]));
}

/** The item half of the first MLP layer plus its bias: itemMlp W1[mlpDim:] + b1 [rows x h1]. */
export function itemFirstLayer(itemMlp: tf.Tensor2D, w1: tf.Tensor2D, b1: tf.Tensor1D): tf.Tensor2D {
  const d = itemMlp.shape[1];
  return tf.add(tf.matMul(itemMlp, tf.slice(w1, [d, 0], [d, -1])), b1);
}

export class NeuMFModel implements Model {
  readonly name = "neumf";
  readonly loss = "bce";
  /** Per-sample gradients in factored form from one hand-written pass (neumf-per-sample.ts); null while dropout is drawn. */
  readonly perSampleGradients: PerSampleGradientSource = {
    applies: (mode) => !(mode.training && this.config.dropout > 0),
    gradients: (leaves, batch, mode) => neumfPerSampleGradients({ ...this.config, mlpDim: this.mlpDim }, leaves, batch, mode),
  };

  constructor(
    private readonly ctx: ModelContext,
    readonly config: NeuMFConfig,
    readonly mlpDim: number,
  ) {}

  leaves(batch: Batch): LeafSpec[] {
    const b = bceBatch(batch);
    const out: LeafSpec[] = [
      { key: "userGmf", param: "userGmf", rows: b.users },
      { key: "itemGmf", param: "itemGmf", rows: b.items },
      { key: "userMlp", param: "userMlp", rows: b.users },
      { key: "itemMlp", param: "itemMlp", rows: b.items },
    ];
    for (let l = 1; l <= this.config.layers; l++) out.push({ key: `mlpW${l}`, param: `mlpW${l}` }, { key: `mlpB${l}`, param: `mlpB${l}` });
    out.push({ key: "predictW", param: "predictW" }, { key: "predictB", param: "predictB" });
    return out;
  }

  /** Per-sample logits [batch] from the leaf tensors (the unsplit first layer, as in training). */
  logits(leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D {
    const b = bceBatch(batch);
    const n = b.users.length;
    const gmf = tf.mul(leafOf(leaves, "userGmf"), leafOf(leaves, "itemGmf"));
    let h: tf.Tensor = tf.concat([leafOf(leaves, "userMlp"), leafOf(leaves, "itemMlp")], 1);
    for (let l = 1; l <= this.config.layers; l++) {
      h = this.dropout(h as tf.Tensor2D, mode);
      h = tf.relu(tf.add(tf.matMul(h as tf.Tensor2D, leafOf(leaves, `mlpW${l}`) as tf.Tensor2D), leafOf(leaves, `mlpB${l}`)));
    }
    const joint = tf.concat([gmf, h], 1) as tf.Tensor2D;
    const y = tf.add(tf.matMul(joint, leafOf(leaves, "predictW") as tf.Tensor2D), leafOf(leaves, "predictB"));
    return tf.reshape(y, [n]);
  }

  losses(leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D {
    const b = bceBatch(batch);
    return bceLoss(this.logits(leaves, b, mode), tf.tensor1d(b.labels));
  }

  /** Inverted dropout with a mask drawn from mode.rng (identity when off). */
  private dropout(x: tf.Tensor2D, mode: ForwardMode): tf.Tensor2D {
    const p = this.config.dropout;
    if (!mode.training || p === 0) return x;
    const mask = new Float32Array(x.shape[0] * x.shape[1]);
    const keep = 1 / (1 - p);
    for (let k = 0; k < mask.length; k++) mask[k] = mode.rng.next() < p ? 0 : keep;
    return tf.mul(x, tf.tensor2d(mask, x.shape));
  }

  scorer(params: ParamStore): BlockScorer {
    const { nItems } = this.ctx;
    const f = this.config.factors;
    const d = this.mlpDim;
    // a snapshot: later parameter updates do not reach this scorer; kept in JS arrays
    // because a BlockScorer has no dispose hook for tensors it would hold
    const copy = (name: string): Param => {
      const p = params.get(name);
      return { ...p, data: p.data.slice() };
    };
    const userGmf = copy("userGmf");
    const userMlp = copy("userMlp");
    const w1 = copy("mlpW1");
    const h1 = w1.shape[1];
    const itemHalf = tf.tidy(() =>
      itemFirstLayer(tensorOf(params.get("itemMlp")) as tf.Tensor2D, tensorOf(w1) as tf.Tensor2D, tensorOf(params.get("mlpB1")) as tf.Tensor1D).dataSync(),
    ) as Float32Array;
    const itemGmfT = transposeArray(params.get("itemGmf").data, nItems, f);
    const tower: Param[][] = [];
    for (let l = 2; l <= this.config.layers; l++) tower.push([copy(`mlpW${l}`), copy(`mlpB${l}`)]);
    const pw = params.get("predictW").data;
    const gmfWeight = pw.slice(0, f);
    const mlpWeight = pw.slice(f, 2 * f);
    const bias = params.get("predictB").data[0];
    const chunkUsers = Math.max(1, Math.floor(SCORE_CHUNK_PAIRS / nItems));

    return (users: Int32Array): Float32Array => {
      const out = new Float32Array(users.length * nItems);
      tf.tidy(() => {
        const itemHalfT = tf.tensor3d(itemHalf, [1, nItems, h1]);
        const itemGmfTT = tf.tensor2d(itemGmfT, [f, nItems]);
        const w1T = tensorOf(w1) as tf.Tensor2D;
        const layers = tower.map(([w, b]) => ({ w: tensorOf(w) as tf.Tensor2D, b: tensorOf(b) as tf.Tensor1D }));
        const mlpW = tf.tensor2d(mlpWeight, [f, 1]);
        const gmfW = tf.tensor1d(gmfWeight);
        for (let c0 = 0; c0 < users.length; c0 += chunkUsers) {
          const chunk = users.subarray(c0, Math.min(c0 + chunkUsers, users.length));
          const m = chunk.length;
          const scores = tf.tidy(() => {
            const uHalf = userFirstLayer(tf.tensor2d(gatherRowsArray(userMlp, chunk), [m, d]), w1T);
            // h1[u, i] = ReLU(p_u^M W1u + q_i^M W1i + b1): the unsplit layer on [p_u^M, q_i^M]
            let h = tf.reshape(tf.relu(tf.add(tf.reshape(uHalf, [m, 1, h1]), itemHalfT)), [m * nItems, h1]) as tf.Tensor2D;
            for (const layer of layers) h = tf.fused.matMul({ a: h, b: layer.w, bias: layer.b, activation: "relu" }) as tf.Tensor2D;
            const mlpPart = tf.reshape(tf.matMul(h, mlpW), [m, nItems]);
            // (p_u^G * q_i^G) . h_G = (p_u^G * h_G) . q_i^G, for all items at once
            const uG = tf.mul(tf.tensor2d(gatherRowsArray(userGmf, chunk), [m, f]), gmfW);
            const gmfPart = tf.matMul(uG, itemGmfTT);
            return tf.add(tf.add(mlpPart, gmfPart), bias);
          });
          out.set(scores.dataSync(), c0 * nItems);
          scores.dispose();
        }
      });
      return out;
    };
  }

  describe(): Record<string, string | number | boolean> {
    const widths: number[] = [];
    for (let w = 2 * this.mlpDim, l = 0; l <= this.config.layers; l++, w /= 2) widths.push(w);
    return {
      model: "neumf",
      variant: "T-CE NeuMF-end",
      factors: this.config.factors,
      mlpEmbedding: this.mlpDim,
      mlp: widths.join("-"),
      dropout: this.config.dropout,
      loss: "bce",
      init: "embeddings N(0, 0.01^2); MLP xavier-uniform; predict kaiming-uniform(a=1, sigmoid) bound sqrt(3/fan_in); biases 0",
      scoring: "first MLP layer split into user and item halves",
    };
  }
}

/** The batch as a BCE batch, or an error (NeuMF trains on BCE pairs). */
function bceBatch(batch: Batch): Extract<Batch, { kind: "bce" }> {
  if (batch.kind !== "bce") throw new Error(`NeuMF: needs a BCE batch (user, item, label), got '${batch.kind}'`);
  return batch;
}

/** The whole parameter as a tensor (may share its array on cpu: read-only use inside one tidy). */
function tensorOf(p: Param): tf.Tensor {
  return tf.tensor(p.data, [...p.shape]);
}

/** A row-major [rows x cols] array transposed to [cols x rows]. */
export function transposeArray(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}
