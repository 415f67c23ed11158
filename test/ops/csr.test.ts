import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { fromTriples } from "../../src/data/interactions";
import { normalizedAdjacency, nnz, toDense, transpose, type Csr } from "../../src/models/ops/csr";

const S2 = 1 / Math.sqrt(2); // 0.70710678

// Tiny graph: 3 users, 3 items. u0 - {i0, i1}, u1 - {i1}; u2 and i2 have no edges.
// Nodes: u0=0, u1=1, u2=2, i0=3, i1=4, i2=5.
// Degrees: u0 2, u1 1, u2 0, i0 1, i1 2, i2 0.
// (u0,i0) = 1/sqrt(2*1) = 0.7071; (u0,i1) = 1/sqrt(2*2) = 0.5; (u1,i1) = 1/sqrt(1*2) = 0.7071.
const tiny = fromTriples(3, 3, [0, 0, 1], [1, 0, 1], [0, 0, 0]);

test("normalizedAdjacency of a tiny graph matches the hand-computed D^-1/2 A D^-1/2", () => {
  const a = normalizedAdjacency(tiny);
  assert.equal(a.rows, 6);
  assert.equal(a.cols, 6);
  assert.deepEqual([...a.indptr], [0, 2, 3, 3, 4, 6, 6]); // rows u0 u1 u2 i0 i1 i2 hold 2,1,0,1,2,0 entries
  assert.deepEqual([...a.indices], [3, 4, 4, 0, 0, 1]);
  const want = [S2, 0.5, S2, S2, 0.5, S2];
  for (let k = 0; k < want.length; k++) assert.ok(Math.abs(a.values[k] - want[k]) < 1e-7, `value ${k}: ${a.values[k]} vs ${want[k]}`);
});

test("normalizedAdjacency is symmetric and zero-degree rows stay empty", () => {
  const a = normalizedAdjacency(tiny);
  const d = toDense(a);
  for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) assert.equal(d[r * 6 + c], d[c * 6 + r]);
  for (let c = 0; c < 6; c++) {
    assert.equal(d[2 * 6 + c], 0); // u2
    assert.equal(d[5 * 6 + c], 0); // i2
    assert.equal(d[c * 6 + c], 0); // no self loops
  }
});

test("transpose of a rectangular matrix, worked by hand", () => {
  // A = [[1, 0, 2],
  //      [0, 0, 0],
  //      [0, 3, 4],
  //      [5, 0, 0]]   (4 x 3)
  // A^T = [[1, 0, 0, 5],
  //        [0, 0, 3, 0],
  //        [2, 0, 4, 0]]   (3 x 4)
  const a: Csr = {
    rows: 4,
    cols: 3,
    indptr: Int32Array.from([0, 2, 2, 4, 5]),
    indices: Int32Array.from([0, 2, 1, 2, 0]),
    values: Float32Array.from([1, 2, 3, 4, 5]),
  };
  const t = transpose(a);
  assert.equal(t.rows, 3);
  assert.equal(t.cols, 4);
  assert.deepEqual([...t.indptr], [0, 2, 3, 5]);
  assert.deepEqual([...t.indices], [0, 3, 2, 0, 2]);
  assert.deepEqual([...t.values], [1, 5, 3, 2, 4]);
  assert.deepEqual([...toDense(t)], [1, 0, 0, 5, 0, 0, 3, 0, 2, 0, 4, 0]);
  assert.deepEqual(transpose(t), a);
});

test("normalizedAdjacency rejects an item outside the id space and a duplicate pair", () => {
  const bad = { nUsers: 1, nItems: 2, indptr: Int32Array.from([0, 1]), items: Int32Array.from([2]), noisy: new Uint8Array(1) };
  assert.throws(() => normalizedAdjacency(bad), /user 0 has item 2 outside \[0, 2\)/);
  const dup = { nUsers: 1, nItems: 2, indptr: Int32Array.from([0, 2]), items: Int32Array.from([1, 1]), noisy: new Uint8Array(2) };
  assert.throws(() => normalizedAdjacency(dup), /duplicate pair/);
});

