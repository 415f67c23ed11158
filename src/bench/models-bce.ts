/**
 * Benchmark of the BCE recommenders (NeuMF, CDAE; MF for scale), one JSON line
 * per measurement: ms per training step (leaves copied in, forward, backward by
 * tf.grads over the leaves, scatterAddRows, Adam) at batch 128 and 1024 with the
 * epoch time it implies (one negative per positive), the time of one whole
 * epoch at batch 128, and seconds per full ranking of all users over all items. Not a test.
 *   node --import tsx src/bench/models-bce.ts [--backend wasm|cpu] [--reps N] [--dataset NAME] [--models neumf,cdae,mf]
 * Dataset: ml-100k-sgdl when SGDL_DATA_DIR is set, else the synthetic default (ML-100K-sized).
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend";
import { NegativeSampler } from "../data/sampler";
import { loadDataset } from "../data/registry";
import type { Interactions } from "../data/interactions";
import { createCDAE } from "../models/cdae";
import { createMF } from "../models/mf";
import type { Batch, LeafTensors, Model, ModelInstance } from "../models/model";
import { createNeuMF } from "../models/neumf";
import { gatherRows, paramTensor, scatterAddRows, tableDims, type GatheredGradient, type Param, type ParamStore } from "../models/ops/embedding-table";
import { Adam, OPTIMIZER_SEMANTICS, type ParamGradient } from "../training/adam";
import { Rng } from "../util/rng";

/** One line of the benchmark's output. */
export interface ModelsBenchRecord {
  bench: string;
  model: string;
  backend: string;
  dataset: string;
  [extra: string]: string | number;
}

type ModelKey = "neumf" | "cdae" | "mf";

function create(name: ModelKey, train: Interactions, rng: Rng): ModelInstance {
  const ctx = { nUsers: train.nUsers, nItems: train.nItems, train };
  if (name === "neumf") return createNeuMF(ctx, {}, rng);
  if (name === "cdae") return createCDAE(ctx, {}, rng);
  return createMF(ctx, { loss: "bce" }, rng);
}

/** One epoch of BCE pairs: every training positive (label 1) and one sampled negative per positive (label 0), shuffled. */
function bceEpoch(train: Interactions, rng: Rng): { users: Int32Array; items: Int32Array; labels: Float32Array } {
  const sampler = new NegativeSampler(train, rng.fork());
  const nPos = train.indptr[train.nUsers];
  const users = new Int32Array(2 * nPos);
  const items = new Int32Array(2 * nPos);
  const labels = new Float32Array(2 * nPos);
  for (let u = 0, k = 0; u < train.nUsers; u++) {
    for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++, k++) {
      users[2 * k] = u;
      items[2 * k] = train.items[p];
      labels[2 * k] = 1;
      users[2 * k + 1] = u;
      items[2 * k + 1] = sampler.sample(u);
    }
  }
  const order = rng.shuffle(Int32Array.from({ length: 2 * nPos }, (_, i) => i));
  return { users: order.map((i) => users[i]), items: order.map((i) => items[i]), labels: Float32Array.from(order, (i) => labels[i]) };
}

