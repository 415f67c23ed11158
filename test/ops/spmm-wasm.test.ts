import { test } from "node:test";
import assert from "node:assert/strict";
import type { Csr } from "../../src/models/ops/csr";
import { spmmArrays, spmmArraysJs } from "../../src/models/ops/spmm";
import { spmmWasm, spmmWasmAvailable } from "../../src/models/ops/spmm-wasm";
import { Rng } from "../../src/util/rng";

/** A random rows x cols CSR with about `density` of the entries set (some rows empty), values in [-1, 1). */
function randomCsr(rows: number, cols: number, density: number, rng: Rng): Csr {
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (r % 7 !== 3) {
      for (let c = 0; c < cols; c++) {
        if (rng.next() < density) {
          indices.push(c);
          values.push(2 * rng.next() - 1);
        }
      }
    }
    indptr[r + 1] = indices.length;
  }
  return { rows, cols, indptr, indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

test("the SIMD kernel is built here (Node 20 has WebAssembly SIMD)", () => {
  assert.equal(spmmWasmAvailable(), true);
});

test("by hand: a 2 x 3 matrix times a 3 x 4 matrix", () => {
  // A = [[1, 0, 2], [0, -1, 0]]; X rows x0 = (1, 2, 3, 4), x1 = (5, 6, 7, 8), x2 = (0.5, 0, -1, 2)
  // row 0 = x0 + 2 x2 = (2, 2, 1, 8); row 1 = -x1 = (-5, -6, -7, -8)
  const a: Csr = { rows: 2, cols: 3, indptr: Int32Array.from([0, 2, 3]), indices: Int32Array.from([0, 2, 1]), values: Float32Array.from([1, 2, -1]) };
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 0.5, 0, -1, 2]);
  const out = new Float32Array(8).fill(99);
  assert.equal(spmmWasm(a, x, 4, out), true);
  assert.deepEqual(Array.from(out), [2, 2, 1, 8, -5, -6, -7, -8]);
});

test("bit for bit the JS loops, for widths with 16- and 4-column passes, empty rows, rectangular A", () => {
  const rng = new Rng(5);
  for (const [rows, cols, d] of [[50, 70, 4], [31, 20, 8], [64, 64, 12], [40, 90, 16], [33, 17, 20], [120, 100, 64], [7, 300, 68]]) {
    const a = randomCsr(rows, cols, 0.2, rng);
    const x = Float32Array.from({ length: cols * d }, () => 10 * rng.normal());
    const want = spmmArraysJs(a, x, d);
    const got = new Float32Array(rows * d);
    assert.equal(spmmWasm(a, x, d, got), true);
    // same float64 sums in the same order, one rounding to float32: identical bits
    assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `${rows}x${cols}, d ${d}`);
    assert.deepEqual(spmmArrays(a, x, d), want);
  }
});

test("a larger call grows the kernel's memory and a smaller one after it still reads its own inputs", () => {
  const rng = new Rng(6);
  const big = randomCsr(400, 500, 0.3, rng); // about 60k entries, X 500 x 64: a few MB
  const xBig = Float32Array.from({ length: 500 * 64 }, () => rng.normal());
  const small = randomCsr(5, 6, 0.5, rng);
  const xSmall = Float32Array.from({ length: 6 * 8 }, () => rng.normal());
  assert.deepEqual(spmmArrays(big, xBig, 64), spmmArraysJs(big, xBig, 64));
  assert.deepEqual(spmmArrays(small, xSmall, 8), spmmArraysJs(small, xSmall, 8));
});

test("widths that are not a multiple of 4 are left to the JS loops", () => {
  const a = randomCsr(4, 4, 0.5, new Rng(7));
  const x = Float32Array.from({ length: 4 * 6 }, (_, k) => k);
  const out = new Float32Array(4 * 6).fill(7);
  assert.equal(spmmWasm(a, x, 6, out), false);
  assert.ok(out.every((v) => v === 7));
  assert.deepEqual(spmmArrays(a, x, 6), spmmArraysJs(a, x, 6));
});
