/**
 * Benchmark of the graph recommenders, one JSON line per measurement: ms per
 * training step at batch 128 (leaf tensors, forward + backward by tf.grads on
 * the leaves, gradients read back, Adam update in JS) for LightGCN on both
 * propagation paths and for NGCF (training mode, with dropout), the epoch time
 * that implies (and, with --epoch, a measured full epoch), and ms per
 * full-ranking scorer pass over all users. Not a test.
 *   node --import tsx src/bench/models-graph.ts [--backend wasm|cpu] [--reps N] [--epoch]
 * Uses ml-100k-sgdl when present under SGDL_DATA_DIR, else the synthetic default.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend";
import type { Dataset } from "../data/dataset";
import { availableDatasets, loadDataset } from "../data/registry";
import { bprTriples } from "../data/sampler";
import { createLightGCN } from "../models/lightgcn";
import type { Batch, Model, ModelContext, ModelInstance } from "../models/model";
import { createNGCF } from "../models/ngcf";
import { gatherRowsArray, scatterAddRows, type Param, type ParamStore } from "../models/ops/embedding-table";
import { Adam, OPTIMIZER_SEMANTICS, type ParamGradient } from "../training/adam";
import { Rng } from "../util/rng";

const BATCH = 128;
const SCORE_BLOCK = 100; // the official code's test_u_batch_size

/** One line of the benchmark's output. */
export interface GraphBenchRecord {
  bench: string;
  backend: string;
  dataset: string;
  [extra: string]: string | number | boolean;
}

/** One training step: leaves from the params, mean per-sample loss, gradients on the leaves, Adam. Returns the loss. */
export function trainStep(model: Model, params: ParamStore, adam: Adam, batch: Batch, rng: Rng): number {
  const specs = model.leaves(batch);
  const { loss, grads } = tf.tidy(() => {
    const tensors = specs.map((s) => {
      const p = params.get(s.param);
      return s.rows === undefined ? tf.tensor(p.data.slice(), [...p.shape]) : tf.tensor2d(gatherRowsArray(p, s.rows), [s.rows.length, p.shape[1]]);
    });
    const mode = { training: true, rng };
    const f = tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const leaves: Record<string, tf.Tensor> = {};
      specs.forEach((s, k) => (leaves[s.key] = xs[k]));
      return tf.mean(model.losses(leaves, batch, mode));
    });
    const r = f(tensors);
    return { loss: r.value, grads: r.grads };
  });
  const lossValue = loss.dataSync()[0];
  const perLeaf = grads.map((g) => g.dataSync() as Float32Array);
  tf.dispose([loss, ...grads]);
  // fold the leaves onto their parameters: whole leaves dense, row leaves lazily
  const dense = new Map<Param, Float32Array>();
  const rows = new Map<Param, Array<{ idx: Int32Array; grad: Float32Array }>>();
  specs.forEach((s, k) => {
    const p = params.get(s.param);
    if (s.rows === undefined) {
      const acc = dense.get(p);
      if (acc === undefined) dense.set(p, perLeaf[k]);
      else for (let j = 0; j < acc.length; j++) acc[j] += perLeaf[k][j];
    } else {
      const list = rows.get(p) ?? [];
      list.push({ idx: s.rows, grad: perLeaf[k] });
      rows.set(p, list);
    }
  });
  const updates: Array<[Param, ParamGradient]> = [];
  for (const [p, g] of dense) updates.push([p, { kind: "dense", grad: g }]);
  for (const [p, parts] of rows) {
    if (dense.has(p)) throw new Error(`trainStep: parameter '${p.name}' is read both whole and by rows`);
    const folded = scatterAddRows(p.shape[1], parts);
    updates.push([p, { kind: "rows", rows: folded.rows, grad: folded.grad }]);
  }
  adam.step(updates);
  return lossValue;
}

/** The batches of one epoch: BPR triples with fresh negatives, shuffled, cut into batches. */
function epochBatches(ds: Dataset, rng: Rng): Batch[] {
  const t = bprTriples(ds.train, rng);
  const order = rng.shuffle(Int32Array.from({ length: t.users.length }, (_, k) => k));
  const out: Batch[] = [];
  for (let s = 0; s < order.length; s += BATCH) {
    const idx = order.subarray(s, Math.min(order.length, s + BATCH));
    out.push({ kind: "bpr", users: idx.map((k) => t.users[k]), pos: idx.map((k) => t.pos[k]), neg: idx.map((k) => t.neg[k]) });
  }
  return out;
}

