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
 * NGCF is nonlinear, so it always propagates by SpMM. A training step computes
 * layer k only on the rows R_k the batch's final rows depend on (its receptive
 * field, propagation.ts): E_{k+1}[R_{k+1}] needs E_k on R_{k+1} and their
 * neighbours, so the last layer shrinks to the batch's nodes. Dropout is drawn
 * for all nodes as in the full propagation and read on those rows, so the
 * losses are the full propagation's (same draws too); ranking propagates all nodes.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng";
import { checkInt, embeddingInit } from "./lightgcn";
import { dotProductLosses } from "./losses";
import { dotProductRowsSource } from "./per-sample-rows";
import type { Batch, BlockScorer, ForwardMode, LeafSpec, LeafTensors, Model, ModelContext, ModelInstance } from "./model";
import { mirrorIndex, nnz, structurePair, submatrix, type Csr } from "./ops/csr";
import { ParamStore, paramTensor } from "./ops/embedding-table";
import { SparseOperator, spmm } from "./ops/spmm";
import { batchNodes, csrRows, dotScores, graphOf, initialEmbeddings, positionsOf, receptiveField, selectRows, transposeDense, type RowSet } from "./propagation";

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
  /**
   * Rows a training step propagates: "receptive-field" (layer k only where the batch's final rows
   * depend on it) or "all" (every node, then the batch's rows); same losses, same dropout draws.
   */
  propagationRows: "receptive-field" | "all";
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
  propagationRows: "receptive-field",
};

/**
 * A layer's rows are computed whole once its receptive field holds more than
 * this share of the nodes. On ml-100k-sgdl at batch 128, R_3 holds about 17% of
 * the nodes and R_2 96%: restricting layer 3 alone saved about 4 ms a step,
 * restricting layers 2 and 1 as well cost 7 ms more (subset CSRs, transposes, row gathers).
 */
const WHOLE_LAYER_SHARE = 0.5;

/**
 * The positions in [0, total) that independent Bernoulli(rate) draws drop,
 * ascending, by geometric gaps: the run of kept positions before each drop is
 * floor(ln U / ln(1 - rate)) with U = (u + 1/2) 2^-32 from one 32-bit draw, so
 * P(run >= j) = (1 - rate)^j to within 2^-32 (runs are capped at ln(2^-33) /
 * ln(1 - rate), 217 for rate 0.1, whose true tail is 1e-10). One draw per
 * dropped position (about rate * total) instead of one per position.
 */
export function dropPositions(total: number, rate: number, rng: Rng): Int32Array {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (rate === 0 || total === 0) return new Int32Array(0);
  const perLog = 1 / Math.log1p(-rate);
  let out = new Int32Array(Math.ceil(total * rate + 4 * Math.sqrt(total * rate) + 16));
  let m = 0;
  let pos = -1;
  for (;;) {
    pos += 1 + Math.floor(Math.log((rng.nextUint32() + 0.5) * 2.3283064365386963e-10) * perLog);
    if (pos >= total) break;
    if (m === out.length) {
      const grown = new Int32Array(2 * out.length);
      grown.set(out);
      out = grown;
    }
    out[m++] = pos;
  }
  return out.subarray(0, m);
}

/**
 * L with node dropout at rate p, drawn from rng, and its transpose: dropped
 * entries zero, kept ones scaled by 1 / (1 - p) so that the expectation is L.
 * "edge": each entry of L on its own; "node": each node's column (its outgoing
 * messages) as a whole. Both keep L's structure, dropped entries stored as
 * zeros (they add nothing to a product), so the transpose is a gather of the
 * values through L's mirror index, not a re-sort (ml-100k-sgdl: 1.0 ms, against
 * 1.9 ms for removing the dropped entries and building the transpose alongside).
 */
export function dropoutAdjacency(adj: Csr, rate: number, mode: "edge" | "node", rng: Rng, mirror: Int32Array = mirrorIndex(adj)): { a: Csr; at: Csr } {
  const total = nnz(adj);
  const scale = 1 / (1 - rate);
  const values = new Float32Array(total);
  for (let k = 0; k < total; k++) values[k] = adj.values[k] * scale;
  if (mode === "edge") {
    for (const k of dropPositions(total, rate, rng)) values[k] = 0;
  } else {
    const dropNode = new Uint8Array(adj.cols);
    for (const j of dropPositions(adj.cols, rate, rng)) dropNode[j] = 1;
    for (let k = 0; k < total; k++) if (dropNode[adj.indices[k]] === 1) values[k] = 0;
  }
  return structurePair(adj, values, mirror);
}

/**
 * An inverted-dropout mask of an [n x cols] layer: 0 with probability p, else
 * 1 / (1 - p). Drawn for all n rows; returned for the rows `rows` only (null: all),
 * so a row's mask does not depend on which other rows are computed.
 */
