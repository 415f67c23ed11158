/**
 * NGCF (Wang et al., SIGIR 2019) as a pure function of its parameters, in the
 * matrix form of the NGCF paper's Eq. 7 with a bias per layer:
 *   E_{k+1} = LeakyReLU((L + I) E_k W1_k + (L E_k ⊙ E_k) W2_k + b_k),
 * L = D^-1/2 A D^-1/2 the normalised adjacency, final = [E_0 | E_1 | ... | E_K]
 * (dim * (K + 1) columns), score = dot product, BPR loss. No official SGDL code
 * exists for NGCF (sgdl-reference.md §3.2); the SGDL paper (§4.1.4) gives
 * dim 64, 3 layers, node dropout 0.1, lr 1e-4.
 * Known differences from the official NGCF code, not reproduced here: it uses
 * L = D^-1 A + I, applies LeakyReLU to the two terms separately with a bias
 * each, and l2-normalises every layer's output before the concatenation.
 * NGCF is nonlinear, so it always propagates by SpMM.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng";
import { checkInt, embeddingInit } from "./lightgcn";
import { dotProductLosses } from "./losses";
import type { Batch, BlockScorer, ForwardMode, LeafSpec, LeafTensors, Model, ModelContext, ModelInstance } from "./model";
import { nnz, type Csr } from "./ops/csr";
import { ParamStore, paramTensor } from "./ops/embedding-table";
import { SparseOperator, spmm } from "./ops/spmm";
import { batchNodes, dotScores, graphOf, initialEmbeddings, selectRows, transposeDense } from "./propagation";

export interface NGCFConfig {
  /** Embedding size and every layer's width: 64 in the SGDL paper (§4.1.4). */
  dim: number;
  /** Propagation layers K: 3. */
  layers: number;
  /** Node dropout rate on L during training: 0.1 in the SGDL paper (§4.1.4), the only dropout it names. */
  nodeDropout: number;
  /**
   * "edge": every nonzero of L kept with probability 1 - p and scaled by 1 / (1 - p), as both official
   * NGCF codes implement "node dropout" (sparse dropout); "node": every node's outgoing messages
   * (its column of L) dropped together, as the NGCF paper describes it.
   */
  nodeDropoutMode: "edge" | "node";
  /** Message dropout on each layer's output during training (inverted dropout): NGCF's default 0.1; the SGDL paper does not mention it. */
  messageDropout: number;
  /** Negative slope of the LeakyReLU (NGCF: 0.2). */
  leakySlope: number;
  /** Embedding tables: Xavier-uniform (the paper's §4.1.4 and the official NGCF code) or N(0, 0.1^2). Weights and biases are always Xavier-uniform. */
  init: "xavier" | "normal0.1";
  /** For the trainer: 1e-4 in the SGDL paper (§4.1.4). */
  lr: number;
}

export const NGCF_DEFAULTS: Readonly<NGCFConfig> = {
  dim: 64,
  layers: 3,
  nodeDropout: 0.1,
  nodeDropoutMode: "edge",
  messageDropout: 0.1,
  leakySlope: 0.2,
  init: "xavier",
  lr: 1e-4,
};

/**
 * L with node dropout at rate p, drawn from rng: dropped entries removed, kept
 * ones scaled by 1 / (1 - p) so that the expectation is L.
 */
export function dropoutAdjacency(adj: Csr, rate: number, mode: "edge" | "node", rng: Rng): Csr {
  if (!(rate >= 0 && rate < 1)) throw new Error(`node dropout rate must be in [0, 1), got ${rate}`);
  const scale = 1 / (1 - rate);
  const cut = dropThreshold(rate);
  const keepNode = mode === "node" ? Uint8Array.from({ length: adj.cols }, () => (rng.nextUint32() >= cut ? 1 : 0)) : undefined;
  const total = nnz(adj);
  const indptr = new Int32Array(adj.rows + 1);
  const indices = new Int32Array(total);
  const values = new Float32Array(total);
  let m = 0;
  for (let r = 0; r < adj.rows; r++) {
    for (let k = adj.indptr[r]; k < adj.indptr[r + 1]; k++) {
      const j = adj.indices[k];
      const keep = keepNode !== undefined ? keepNode[j] === 1 : rng.nextUint32() >= cut;
      if (keep) {
        indices[m] = j;
        values[m] = adj.values[k] * scale;
        m++;
      }
    }
    indptr[r + 1] = m;
  }
  return { rows: adj.rows, cols: adj.cols, indptr, indices: indices.slice(0, m), values: values.slice(0, m) };
}

/** A 32-bit draw below this is dropped: P(drop) = ceil(rate 2^32) / 2^32, rate to within 2^-32 (one draw, no division). */
function dropThreshold(rate: number): number {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  return Math.ceil(rate * 4294967296);
}

/** An inverted-dropout mask [rows x cols]: 0 with probability p, else 1 / (1 - p). */
export function dropoutMask(rows: number, cols: number, rate: number, rng: Rng): tf.Tensor2D {
  const scale = 1 / (1 - rate);
  const cut = dropThreshold(rate);
  const m = new Float32Array(rows * cols);
  for (let k = 0; k < m.length; k++) m[k] = rng.nextUint32() >= cut ? scale : 0;
  return tf.tensor2d(m, [rows, cols]);
}

/** The names of layer k's weights and bias. */
export function ngcfLayerParams(k: number): { w1: string; w2: string; b: string } {
  return { w1: `W1_${k}`, w2: `W2_${k}`, b: `b_${k}` };
}

