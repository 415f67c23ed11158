/**
 * Micro-benchmark of the training engine's low-level ops, one JSON line per
 * measurement: SpMM forward/backward on the ML-100K (SGDL split) graph, and a
 * lazy vs dense Adam step on a Yelp-sized embedding table. Not a test.
 *   node --import tsx src/bench/ops.ts [--backend wasm|cpu] [--reps N]
 * Reads $SGDL_DATA_DIR/ml-100k/sgdl/ml100k.train.rating when SGDL_DATA_DIR is
 * set, else a random graph of the same size (497 users, 1,683 items, 66,899 edges).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend";
import { fromTriples, type Interactions } from "../data/interactions";
import { normalizedAdjacency, nnz } from "../models/ops/csr";
import { createParam, gatherRows, scatterAddRows } from "../models/ops/embedding-table";
import { SparseOperator, spmm, spmmArrays } from "../models/ops/spmm";
import { Adam, OPTIMIZER_SEMANTICS } from "../training/adam";
import { Rng } from "../util/rng";

/** One line of the benchmark's output. */
export interface OpsBenchRecord {
  bench: string;
  backend: string;
  medianMs: number;
  minMs: number;
  reps: number;
  [extra: string]: string | number;
}

/** Median and minimum wall time of fn over reps runs (after 2 warm-up runs). */
function timeIt(fn: () => void, reps: number): { medianMs: number; minMs: number } {
  fn();
  fn();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { medianMs: round(ts[Math.floor(ts.length / 2)]), minMs: round(ts[0]) };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The ML-100K train split of the official SGDL code, or a random graph of its size. */
function benchGraph(rng: Rng): { train: Interactions; source: string } {
  const dir = process.env.SGDL_DATA_DIR;
  const file = dir ? path.join(dir, "ml-100k", "sgdl", "ml100k.train.rating") : "";
  if (dir && fs.existsSync(file)) {
    const users: number[] = [];
    const items: number[] = [];
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      const f = line.split("\t");
      users.push(Number(f[0]));
      items.push(Number(f[1]));
    }
    return { train: fromTriples(497, 1683, users, items, new Uint8Array(users.length)), source: "ml-100k/sgdl train" };
  }
  const seen = new Set<number>();
  const users: number[] = [];
  const items: number[] = [];
  while (users.length < 66899) {
    const u = rng.int(497);
    const i = rng.int(1683);
    const key = u * 1683 + i;
    if (seen.has(key)) continue;
    seen.add(key);
    users.push(u);
    items.push(i);
  }
  return { train: fromTriples(497, 1683, users, items, new Uint8Array(users.length)), source: "random graph of ml-100k/sgdl size" };
}

/** Runs the benchmark and returns its records. */
export async function runOpsBench(backendName?: string, reps = 20): Promise<OpsBenchRecord[]> {
  const backend = (await initBackend(backendName)).name;
  const rng = new Rng(1);
  const out: OpsBenchRecord[] = [];
  const emit = (bench: string, t: { medianMs: number; minMs: number }, extra: Record<string, string | number> = {}): void => {
    const rec: OpsBenchRecord = { bench, backend, ...t, reps, ...extra };
    out.push(rec);
    console.log(JSON.stringify(rec));
  };

  // SpMM on the user-item graph
  const { train, source } = benchGraph(rng);
  const a = normalizedAdjacency(train);
  const op = SparseOperator.of(a);
  const d = 64;
  const flops = 2 * nnz(a) * d;
  const graph = { graph: source, nodes: a.rows, nnz: nnz(a), d };
  const xv = Float32Array.from({ length: a.cols * d }, () => 0.1 * rng.normal());
  const yv = new Float32Array(a.rows * d);
  const kernel = timeIt(() => spmmArrays(a, xv, d, yv), reps);
  emit("spmm-kernel-js", kernel, { ...graph, gflops: round(flops / kernel.medianMs / 1e6) });
  const x = tf.tensor2d(xv, [a.cols, d]);
  const w = tf.randomNormal([a.rows, d]);
  emit("spmm-forward", timeIt(() => tf.tidy(() => spmm(op, x)).dispose(), reps), graph);
  const grad = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(w, spmm(op, z as tf.Tensor2D))));
  emit("spmm-forward+backward", timeIt(() => tf.tidy(() => grad(x)).dataSync(), reps), graph);
  const threeLayers = tf.grad((z: tf.Tensor) => {
    const e1 = spmm(op, z as tf.Tensor2D);
    const e2 = spmm(op, e1);
    return tf.sum(tf.mul(w, spmm(op, e2)));
  });
  emit("spmm-3-layers-forward+backward", timeIt(() => tf.tidy(() => threeLayers(x)).dataSync(), reps), graph);
  x.dispose();
  w.dispose();

  // Adam on a Yelp-sized table: lazy rows vs dense
  const rows = 102944;
  const dim = 64;
  const batch = 2048;
  const table = { rows, dim, batchRows: batch, semantics: OPTIMIZER_SEMANTICS };
  const lazyParam = createParam("item", "table", [rows, dim], { kind: "normal", std: 0.1 }, rng);
  const denseParam = createParam("item", "table", [rows, dim], { kind: "normal", std: 0.1 }, rng);
  const idx = Int32Array.from({ length: batch }, () => rng.int(rows));
  const perPosition = Float32Array.from({ length: batch * dim }, () => rng.normal());
  const rowGrad = scatterAddRows(dim, [{ idx, grad: perPosition }]);
  const lazy = new Adam({ lr: 1e-3 });
  emit("adam-lazy-step", timeIt(() => lazy.step([[lazyParam, { kind: "rows", rows: rowGrad.rows, grad: rowGrad.grad }]]), reps), {
    ...table,
    uniqueRows: rowGrad.rows.length,
  });
  const full = new Float32Array(rows * dim);
  for (let n = 0; n < rowGrad.rows.length; n++) full.set(rowGrad.grad.subarray(n * dim, (n + 1) * dim), rowGrad.rows[n] * dim);
  const dense = new Adam({ lr: 1e-3 });
  emit("adam-dense-step", timeIt(() => dense.step([[denseParam, { kind: "dense", grad: full }]]), reps), table);
  emit("gather-rows", timeIt(() => gatherRows(lazyParam, idx).dispose(), reps), table);
  emit("scatter-add-rows", timeIt(() => scatterAddRows(dim, [{ idx, grad: perPosition }]), reps), table);
  return out;
}

function argValue(flag: string): string | undefined {
  const k = process.argv.indexOf(flag);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

if (require.main === module) {
  const reps = Number(argValue("--reps") ?? 20);
  runOpsBench(argValue("--backend") ?? "wasm", reps).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