/** One training step: leaves in, gradients of the mean loss w.r.t. them, folded onto parameters, Adam. */
function trainStep(model: Model, params: ParamStore, adam: Adam, batch: Batch, rng: Rng): number {
  const specs = model.leaves(batch);
  const leaves = specs.map((s) => (s.rows === undefined ? paramTensor(params.get(s.param)) : gatherRows(params.get(s.param), s.rows)));
  const { value, grads } = tf.tidy(() => {
    const f = (...xs: tf.Tensor[]): tf.Scalar => {
      const m: Record<string, tf.Tensor> = {};
      specs.forEach((s, i) => (m[s.key] = xs[i]));
      return tf.mean(model.losses(m as LeafTensors, batch, { training: true, rng }));
    };
    return tf.valueAndGrads(f)(leaves);
  });
  const arrays = grads.map((g) => g.dataSync() as Float32Array);
  const loss = value.dataSync()[0];
  tf.dispose([value, ...grads, ...leaves]);
  const rowParts = new Map<Param, GatheredGradient[]>();
  const update: Array<[Param, ParamGradient]> = [];
  specs.forEach((s, i) => {
    const p = params.get(s.param);
    if (s.rows === undefined) update.push([p, { kind: "dense", grad: arrays[i] }]);
    else rowParts.set(p, [...(rowParts.get(p) ?? []), { idx: s.rows, grad: arrays[i] }]);
  });
  for (const [p, parts] of rowParts) {
    const r = scatterAddRows(tableDims(p).dim, parts);
    update.push([p, { kind: "rows", rows: r.rows, grad: r.grad }]);
  }
  adam.step(update);
  return loss;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs the benchmark and returns its records (also printed as JSON lines). */
export async function runModelsBench(opts: { backend?: string; reps?: number; dataset?: string; models?: ModelKey[] } = {}): Promise<ModelsBenchRecord[]> {
  const backend = (await initBackend(opts.backend ?? "wasm")).name;
  const datasetName = opts.dataset ?? (process.env.SGDL_DATA_DIR ? "ml-100k-sgdl" : "synthetic");
  const ds = loadDataset(datasetName);
  const train = ds.train;
  const reps = opts.reps ?? 30;
  const out: ModelsBenchRecord[] = [];
  const emit = (r: ModelsBenchRecord) => {
    out.push(r);
    console.log(JSON.stringify(r));
  };
  const rng = new Rng(2022);
  const epoch = bceEpoch(train, rng);
  const pairs = epoch.users.length;
  for (const name of opts.models ?? (["neumf", "cdae", "mf"] as ModelKey[])) {
    for (const batchSize of [128, 1024]) {
      const { model, params } = create(name, train, new Rng(1));
      const adam = new Adam({ lr: 1e-3 });
      const times: number[] = [];
      for (let r = 0; r < reps + 3; r++) {
        const start = (r * batchSize) % (pairs - batchSize);
        const batch: Batch = {
          kind: "bce",
          users: epoch.users.slice(start, start + batchSize),
          items: epoch.items.slice(start, start + batchSize),
          labels: epoch.labels.slice(start, start + batchSize),
        };
        const t0 = performance.now();
        trainStep(model, params, adam, batch, rng);
        if (r >= 3) times.push(performance.now() - t0);
      }
      const steps = Math.ceil(pairs / batchSize);
      emit({
        bench: "step",
        model: name,
        backend,
        dataset: datasetName,
        batch: batchSize,
        medianMs: round(median(times)),
        minMs: round(Math.min(...times)),
        reps,
        stepsPerEpoch: steps,
        epochSecondsEstimate: round((median(times) * steps) / 1000, 2),
        optimizer: OPTIMIZER_SEMANTICS,
        tensorsAfter: tf.memory().numTensors,
      });
    }
    {
      // one whole epoch at batch 128 (the paper's ML batch size), every batch once
      const { model, params } = create(name, train, new Rng(1));
      const adam = new Adam({ lr: 1e-3 });
      const t0 = performance.now();
      let lossSum = 0;
      for (let start = 0; start < pairs; start += 128) {
        const end = Math.min(pairs, start + 128);
        const batch: Batch = { kind: "bce", users: epoch.users.slice(start, end), items: epoch.items.slice(start, end), labels: epoch.labels.slice(start, end) };
        lossSum += trainStep(model, params, adam, batch, rng);
      }
      emit({
        bench: "epoch",
        model: name,
        backend,
        dataset: datasetName,
        batch: 128,
        pairs,
        steps: Math.ceil(pairs / 128),
        seconds: round((performance.now() - t0) / 1000, 2),
        meanLoss: round(lossSum / Math.ceil(pairs / 128), 4),
        tensorsAfter: tf.memory().numTensors,
      });
    }
    const { model, params } = create(name, train, new Rng(1));
    const users = Int32Array.from({ length: train.nUsers }, (_, u) => u);
    const t0 = performance.now();
    const scorer = model.scorer(params);
    let checksum = 0;
    for (let b0 = 0; b0 < users.length; b0 += 256) {
      const s = scorer(users.subarray(b0, Math.min(b0 + 256, users.length)));
      checksum += s[0];
    }
    emit({
      bench: "full-ranking",
      model: name,
      backend,
      dataset: datasetName,
      users: train.nUsers,
      items: train.nItems,
      seconds: round((performance.now() - t0) / 1000),
      checksum: round(checksum, 6),
      tensorsAfter: tf.memory().numTensors,
    });
  }
  return out;
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module) {
  const reps = flag("reps");
  const models = flag("models");
  runModelsBench({
    backend: flag("backend"),
    reps: reps === undefined ? undefined : Number(reps),
    dataset: flag("dataset"),
    models: models === undefined ? undefined : (models.split(",") as ModelKey[]),
  }).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
