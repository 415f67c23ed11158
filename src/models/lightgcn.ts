/**
 * LightGCN (He et al., SIGIR 2020), the official SGDL backbone, as a pure
 * function of two embedding tables: E0 = [userEmb; itemEmb], E_{k+1} = Â E_k,
 * final = mean of E_0..E_K, score = dot product, BPR loss, no dropout
 * (sgdl-reference.md §3.1). The final rows of a batch come from one of two
 * exact paths (propagation.ts): the dense operator P for small graphs, SpMM
 * for large ones. Either way the gradient reaches every row of both tables,
 * so both are whole-parameter leaves (dense Adam, as the official code).
 */
import * as tf from "@tensorflow/tfjs";
import { dotProductLosses } from "./losses";
import { dotProductRowsSource } from "./per-sample-rows";
import type { Batch, BlockScorer, LeafSpec, LeafTensors, Model, ModelContext, ModelInstance } from "./model";
import { nnz } from "./ops/csr";
import { ParamStore, type Init } from "./ops/embedding-table";
import {
  batchNodes,
  choosePath,
  dotScores,
  graphOf,
  initialEmbeddings,
  lightgcnPropagateArrays,
  lightgcnRowsByOperator,
  lightgcnRowsBySpmm,
  operatorOf,
  transposeDense,
  type PropagationPath,
} from "./propagation";
import type { Rng } from "../util/rng";

export interface LightGCNConfig {
  /** Embedding size: 64 in the paper (§4.1.4) and the official code. */
  dim: number;
  /** Propagation layers K: 3 in the paper and the official code. */
  layers: number;
  /** "normal0.1": N(0, 0.1^2) as the official code; "xavier": Xavier-uniform, as the paper says (§4.1.4). */
  init: "normal0.1" | "xavier";
  /** Propagation path: "operator" (dense P, small graphs), "spmm", or "auto" (operator up to operatorMaxNodes nodes). */
  propagation: PropagationPath | "auto";
  /** Largest graph (users + items) for which "auto" builds the dense operator (4 N^2 bytes: 144 MB at 6,000). */
  operatorMaxNodes: number;
  /** For the trainer: 1e-3 in the paper (§4.1.4); the official code uses 5e-4 (and lr / 5 in Phase I). */
  lr: number;
}

export const LIGHTGCN_DEFAULTS: Readonly<LightGCNConfig> = {
  dim: 64,
  layers: 3,
  init: "normal0.1",
  propagation: "auto",
  operatorMaxNodes: 6000,
  lr: 1e-3,
};

/** The initialiser of an embedding table under a config's `init`. */
export function embeddingInit(init: "normal0.1" | "xavier"): Init {
  if (init === "normal0.1") return { kind: "normal", std: 0.1 };
  if (init === "xavier") return { kind: "xavier-uniform" };
  throw new Error(`unknown init '${String(init)}': use normal0.1 or xavier`);
}

/** Throws unless x is an integer >= min. */
export function checkInt(model: string, field: string, x: number, min: number): void {
  if (!Number.isInteger(x) || x < min) throw new Error(`${model} config: ${field} must be an integer >= ${min}, got ${x}`);
}

/** A LightGCN with fresh parameters "userEmb" [nUsers x dim] and "itemEmb" [nItems x dim] drawn from rng. */
export function createLightGCN(ctx: ModelContext, cfg: Partial<LightGCNConfig>, rng: Rng): ModelInstance {
  const c: LightGCNConfig = { ...LIGHTGCN_DEFAULTS, ...cfg };
  checkInt("lightgcn", "dim", c.dim, 1);
  checkInt("lightgcn", "layers", c.layers, 0);
  const { nUsers, nItems, train } = ctx;
  if (train.nUsers !== nUsers || train.nItems !== nItems) {
    throw new Error(`lightgcn: context is ${nUsers} x ${nItems} but its train split is ${train.nUsers} x ${train.nItems}`);
  }
  const nodes = nUsers + nItems;
  const path = choosePath(c.propagation, nodes, c.operatorMaxNodes);
  const graph = graphOf(train);
  const p = path === "operator" ? operatorOf(train, c.layers) : undefined;

  const params = new ParamStore();
  const init = embeddingInit(c.init);
  params.add("userEmb", "table", [nUsers, c.dim], init, rng);
  params.add("itemEmb", "table", [nItems, c.dim], init, rng);

  /** The batch's final rows in batchNodes order (users, then items). */
  const finalRows = (leaves: LeafTensors, batch: Batch): tf.Tensor2D => {
    const rows = batchNodes(batch, nUsers, nItems);
    const e0 = initialEmbeddings(leaves, nUsers, nItems, c.dim);
    return p !== undefined ? lightgcnRowsByOperator(p, e0, rows) : lightgcnRowsBySpmm(graph.op, e0, rows, c.layers);
  };

  const model: Model = {
    name: "lightgcn",
    loss: "bpr",
    leaves(): LeafSpec[] {
      return [
        { key: "userEmb", param: "userEmb" },
        { key: "itemEmb", param: "itemEmb" },
      ];
    },
    losses(leaves: LeafTensors, batch: Batch): tf.Tensor1D {
      return dotProductLosses(finalRows(leaves, batch), batch);
    },
    perSampleRows: dotProductRowsSource(finalRows),
    // the operator path's fact: final rows = P[batchNodes] E0, E0 = [userEmb; itemEmb]
    linearRows:
      p !== undefined ? { operator: p, nodes, tables: ["userEmb", "itemEmb"], rows: (batch: Batch) => batchNodes(batch, nUsers, nItems) } : undefined,
    scorer(at: ParamStore): BlockScorer {
      const e0 = new Float32Array(nodes * c.dim);
      e0.set(at.get("userEmb").data, 0);
      e0.set(at.get("itemEmb").data, nUsers * c.dim);
      const final = p !== undefined ? propagateByOperator(p, e0, nodes, c.dim) : lightgcnPropagateArrays(graph.adj, e0, c.dim, c.layers);
      const userFinal = final.subarray(0, nUsers * c.dim);
      const itemsT = transposeDense(final.subarray(nUsers * c.dim), nItems, c.dim);
      return (users: Int32Array) => dotScores(userFinal, itemsT, c.dim, users);
    },
    describe() {
      return {
        model: "lightgcn",
        nUsers,
        nItems,
        edges: nnz(graph.adj) / 2,
        dim: c.dim,
        layers: c.layers,
        layerCombination: "mean",
        init: c.init,
        propagation: path,
        operatorMaxNodes: c.operatorMaxNodes,
        dropout: false,
        loss: "bpr",
      };
    },
  };
  return { model, params };
}

/** final = P E0 for all nodes with one matmul. */
function propagateByOperator(p: Float32Array, e0: Float32Array, nodes: number, dim: number): Float32Array {
  const t = tf.tidy(() => tf.matMul(tf.tensor2d(p, [nodes, nodes]), tf.tensor2d(e0, [nodes, dim])));
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}