function stats(ts: number[]): { medianMs: number; minMs: number } {
  const s = [...ts].sort((a, b) => a - b);
  return { medianMs: round(s[Math.floor(s.length / 2)]), minMs: round(s[0]) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Runs the benchmark and returns its records. */
export async function runGraphBench(backendName = "wasm", reps = 30, fullEpoch = false): Promise<GraphBenchRecord[]> {
  const backend = (await initBackend(backendName)).name;
  const name = availableDatasets().includes("ml-100k-sgdl") ? "ml-100k-sgdl" : "synthetic";
  const ds = loadDataset(name);
  const ctx: ModelContext = { nUsers: ds.nUsers, nItems: ds.nItems, train: ds.train };
  const out: GraphBenchRecord[] = [];
  const emit = (bench: string, extra: Record<string, string | number | boolean>): void => {
    const rec: GraphBenchRecord = { bench, backend, dataset: name, ...extra };
    out.push(rec);
    console.log(JSON.stringify(rec));
  };

  const variants: Array<{ label: string; make: () => ModelInstance; lr: number }> = [
    { label: "lightgcn-operator", make: () => createLightGCN(ctx, { propagation: "operator" }, new Rng(1)), lr: 1e-3 },
    { label: "lightgcn-spmm", make: () => createLightGCN(ctx, { propagation: "spmm" }, new Rng(1)), lr: 1e-3 },
    { label: "ngcf", make: () => createNGCF(ctx, {}, new Rng(1)), lr: 1e-4 },
  ];
  for (const v of variants) {
    const t0 = performance.now();
    const { model, params } = v.make();
    const buildMs = round(performance.now() - t0);
    const facts = { model: v.label, path: String(model.describe().propagation), batch: BATCH, optimizer: OPTIMIZER_SEMANTICS };
    const rng = new Rng(2);
    const adam = new Adam({ lr: v.lr });
    const batches = epochBatches(ds, rng);
    for (let k = 0; k < 3; k++) trainStep(model, params, adam, batches[k], rng); // warm-up
    const ts: number[] = [];
    for (let k = 0; k < reps; k++) {
      const b = batches[(3 + k) % batches.length];
      const s = performance.now();
      trainStep(model, params, adam, b, rng);
      ts.push(performance.now() - s);
    }
    const step = stats(ts);
    emit("train-step", { ...facts, ...step, reps, buildMs, stepsPerEpoch: batches.length, epochEstimateS: round((step.medianMs * batches.length) / 1000) });
    if (fullEpoch) {
      const s = performance.now();
      let lossSum = 0;
      for (const b of batches) lossSum += trainStep(model, params, adam, b, rng);
      emit("train-epoch", { ...facts, epochS: round((performance.now() - s) / 1000), steps: batches.length, meanLoss: Number((lossSum / batches.length).toFixed(6)) });
    }
    const rank = (): void => {
      const score = model.scorer(params);
      for (let u = 0; u < ds.nUsers; u += SCORE_BLOCK) {
        score(Int32Array.from({ length: Math.min(SCORE_BLOCK, ds.nUsers - u) }, (_, k) => u + k));
      }
    };
    rank();
    const rs: number[] = [];
    for (let k = 0; k < Math.max(3, Math.floor(reps / 5)); k++) {
      const s = performance.now();
      rank();
      rs.push(performance.now() - s);
    }
    emit("full-ranking-scores", { ...facts, ...stats(rs), users: ds.nUsers, items: ds.nItems, block: SCORE_BLOCK });
    if (tf.memory().numTensors !== 0) emit("leak", { ...facts, tensors: tf.memory().numTensors });
  }
  return out;
}

function argValue(flag: string): string | undefined {
  const k = process.argv.indexOf(flag);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

if (require.main === module) {
  runGraphBench(argValue("--backend") ?? "wasm", Number(argValue("--reps") ?? 30), process.argv.includes("--epoch")).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