/** An NGCF with fresh parameters "userEmb", "itemEmb" and per layer k "W1_k", "W2_k" [dim x dim], "b_k" [1 x dim] drawn from rng. */
export function createNGCF(ctx: ModelContext, cfg: Partial<NGCFConfig>, rng: Rng): ModelInstance {
  const c: NGCFConfig = { ...NGCF_DEFAULTS, ...cfg };
  checkInt("ngcf", "dim", c.dim, 1);
  checkInt("ngcf", "layers", c.layers, 0);
  for (const [field, v] of [["nodeDropout", c.nodeDropout], ["messageDropout", c.messageDropout]] as const) {
    if (!(v >= 0 && v < 1)) throw new Error(`ngcf config: ${field} must be in [0, 1), got ${v}`);
  }
  if (c.nodeDropoutMode !== "edge" && c.nodeDropoutMode !== "node") {
    throw new Error(`ngcf config: nodeDropoutMode must be edge or node, got ${String(c.nodeDropoutMode)}`);
  }
  const { nUsers, nItems, train } = ctx;
  if (train.nUsers !== nUsers || train.nItems !== nItems) {
    throw new Error(`ngcf: context is ${nUsers} x ${nItems} but its train split is ${train.nUsers} x ${train.nItems}`);
  }
  const nodes = nUsers + nItems;
  const graph = graphOf(train);

  const params = new ParamStore();
  const init = embeddingInit(c.init);
  params.add("userEmb", "table", [nUsers, c.dim], init, rng);
  params.add("itemEmb", "table", [nItems, c.dim], init, rng);
  for (let k = 0; k < c.layers; k++) {
    const names = ngcfLayerParams(k);
    params.add(names.w1, "dense", [c.dim, c.dim], { kind: "xavier-uniform" }, rng);
    params.add(names.w2, "dense", [c.dim, c.dim], { kind: "xavier-uniform" }, rng);
    params.add(names.b, "dense", [1, c.dim], { kind: "xavier-uniform" }, rng);
  }
  const leafSpecs: LeafSpec[] = params.list().map((p) => ({ key: p.name, param: p.name }));

  /** All layers [N x dim (K+1)] from the leaves; dropout drawn from mode.rng when training. */
  const propagate = (leaves: LeafTensors, mode: ForwardMode | undefined): tf.Tensor2D => {
    const training = mode !== undefined && mode.training;
    const lap =
      training && c.nodeDropout > 0 ? SparseOperator.of(dropoutAdjacency(graph.adj, c.nodeDropout, c.nodeDropoutMode, mode.rng)) : graph.op;
    let e = initialEmbeddings(leaves, nUsers, nItems, c.dim);
    const out: tf.Tensor2D[] = [e];
    for (let k = 0; k < c.layers; k++) {
      const names = ngcfLayerParams(k);
      const side = spmm(lap, e); // L E_k
      const sum = tf.matMul(tf.add(side, e), leaf(leaves, names.w1, [c.dim, c.dim]));
      const bi = tf.matMul(tf.mul(side, e), leaf(leaves, names.w2, [c.dim, c.dim]));
      e = leakyRelu(tf.add(tf.add(sum, bi), leaf(leaves, names.b, [1, c.dim])) as tf.Tensor2D, c.leakySlope); // NGCF Eq. 7
      if (training && c.messageDropout > 0) e = tf.mul(e, dropoutMask(nodes, c.dim, c.messageDropout, mode.rng));
      out.push(e);
    }
    return out.length === 1 ? e : tf.concat(out, 1);
  };

  const model: Model = {
    name: "ngcf",
    loss: "bpr",
    leaves(): LeafSpec[] {
      return leafSpecs.map((s) => ({ ...s }));
    },
    losses(leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D {
      const rows = batchNodes(batch, nUsers, nItems);
      return dotProductLosses(selectRows(propagate(leaves, mode), rows), batch);
    },
    scorer(at: ParamStore): BlockScorer {
      const width = c.dim * (c.layers + 1);
      const t = tf.tidy(() => {
        const leaves: Record<string, tf.Tensor> = {};
        for (const s of leafSpecs) leaves[s.key] = paramTensor(at.get(s.param));
        return propagate(leaves, undefined);
      });
      const final = t.dataSync() as Float32Array;
      t.dispose();
      const userFinal = final.subarray(0, nUsers * width);
      const itemsT = transposeDense(final.subarray(nUsers * width), nItems, width);
      return (users: Int32Array) => dotScores(userFinal, itemsT, width, users);
    },
    describe() {
      return {
        model: "ngcf",
        nUsers,
        nItems,
        edges: nnz(graph.adj) / 2,
        dim: c.dim,
        layers: c.layers,
        layerCombination: "concat",
        aggregation: "eq7: LeakyReLU((L+I)EW1 + (LE*E)W2 + b), L = D^-1/2 A D^-1/2",
        leakySlope: c.leakySlope,
        nodeDropout: c.nodeDropout,
        nodeDropoutMode: c.nodeDropoutMode,
        messageDropout: c.messageDropout,
        init: c.init,
        propagation: "spmm",
        loss: "bpr",
      };
    },
  };
  return { model, params };
}

/**
 * LeakyReLU(x) = slope x + (1 - slope) relu(x). Not tf.leakyRelu: its gradient
 * goes through Greater, which has no gradient, so it cannot be differentiated
 * twice (the meta-gradient of Eq. 8 needs that); relu's gradient goes through step, which can.
 */
export function leakyRelu(x: tf.Tensor2D, slope: number): tf.Tensor2D {
  return tf.add(tf.mul(x, slope), tf.mul(tf.relu(x), 1 - slope));
}

/** The leaf `key`, shape checked. */
function leaf(leaves: LeafTensors, key: string, shape: readonly number[]): tf.Tensor2D {
  const t = leaves[key];
  if (t === undefined) throw new Error(`ngcf: no leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new Error(`ngcf: leaf '${key}' has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`);
  }
  return t as tf.Tensor2D;
}
