/**
 * Benchmark of SGDL's Phase II step (methods/sgdl/meta-step.ts) against the
 * trainer's plain step (training/step.ts), one JSON line per model: ms per
 * plain step, per exact meta step (learned psi: assumed update, second-order
 * meta-gradient, psi's Adam, actual update), its meta-gradient part alone, and
 * per frozen step (psi fixed: the published code), with the ratios and the
 * epoch times they imply. The target: a Phase II epoch <= 3x a normal
 * one (paper 3.3.4). Memorized batches are drawn from a second shuffle of the
 * training examples (same size and kind as M's batches). Steps alternate
 * plain / meta / frozen so drift hits all alike. Not a test.
 *   node --import tsx src/bench/meta-step.ts [--backend wasm|cpu] [--dataset NAME] [--models lightgcn,neumf] [--reps N] [--batch B]
 * Default dataset: ml-100k-sgdl when present under SGDL_DATA_DIR, else synthetic.
 */
import { parseArgs } from "node:util";
import { initBackend } from "../backend";
import { availableDatasets, loadDataset } from "../data/registry";
import { NegativeSampler } from "../data/sampler";
import { PAPER_LR } from "../experiments/presets";
import { metaGradient, metaStep, resolveMetaOptions } from "../methods/sgdl/meta-step";
import { createWeighting } from "../methods/sgdl/weighting";
import { createModel, isModelName, MODEL_NAMES } from "../models/registry";
import { Adam } from "../training/adam";
import { cutBatches, epochExamples, shuffleExamples } from "../training/batches";
import { gradientStep } from "../training/step";
import { Rng } from "../util/rng";

/** One line of output. */
export interface MetaBenchRecord {
  bench: string;
  model: string;
  backend: string;
  dataset: string;
  [extra: string]: string | number | boolean;
}

export interface MetaBenchOptions {
  backend?: string;
  dataset?: string;
  /** Default lightgcn and neumf. */
  models?: string[];
  /** Timed steps of each kind per model (after 3 warm-up steps each), default 20. */
  reps?: number;
  /** Default 128 (the paper's MovieLens batch). */
  batch?: number;
  emit?: (r: MetaBenchRecord) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Times plain, meta and frozen steps per model; one record per model. */
export async function runMetaStepBench(opts: MetaBenchOptions = {}): Promise<MetaBenchRecord[]> {
  const backend = (await initBackend(opts.backend ?? "wasm")).name;
  const dataset = opts.dataset ?? (availableDatasets().includes("ml-100k-sgdl") ? "ml-100k-sgdl" : "synthetic");
  const ds = loadDataset(dataset);
  const reps = opts.reps ?? 20;
  const batchSize = opts.batch ?? 128;
  const out: MetaBenchRecord[] = [];
  for (const name of opts.models ?? ["lightgcn", "neumf"]) {
    if (!isModelName(name)) throw new Error(`unknown model '${name}'; known: ${MODEL_NAMES.join(", ")}`);
    const lr = PAPER_LR[name];
    const rng = new Rng(2022);
    const { model, params } = createModel(name, { nUsers: ds.nUsers, nItems: ds.nItems, train: ds.train }, { lr }, rng.fork());
    const net = createWeighting({}, rng.fork());
    const optimizer = new Adam({ lr });
    const metaOptimizer = new Adam({ lr });
    const mode = { training: true, rng: rng.fork() };
    const sampler = new NegativeSampler(ds.train, rng.fork());
    const examples = epochExamples(model.loss, ds.train, sampler);
    const batches = cutBatches(shuffleExamples(examples, rng.fork()), batchSize).filter((b) => b.users.length === batchSize);
    const memorized = cutBatches(shuffleExamples(examples, rng.fork()), batchSize).filter((b) => b.users.length === batchSize);
    const times = { plain: [] as number[], meta: [] as number[], metaGrad: [] as number[], frozen: [] as number[] };
    const gradOptions = resolveMetaOptions({}, lr);
    for (let s = 0; s < reps + 3; s++) {
      const b = batches[s % batches.length];
      const m = memorized[s % memorized.length];
      const t0 = performance.now();
      gradientStep(model, params, optimizer, b, mode);
      const t1 = performance.now();
      metaStep({ model, params, optimizer, net, metaOptimizer, train: b, memorized: m, mode });
      const t2 = performance.now();
      metaGradient({ model, params, net, train: b, memorized: m, mode }, gradOptions);
      const t3 = performance.now();
      metaStep({ model, params, optimizer, net, metaOptimizer, train: b, memorized: m, mode }, { weighting: "frozen" });
      const t4 = performance.now();
      if (s < 3) continue; // warm-up
      times.plain.push(t1 - t0);
      times.meta.push(t2 - t1);
      times.metaGrad.push(t3 - t2);
      times.frozen.push(t4 - t3);
    }
    const plainMs = median(times.plain);
    const metaMs = median(times.meta);
    const steps = Math.ceil(examples.users.length / batchSize);
    const rec: MetaBenchRecord = {
      bench: "meta-step",
      model: name,
      backend,
      dataset,
      path: String(model.describe().propagation ?? "-"),
      batch: batchSize,
      reps,
      plainMs: round(plainMs),
      metaMs: round(metaMs),
      metaGradientMs: round(median(times.metaGrad)),
      frozenMs: round(median(times.frozen)),
      ratio: round(metaMs / plainMs),
      frozenRatio: round(median(times.frozen) / plainMs),
      stepsPerEpoch: steps,
      plainEpochS: round((plainMs * steps) / 1000, 1),
      metaEpochS: round((metaMs * steps) / 1000, 1),
    };
    out.push(rec);
    (opts.emit ?? ((r) => console.log(JSON.stringify(r))))(rec);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: "string" },
      dataset: { type: "string" },
      models: { type: "string" },
      reps: { type: "string" },
      batch: { type: "string" },
    },
    strict: true,
  });
  await runMetaStepBench({
    backend: values.backend,
    dataset: values.dataset,
    models: values.models?.split(","),
    reps: values.reps === undefined ? undefined : Number(values.reps),
    batch: values.batch === undefined ? undefined : Number(values.batch),
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