test("normalizedAdjacency equals the official code's s_pre_adj_mat.npz on ML-100K (SGDL split)", (t) => {
  const dir = process.env.SGDL_DATA_DIR;
  if (!dir) {
    t.skip("SGDL_DATA_DIR not set");
    return;
  }
  const sgdl = path.join(dir, "ml-100k", "sgdl");
  const users: number[] = [];
  const items: number[] = [];
  for (const line of fs.readFileSync(path.join(sgdl, "ml100k.train.rating"), "utf8").split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split("\t");
    users.push(Number(f[0]));
    items.push(Number(f[1]));
  }
  // the official code sizes the id spaces as max id + 1: 497 users, 1,683 items
  const train = fromTriples(497, 1683, users, items, new Uint8Array(users.length));
  const mine = normalizedAdjacency(train);
  const npz = readNpz(path.join(sgdl, "s_pre_adj_mat.npz"));
  const shape = npz.get("shape.npy") as BigInt64Array;
  assert.deepEqual([Number(shape[0]), Number(shape[1])], [2180, 2180]);
  const indptr = npz.get("indptr.npy") as Int32Array;
  const indices = npz.get("indices.npy") as Int32Array;
  const data = npz.get("data.npy") as Float32Array;
  assert.equal(nnz(mine), 133798);
  assert.deepEqual([...mine.indptr], [...indptr]);
  let worst = 0;
  for (let r = 0; r < 2180; r++) {
    const lo = indptr[r];
    const order = Array.from({ length: indptr[r + 1] - lo }, (_, j) => lo + j).sort((p, q) => indices[p] - indices[q]);
    for (let j = 0; j < order.length; j++) {
      assert.equal(mine.indices[lo + j], indices[order[j]]);
      worst = Math.max(worst, Math.abs(mine.values[lo + j] - data[order[j]]) / data[order[j]]);
    }
  }
  assert.ok(worst < 1e-6, `largest relative difference ${worst}`); // scipy computes in float32, we in float64
});

/** Reads the arrays of a .npz (zip of .npy files, stored or deflated) needed by the test above. */
function readNpz(file: string): Map<string, Int32Array | Float32Array | BigInt64Array | Uint8Array> {
  const buf = fs.readFileSync(file);
  const out = new Map<string, Int32Array | Float32Array | BigInt64Array | Uint8Array>();
  let at = 0;
  while (at + 4 <= buf.length && buf.readUInt32LE(at) === 0x04034b50) {
    const method = buf.readUInt16LE(at + 8);
    const flags = buf.readUInt16LE(at + 6);
    const compressed = buf.readUInt32LE(at + 18);
    const nameLen = buf.readUInt16LE(at + 26);
    const extraLen = buf.readUInt16LE(at + 28);
    assert.equal(flags & 8, 0, "zip entries with data descriptors are not supported");
    const name = buf.toString("utf8", at + 30, at + 30 + nameLen);
    const start = at + 30 + nameLen + extraLen;
    const raw = buf.subarray(start, start + compressed);
    const body = method === 8 ? zlib.inflateRawSync(raw) : raw;
    out.set(name, parseNpy(body));
    at = start + compressed;
  }
  return out;
}

function parseNpy(b: Buffer): Int32Array | Float32Array | BigInt64Array | Uint8Array {
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = b.toString("latin1", headerStart, headerStart + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const body = Uint8Array.prototype.slice.call(b, headerStart + headerLen); // copy: aligned
  switch (descr) {
    case "<i4":
      return new Int32Array(body.buffer, 0, body.length / 4);
    case "<f4":
      return new Float32Array(body.buffer, 0, body.length / 4);
    case "<i8":
      return new BigInt64Array(body.buffer, 0, body.length / 8);
    default:
      return body;
  }
}
