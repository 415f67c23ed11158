/**
 * Y = A X on typed arrays by a WebAssembly SIMD kernel, bit-identical to the JS
 * loops of spmmArrays (spmm.ts): the same float64 products and sums, in the same
 * order (two columns per f64x2 lane pair), rounded to float32 once on store; no
 * fused multiply-add in either. About 4x faster (the ml-100k-sgdl L, d = 64:
 * 4.6 ms -> 1.1 ms, copies in and out included). The module is assembled below
 * from its instructions: no build step and no binary blob. Without WebAssembly
 * SIMD (or for d % 4 != 0) spmmArrays keeps its JS loops.
 */
import type { Csr } from "./csr";

// Opcodes (WebAssembly core spec 2.0 and its fixed-width SIMD instructions, prefix 0xfd).
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
const GET = 0x20, SET = 0x21, TEE = 0x22;
const I32_LOAD = 0x28, F32_LOAD = 0x2a, I32_CONST = 0x41, I32_GT_U = 0x4b, I32_GE_U = 0x4f;
const I32_ADD = 0x6a, I32_MUL = 0x6c, I32_SHL = 0x74, F64_PROMOTE_F32 = 0xbb;
const simd = (code: number): number[] => [0xfd, ...uleb(code)];
const V128_LOAD = simd(0x00), V128_STORE = simd(0x0b), V128_CONST = simd(0x0c), SHUFFLE = simd(0x0d);
const F64X2_SPLAT = simd(0x14), F32X4_DEMOTE = simd(0x5e), F64X2_PROMOTE_LOW = simd(0x5f), F64X2_ADD = simd(0xf0), F64X2_MUL = simd(0xf2);
const I32 = 0x7f, V128 = 0x7b;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** A memory operand: alignment 2^align bytes, constant offset. */
const mem = (align: number, offset: number): number[] => [align, ...uleb(offset)];
const i32 = (v: number): number[] => [I32_CONST, ...uleb(v)]; // small non-negative constants only (their signed LEB128 = unsigned one below 64)
const vector = (section: number, items: number[][]): number[] => {
  const body = [...uleb(items.length), ...items.flat()];
  return [section, ...uleb(body.length), ...body];
};
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];

// Locals: parameters 0..6, then i32 r, j, k, hi, b, then v128 v, t, acc0..acc7.
const ROWS = 0, INDPTR = 1, INDICES = 2, VALUES = 3, X = 4, D = 5, OUT = 6;
const R = 7, J = 8, K = 9, HI = 10, B = 11, V = 12, T = 13, ACC = 14;

