/**
 * Sparse matrices in compressed sparse rows, and the graph operator of the
 * graph models: the normalised adjacency of the user-item bipartite graph.
 */
import type { Interactions } from "../../data/interactions";

/** A rows x cols sparse matrix: row r holds columns indices[indptr[r] .. indptr[r+1]) with their values, columns ascending. */
export interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * The symmetric normalised adjacency D^-1/2 A D^-1/2 of the (nUsers + nItems)
 * bipartite graph of a train split, users first then items (node nUsers + i is
 * item i), without self loops, as LightGCN's (and NGCF's) Â. Entry (u, nUsers + i)
 * = 1 / sqrt(deg(u) deg(i)); a node without edges keeps an empty row.
 */
export function normalizedAdjacency(train: Interactions): Csr {
  const { nUsers, nItems } = train;
  const n = nUsers + nItems;
  const nnzHalf = train.indptr[nUsers];
  const itemDegree = new Int32Array(nItems);
  for (let u = 0; u < nUsers; u++) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      const i = train.items[k];
      if (!(i >= 0 && i < nItems)) throw new Error(`normalizedAdjacency: user ${u} has item ${i} outside [0, ${nItems})`);
      if (k > train.indptr[u] && train.items[k - 1] >= i) {
        throw new Error(`normalizedAdjacency: user ${u}'s items are not strictly ascending at item ${i} (duplicate pair or unsorted row)`);
      }
      itemDegree[i]++;
    }
  }
  const userScale = new Float64Array(nUsers); // deg(u)^-1/2, 0 for an isolated node
  for (let u = 0; u < nUsers; u++) {
    const d = train.indptr[u + 1] - train.indptr[u];
    userScale[u] = d > 0 ? 1 / Math.sqrt(d) : 0;
  }
  const itemScale = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) itemScale[i] = itemDegree[i] > 0 ? 1 / Math.sqrt(itemDegree[i]) : 0;

  const indptr = new Int32Array(n + 1);
  const indices = new Int32Array(2 * nnzHalf);
  const values = new Float32Array(2 * nnzHalf);
  // user rows: the user's items, already ascending
  for (let u = 0; u < nUsers; u++) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      const i = train.items[k];
      indices[k] = nUsers + i;
      values[k] = userScale[u] * itemScale[i];
    }
    indptr[u + 1] = train.indptr[u + 1];
  }
  // item rows: the item's users, ascending because users are visited in order
  for (let i = 0; i < nItems; i++) indptr[nUsers + i + 1] = indptr[nUsers + i] + itemDegree[i];
  const fill = indptr.slice(nUsers, n);
  for (let u = 0; u < nUsers; u++) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      const i = train.items[k];
      const pos = fill[i]++;
      indices[pos] = u;
      values[pos] = userScale[u] * itemScale[i];
    }
  }
  return { rows: n, cols: n, indptr, indices, values };
}

/** The transpose of a CSR matrix (columns ascending in every row). */
export function transpose(c: Csr): Csr {
  const nnz = c.indptr[c.rows];
  const indptr = new Int32Array(c.cols + 1);
  for (let k = 0; k < nnz; k++) indptr[c.indices[k] + 1]++;
  for (let j = 0; j < c.cols; j++) indptr[j + 1] += indptr[j];
  const fill = indptr.slice(0, c.cols);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let r = 0; r < c.rows; r++) {
    for (let k = c.indptr[r]; k < c.indptr[r + 1]; k++) {
      const pos = fill[c.indices[k]]++;
      indices[pos] = r;
      values[pos] = c.values[k];
    }
  }
  return { rows: c.cols, cols: c.rows, indptr, indices, values };
}

/** The number of stored entries. */
export function nnz(c: Csr): number {
  return c.indptr[c.rows];
}

/** The matrix as a dense row-major Float32Array [rows x cols] (for small graphs and tests). */
export function toDense(c: Csr): Float32Array {
  const out = new Float32Array(c.rows * c.cols);
  for (let r = 0; r < c.rows; r++) {
    for (let k = c.indptr[r]; k < c.indptr[r + 1]; k++) out[r * c.cols + c.indices[k]] += c.values[k];
  }
  return out;
}
