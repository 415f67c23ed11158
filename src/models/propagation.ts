/**
 * Graph propagation shared by the graph recommenders (LightGCN, NGCF): the
 * node ids a batch reads, differentiable row selection, and LightGCN's two
 * exact ways to get a batch's final embeddings.
 *
 * - "operator": LightGCN is linear, final = P E0 with the fixed dense operator
 *   P = (I + A + ... + A^K) / (K + 1). A step copies the batch's rows of P in JS
 *   (a [rows x N] constant; tf.gather would cost 30x more) and multiplies: no
 *   SpMM per step. Dense P needs N^2 floats, so this is for small graphs only.
 * - "spmm": E_{k+1} = A E_k by sparse products each step; the last layer is
 *   computed for the batch's rows only, which is the same sum.
 *
 * Every op here is differentiable any number of times (the exact meta-gradient
 * of Eq. 8 nests tf.grad in tf.grad): gradients are the same ops on transposes.
 */
import * as tf from "@tensorflow/tfjs";
import type { Interactions } from "../data/interactions";
import type { Batch, LeafTensors } from "./model";
import { normalizedAdjacency, type Csr } from "./ops/csr";
import { SparseOperator, spmm, spmmArrays } from "./ops/spmm";

export type PropagationPath = "operator" | "spmm";

/** The path for a graph of `nodes` nodes: the requested one, or for "auto" the dense operator up to maxOperatorNodes nodes. */
export function choosePath(requested: PropagationPath | "auto", nodes: number, maxOperatorNodes: number): PropagationPath {
  if (requested === "operator" || requested === "spmm") return requested;
  if (requested !== "auto") throw new Error(`unknown propagation '${String(requested)}': use auto, operator or spmm`);
  return nodes <= maxOperatorNodes ? "operator" : "spmm";
}

/** The normalised adjacency of a train split with its operator, built once per split object. */
export interface Graph {
  adj: Csr;
  op: SparseOperator;
}

const graphs = new WeakMap<Interactions, Graph>();
const operators = new WeakMap<Interactions, Map<number, Float32Array>>();

/** The graph of a train split (cached by object: models of the same split share it). */
export function graphOf(train: Interactions): Graph {
  let g = graphs.get(train);
  if (g === undefined) {
    const adj = normalizedAdjacency(train);
    g = { adj, op: SparseOperator.of(adj, adj) }; // symmetric: A^T = A
    graphs.set(train, g);
  }
  return g;
}

/** LightGCN's dense operator for a train split and K layers (cached by object). */
export function operatorOf(train: Interactions, layers: number): Float32Array {
  let byLayers = operators.get(train);
  if (byLayers === undefined) {
    byLayers = new Map();
    operators.set(train, byLayers);
  }
  let p = byLayers.get(layers);
  if (p === undefined) {
    p = lightgcnOperator(graphOf(train).adj, layers);
    byLayers.set(layers, p);
  }
  return p;
}