export function dropoutMask(n: number, cols: number, rate: number, rng: Rng, rows: RowSet | null = null): tf.Tensor2D {
  const count = rows === null ? n : rows.ids.length;
  const m = new Float32Array(count * cols).fill(1 / (1 - rate));
  for (const k of dropPositions(n * cols, rate, rng)) {
    const r = rows === null ? Math.floor(k / cols) : rows.pos[Math.floor(k / cols)];
    if (r >= 0) m[r * cols + (k % cols)] = 0;
  }
  return tf.tensor2d(m, [count, cols]);
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
  if (c.propagationRows !== "receptive-field" && c.propagationRows !== "all") {
    throw new Error(`ngcf config: propagationRows must be receptive-field or all, got ${String(c.propagationRows)}`);
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

  let mirror: Int32Array | undefined;

  /**
   * Layers E_0..E_K from the leaves, E_k on the rows fields[k] (null: all nodes;
   * fields nested, R_0 ⊇ ... ⊇ R_K). Dropout drawn from mode.rng when training:
   * one dropped L for all layers, one mask per layer, both drawn for all nodes.
   */
  const propagate = (leaves: LeafTensors, mode: ForwardMode | undefined, fields: ReadonlyArray<RowSet | null>): tf.Tensor2D[] => {
    const training = mode !== undefined && mode.training;
    let lap = graph.op;
    if (training && c.nodeDropout > 0) {
      if (mirror === undefined) mirror = mirrorIndex(graph.adj);
      const dropped = dropoutAdjacency(graph.adj, c.nodeDropout, c.nodeDropoutMode, mode.rng, mirror);
      lap = SparseOperator.of(dropped.a, dropped.at);
    }
    const e0 = initialEmbeddings(leaves, nUsers, nItems, c.dim);
    const r0 = fields[0];
    let e = r0 === null ? e0 : selectRows(e0, r0.ids);
    const out: tf.Tensor2D[] = [e];
    for (let k = 0; k < c.layers; k++) {
      const names = ngcfLayerParams(k);
      const from = fields[k];
      const to = fields[k + 1];
      // L[R_{k+1}, R_k] E_k[R_k] and E_k[R_{k+1}]: all of L when R_{k+1} is all nodes (then R_k is too)
      const op = to === null ? lap : SparseOperator.of(from === null ? csrRows(lap.a, to.ids) : submatrix(lap.a, to.ids, from.pos, from.ids.length));
      const self = to === null ? e : selectRows(e, positionsOf(to.ids, from));
      const side = spmm(op, e); // L E_k
      const sum = tf.matMul(tf.add(side, self), leaf(leaves, names.w1, [c.dim, c.dim]));
      const bi = tf.matMul(tf.mul(side, self), leaf(leaves, names.w2, [c.dim, c.dim]));
      e = leakyRelu(tf.add(tf.add(sum, bi), leaf(leaves, names.b, [1, c.dim])) as tf.Tensor2D, c.leakySlope); // NGCF Eq. 7
      if (training && c.messageDropout > 0) e = tf.mul(e, dropoutMask(nodes, c.dim, c.messageDropout, mode.rng, to));
      out.push(e);
    }
    return out;
  };
  const allRows: Array<RowSet | null> = new Array<RowSet | null>(c.layers + 1).fill(null);

  /** The batch's final rows [E_0 | ... | E_K] in batchNodes order, each layer on the batch's receptive field only (or on all nodes). */
  const finalRows = (leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor2D => {
    const rows = batchNodes(batch, nUsers, nItems);
    const fields = c.propagationRows === "all" ? allRows : receptiveField(graph.adj, rows, c.layers, WHOLE_LAYER_SHARE);
    const layers = propagate(leaves, mode, fields);
    return tf.concat(layers.map((e, k) => selectRows(e, positionsOf(rows, fields[k]))), 1);
  };

  const model: Model = {
    name: "ngcf",
    loss: "bpr",
    leaves(): LeafSpec[] {
      return leafSpecs.map((s) => ({ ...s }));
    },
    losses(leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D {
      return dotProductLosses(finalRows(leaves, batch, mode), batch);
    },
    perSampleRows: dotProductRowsSource(finalRows),
    scorer(at: ParamStore): BlockScorer {
      const width = c.dim * (c.layers + 1);
      const t = tf.tidy(() => {
        const leaves: Record<string, tf.Tensor> = {};
        for (const s of leafSpecs) leaves[s.key] = paramTensor(at.get(s.param));
        const layers = propagate(leaves, undefined, allRows);
        return layers.length === 1 ? layers[0] : tf.concat(layers, 1);
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
        propagationRows: c.propagationRows === "all" ? "all nodes" : "batch receptive field",
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
