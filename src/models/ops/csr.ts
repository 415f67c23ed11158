/**
 * Sparse matrices in compressed sparse rows, and the graph operator of the
 * graph models: the normalised adjacency of the user-item bipartite graph,
 * with the pieces NGCF's training step takes of it (mirror index, transpose
 * on the same structure, submatrices).
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

/**
 * For a structurally symmetric square matrix (the graph's L), the position of
 * entry (c, r) for every entry (r, c): a dropped L's transpose is then read off
 * L itself (structurePair) instead of re-sorting by column.
 */
export function mirrorIndex(a: Csr): Int32Array {
  if (a.rows !== a.cols) throw new Error(`mirrorIndex: matrix must be square, got ${a.rows}x${a.cols}`);
  const fill = a.indptr.slice(0, a.rows); // next unmatched entry of each row; rows are visited in order, so (c, r) comes up in column order
  const mirror = new Int32Array(nnz(a));
  for (let r = 0; r < a.rows; r++) {
    for (let k = a.indptr[r]; k < a.indptr[r + 1]; k++) {
      const c = a.indices[k];
      const m = fill[c]++;
      if (!(m < a.indptr[c + 1] && a.indices[m] === r)) throw new Error(`mirrorIndex: entry (${r}, ${c}) has no mirror (${c}, ${r})`);
      mirror[k] = m;
    }
  }
  return mirror;
}

/**
 * The matrix with A's structure and new values, and its transpose on the same
 * structure (A structurally symmetric, mirror from mirrorIndex): entry k of the
 * transpose is entry mirror[k]. indptr and indices are shared with A.
 */
export function structurePair(a: Csr, values: Float32Array, mirror: Int32Array): { a: Csr; at: Csr } {
  const total = nnz(a);
  if (values.length !== total || mirror.length !== total) throw new Error(`structurePair: ${total} entries but ${values.length} values and ${mirror.length} mirrors`);
  const valuesT = new Float32Array(total);
  for (let k = 0; k < total; k++) valuesT[k] = values[mirror[k]];
  const shape = { rows: a.rows, cols: a.cols, indptr: a.indptr, indices: a.indices };
  return { a: { ...shape, values }, at: { ...shape, values: valuesT } };
}

/**
 * The submatrix A[rows, cols] as a CSR [rows.length x nCols]; colPos maps a
 * column of A to its position in cols (-1: not in cols; cols ascending keeps
 * each row's columns ascending). Every entry of the chosen rows must fall in
 * cols (throws otherwise): for a graph, cols holds the rows' neighbours.
 */
export function submatrix(a: Csr, rows: Int32Array, colPos: Int32Array, nCols: number): Csr {
  if (colPos.length !== a.cols) throw new Error(`submatrix: column map has ${colPos.length} entries, A has ${a.cols} columns`);
  const indptr = new Int32Array(rows.length + 1);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (!(r >= 0 && r < a.rows)) throw new Error(`submatrix: row ${r} outside [0, ${a.rows})`);
    indptr[k + 1] = indptr[k] + a.indptr[r + 1] - a.indptr[r];
  }
  const indices = new Int32Array(indptr[rows.length]);
  const values = new Float32Array(indptr[rows.length]);
  for (let k = 0; k < rows.length; k++) {
    const lo = a.indptr[rows[k]];
    let m = indptr[k];
    for (let q = lo; q < a.indptr[rows[k] + 1]; q++) {
      const c = colPos[a.indices[q]];
      if (!(c >= 0 && c < nCols)) throw new Error(`submatrix: row ${rows[k]} has column ${a.indices[q]}, which is not among the chosen columns`);
      indices[m] = c;
      values[m] = a.values[q];
      m++;
    }
  }
  return { rows: rows.length, cols: nCols, indptr, indices, values };
}