/** E0 = [userEmb; itemEmb] [N x d] from the leaves "userEmb" and "itemEmb", shapes checked. */
export function initialEmbeddings(leaves: LeafTensors, nUsers: number, nItems: number, dim: number): tf.Tensor2D {
  const get = (key: string, rows: number): tf.Tensor2D => {
    const t = leaves[key];
    if (t === undefined) throw new Error(`graph model: no leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
    if (t.rank !== 2 || t.shape[0] !== rows || t.shape[1] !== dim) {
      throw new Error(`graph model: leaf '${key}' has shape [${t.shape.join(", ")}], expected [${rows}, ${dim}]`);
    }
    return t as tf.Tensor2D;
  };
  return tf.concat([get("userEmb", nUsers), get("itemEmb", nItems)], 0);
}

/**
 * The graph nodes a batch reads, one per position (node u is user u, node
 * nUsers + i is item i): users, then positives, then negatives for BPR; users,
 * then items for BCE.
 */
export function batchNodes(batch: Batch, nUsers: number, nItems: number): Int32Array {
  const items = batch.kind === "bpr" ? [batch.pos, batch.neg] : [batch.items];
  const b = batch.users.length;
  for (const part of items) {
    if (part.length !== b) throw new Error(`batch: ${b} users but ${part.length} items in one of its columns`);
  }
  const out = new Int32Array(b * (1 + items.length));
  for (let k = 0; k < b; k++) {
    const u = batch.users[k];
    if (!(Number.isInteger(u) && u >= 0 && u < nUsers)) throw new Error(`batch: user ${u} at position ${k} is outside [0, ${nUsers})`);
    out[k] = u;
  }
  items.forEach((part, p) => {
    for (let k = 0; k < b; k++) {
      const i = part[k];
      if (!(Number.isInteger(i) && i >= 0 && i < nItems)) throw new Error(`batch: item ${i} at position ${k} is outside [0, ${nItems})`);
      out[(p + 1) * b + k] = nUsers + i;
    }
  });
  return out;
}

/** The rows `rows` of a CSR matrix as a new CSR [rows.length x a.cols] (repeats copied). */
export function csrRows(a: Csr, rows: Int32Array): Csr {
  const indptr = new Int32Array(rows.length + 1);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (!(r >= 0 && r < a.rows)) throw new Error(`csrRows: row ${r} outside [0, ${a.rows})`);
    indptr[k + 1] = indptr[k] + a.indptr[r + 1] - a.indptr[r];
  }
  const indices = new Int32Array(indptr[rows.length]);
  const values = new Float32Array(indptr[rows.length]);
  for (let k = 0; k < rows.length; k++) {
    const lo = a.indptr[rows[k]];
    const hi = a.indptr[rows[k] + 1];
    indices.set(a.indices.subarray(lo, hi), indptr[k]);
    values.set(a.values.subarray(lo, hi), indptr[k]);
  }
  return { rows: rows.length, cols: a.cols, indptr, indices, values };
}

/** The 0/1 selection matrix S [rows.length x n], S[k, rows[k]] = 1, as an operator: spmm(S, X) gathers X's rows. */
export function selectionOperator(rows: Int32Array, n: number): SparseOperator {
  const indptr = new Int32Array(rows.length + 1);
  for (let k = 0; k < rows.length; k++) {
    if (!(rows[k] >= 0 && rows[k] < n)) throw new Error(`selection: row ${rows[k]} outside [0, ${n})`);
    indptr[k + 1] = k + 1;
  }
  return SparseOperator.of({ rows: rows.length, cols: n, indptr, indices: rows.slice(), values: new Float32Array(rows.length).fill(1) });
}

/** Rows `rows` of X [n x d], one per position; differentiable any number of times (gradient: scatter-add via S^T), unlike tf.gather on wasm. */
export function selectRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  return spmm(selectionOperator(rows, x.shape[0]), x);
}

/** The transpose of a row-major [rows x cols] array. */
export function transposeDense(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const block = 32;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(rows, r0 + block);
    for (let c0 = 0; c0 < cols; c0 += block) {
      const c1 = Math.min(cols, c0 + block);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) out[c * rows + r] = m[r * cols + c];
      }
    }
  }
  return out;
}

/** Rows `rows` of a row-major [? x cols] array, copied into a new [rows.length x cols] array. */
export function copyRows(m: Float32Array, cols: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * cols);
  for (let k = 0; k < rows.length; k++) out.set(m.subarray(rows[k] * cols, (rows[k] + 1) * cols), k * cols);
  return out;
}

/**
 * LightGCN's propagation operator P = (I + A + ... + A^K) / (K + 1) as a dense
 * row-major [N x N] array (final = P E0: LightGCN's matrix form, He et al. 2020 §3.2.2, with alpha_k = 1 / (K + 1)),
 * by Horner's rule X <- I + A X with K sparse-dense products.
 */
export function lightgcnOperator(a: Csr, layers: number): Float32Array {
  const n = a.rows;
  if (a.cols !== n) throw new Error(`lightgcnOperator: A must be square, got ${a.rows}x${a.cols}`);
  const w = Math.ceil(n / 8) * 8; // padded width: spmmArrays' 8-accumulator loop
  let x = new Float32Array(n * w);
  for (let r = 0; r < n; r++) x[r * w + r] = 1;
  let y = new Float32Array(n * w);
  for (let k = 0; k < layers; k++) {
    spmmArrays(a, x, w, y);
    for (let r = 0; r < n; r++) y[r * w + r] += 1;
    const t = x;
    x = y;
    y = t;
  }
  const p = new Float32Array(n * n);
  const scale = 1 / (layers + 1);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) p[r * n + c] = x[r * w + c] * scale;
  }
  return p;
}

/** LightGCN's final embeddings of the nodes `rows` by the dense operator: P[rows] E0, P[rows] copied in JS as a constant. */
export function lightgcnRowsByOperator(p: Float32Array, e0: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const n = e0.shape[0];
  if (p.length !== n * n) throw new Error(`lightgcnRowsByOperator: operator has ${p.length} values, expected ${n} x ${n}`);
  return tf.matMul(tf.tensor2d(copyRows(p, n, rows), [rows.length, n]), e0);
}

/**
 * LightGCN's final embeddings of the nodes `rows` by SpMM: with E_{k+1} = A E_k,
 * final = (E_0 + ... + E_K) / (K + 1), and the last layer only for those rows:
 * S final = (S (E_0 + ... + E_{K-1}) + (S A) E_{K-1}) / (K + 1).
 */
export function lightgcnRowsBySpmm(adj: SparseOperator, e0: tf.Tensor2D, rows: Int32Array, layers: number): tf.Tensor2D {
  const select = selectionOperator(rows, adj.a.rows);
  if (layers === 0) return spmm(select, e0);
  let ek = e0;
  let sum = e0;
  for (let k = 1; k < layers; k++) {
    ek = spmm(adj, ek);
    sum = tf.add(sum, ek);
  }
  const lastRows = spmm(SparseOperator.of(csrRows(adj.a, rows)), ek);
  return tf.div(tf.add(spmm(select, sum), lastRows), layers + 1);
}

/** LightGCN's final embeddings of all nodes in JS: mean of A^k E0 for k = 0..K, E0 row-major [N x d]. */
export function lightgcnPropagateArrays(a: Csr, e0: Float32Array, d: number, layers: number): Float32Array {
  const sum = Float64Array.from(e0);
  let ek = e0;
  for (let k = 1; k <= layers; k++) {
    ek = spmmArrays(a, ek, d);
    for (let j = 0; j < sum.length; j++) sum[j] += ek[j];
  }
  const out = new Float32Array(sum.length);
  for (let j = 0; j < sum.length; j++) out[j] = sum[j] / (layers + 1);
  return out;
}

/**
 * Dot-product scores of users against all items: rows `users` of the user
 * embeddings [? x d] times the item embeddings given transposed [d x nItems]
 * (a matmul without transpose flags), row-major [users.length x nItems].
 */
export function dotScores(userEmb: Float32Array, itemsT: Float32Array, d: number, users: Int32Array): Float32Array {
  const nItems = itemsT.length / d;
  const nUsers = userEmb.length / d;
  for (const u of users) if (!(u >= 0 && u < nUsers)) throw new Error(`scorer: user ${u} outside [0, ${nUsers})`);
  const userRows = copyRows(userEmb, d, users);
  const scores = tf.tidy(() => tf.matMul(tf.tensor2d(userRows, [users.length, d]), tf.tensor2d(itemsT, [d, nItems])));
  const out = scores.dataSync() as Float32Array;
  scores.dispose();
  return out;
}

/** A set of node rows: their ids ascending, and each node's position in them (-1 for a node outside). */
export interface RowSet {
  ids: Int32Array;
  pos: Int32Array;
}

/**
 * The receptive field of K graph layers: the rows R_k of layer k that the
 * final rows of `nodes` depend on, R_K = the distinct nodes, R_k = R_{k+1} ∪
 * neighbours(R_{k+1}) (layer k + 1 at a node reads layer k at the node and its
 * neighbours). Returned as R_0..R_K; null stands for all nodes: once some R_k
 * holds more than maxShare of the nodes, it and every lower R_j are taken whole.
 */
export function receptiveField(adj: Csr, nodes: Int32Array, layers: number, maxShare: number): Array<RowSet | null> {
  const n = adj.rows;
  const mark = new Uint8Array(n);
  let count = 0;
  for (const v of nodes) {
    if (!(v >= 0 && v < n)) throw new Error(`receptiveField: node ${v} outside [0, ${n})`);
    if (mark[v] === 0) {
      mark[v] = 1;
      count++;
    }
  }
  const out: Array<RowSet | null> = new Array<RowSet | null>(layers + 1).fill(null);
  for (let k = layers; k >= 0 && count <= maxShare * n; k--) {
    const ids = new Int32Array(count);
    const pos = new Int32Array(n).fill(-1);
    let m = 0;
    for (let v = 0; v < n; v++) {
      if (mark[v] === 1) {
        pos[v] = m;
        ids[m++] = v;
      }
    }
    out[k] = { ids, pos };
    if (k === 0) break;
    const limit = maxShare * n;
    expand: for (const r of ids) {
      for (let q = adj.indptr[r]; q < adj.indptr[r + 1]; q++) {
        if (mark[adj.indices[q]] === 0) {
          mark[adj.indices[q]] = 1;
          if (++count > limit) break expand; // R_{k-1} and below are whole
        }
      }
    }
  }
  return out;
}

/** The positions of `nodes` in a row set (null: all nodes, positions = ids); throws for a node outside it. */
export function positionsOf(nodes: Int32Array, set: RowSet | null): Int32Array {
  if (set === null) return nodes;
  return nodes.map((v) => {
    const p = set.pos[v];
    if (!(p >= 0)) throw new Error(`positionsOf: node ${v} is not in the row set`);
    return p;
  });
}