/** Passes of `width` columns (a multiple of 4) over row r while j + width <= d: the body of both loops, kernel of the kernel. */
function passes(width: number): number[] {
  const code: number[] = [BLOCK, VOID, LOOP, VOID];
  // exit when j + width > d
  code.push(GET, J, ...i32(width), I32_ADD, GET, D, I32_GT_U, BR_IF, 1);
  for (let i = 0; i < width / 2; i++) code.push(...V128_CONST, ...new Array<number>(16).fill(0), SET, ACC + i);
  // k = indptr[r], hi = indptr[r + 1]
  code.push(GET, INDPTR, GET, R, ...i32(2), I32_SHL, I32_ADD, TEE, B, I32_LOAD, ...mem(2, 0), SET, K);
  code.push(GET, B, I32_LOAD, ...mem(2, 4), SET, HI);
  code.push(BLOCK, VOID, LOOP, VOID, GET, K, GET, HI, I32_GE_U, BR_IF, 1);
  // v = splat(f64(values[k])); b = x + 4 (indices[k] d + j)
  code.push(GET, VALUES, GET, K, ...i32(2), I32_SHL, I32_ADD, F32_LOAD, ...mem(2, 0), F64_PROMOTE_F32, ...F64X2_SPLAT, SET, V);
  code.push(GET, X, GET, INDICES, GET, K, ...i32(2), I32_SHL, I32_ADD, I32_LOAD, ...mem(2, 0), GET, D, I32_MUL, GET, J, I32_ADD, ...i32(2), I32_SHL, I32_ADD, SET, B);
  for (let q = 0; q < width / 4; q++) {
    // four columns: acc[2q] += f64(x[0..1]) v, acc[2q+1] += f64(x[2..3]) v
    code.push(GET, B, ...V128_LOAD, ...mem(2, 16 * q), SET, T);
    code.push(GET, ACC + 2 * q, GET, T, ...F64X2_PROMOTE_LOW, GET, V, ...F64X2_MUL, ...F64X2_ADD, SET, ACC + 2 * q);
    code.push(GET, ACC + 2 * q + 1, GET, T, GET, T, ...SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    code.push(...F64X2_PROMOTE_LOW, GET, V, ...F64X2_MUL, ...F64X2_ADD, SET, ACC + 2 * q + 1);
  }
  code.push(GET, K, ...i32(1), I32_ADD, SET, K, BR, 0, END, END);
  // out[r d + j ..] = f32(acc): two demoted pairs joined into one vector per four columns
  code.push(GET, OUT, GET, R, GET, D, I32_MUL, GET, J, I32_ADD, ...i32(2), I32_SHL, I32_ADD, SET, B);
  for (let q = 0; q < width / 4; q++) {
    code.push(GET, B, GET, ACC + 2 * q, ...F32X4_DEMOTE, GET, ACC + 2 * q + 1, ...F32X4_DEMOTE);
    code.push(...SHUFFLE, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, ...V128_STORE, ...mem(2, 16 * q));
  }
  code.push(GET, J, ...i32(width), I32_ADD, SET, J, BR, 0, END, END);
  return code;
}

/** The module: memory "mem" and spmm(rows, indptr, indices, values, x, d, out), pointers as byte offsets, d % 4 == 0. */
function moduleBytes(): Uint8Array {
  const body: number[] = [2, 5, I32, 10, V128]; // local groups: 5 x i32, 10 x v128
  body.push(...i32(0), SET, R, BLOCK, VOID, LOOP, VOID, GET, R, GET, ROWS, I32_GE_U, BR_IF, 1);
  body.push(...i32(0), SET, J, ...passes(16), ...passes(4));
  body.push(GET, R, ...i32(1), I32_ADD, SET, R, BR, 0, END, END, END);
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...vector(1, [[0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0]]), // type: (i32 x 7) -> ()
    ...vector(3, [[0]]), // function 0 has type 0
    ...vector(5, [[0x00, 1]]), // memory: at least one page
    ...vector(7, [[...name("mem"), 0x02, 0], [...name("spmm"), 0x00, 0]]),
    ...vector(10, [[...uleb(body.length), ...body]]),
  ]);
}

/** The WebAssembly globals used here (the project's lib settings, ES2022 + node types, do not declare them). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface Kernel {
  memory: WasmMemory;
  spmm: (rows: number, indptr: number, indices: number, values: number, x: number, d: number, out: number) => void;
}

let kernel: Kernel | null | undefined; // undefined: not built yet; null: WebAssembly SIMD unavailable

function getKernel(): Kernel | null {
  if (kernel === undefined) {
    try {
      const exports = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes())).exports;
      if (typeof exports.spmm !== "function" || typeof exports.mem !== "object") throw new Error("spmm-wasm: unexpected exports");
      kernel = { memory: exports.mem as WasmMemory, spmm: exports.spmm as Kernel["spmm"] };
    } catch {
      kernel = null;
    }
  }
  return kernel;
}

/** Whether the SIMD kernel runs here (WebAssembly with SIMD). */
export function spmmWasmAvailable(): boolean {
  return getKernel() !== null;
}

/**
 * Y = A X into `out` by the SIMD kernel, X and Y row-major with d columns;
 * false (out untouched) when the kernel is unavailable or d % 4 != 0. Sizes are the caller's to check.
 */
export function spmmWasm(a: Csr, x: Float32Array, d: number, out: Float32Array): boolean {
  const k = d % 4 === 0 && d > 0 ? getKernel() : null;
  if (k === null) return false;
  const total = a.indptr[a.rows];
  const align = (bytes: number): number => Math.ceil(bytes / 16) * 16;
  const at = { indptr: 0, indices: align(4 * (a.rows + 1)), values: 0, x: 0, out: 0 };
  at.values = at.indices + align(4 * total);
  at.x = at.values + align(4 * total);
  at.out = at.x + align(4 * x.length);
  const bytes = at.out + 4 * a.rows * d;
  const pages = Math.ceil(bytes / 65536) - k.memory.buffer.byteLength / 65536;
  if (pages > 0) k.memory.grow(pages);
  const buf = k.memory.buffer;
  new Int32Array(buf, at.indptr, a.rows + 1).set(a.indptr.subarray(0, a.rows + 1));
  new Int32Array(buf, at.indices, total).set(a.indices.subarray(0, total));
  new Float32Array(buf, at.values, total).set(a.values.subarray(0, total));
  new Float32Array(buf, at.x, x.length).set(x);
  k.spmm(a.rows, at.indptr, at.indices, at.values, at.x, d, at.out);
  out.set(new Float32Array(buf, at.out, a.rows * d));
  return true;
}
