/**
 * `npm run bench`: the training engine's speed per model, one JSON line per
 * measurement. For each model on ml-100k-sgdl (the synthetic ML-100K-sized
 * default when SGDL_DATA_DIR is unset or the files are absent), at the paper's
 * batch size and learning rate: ms per training step (training/step.ts, what
 * the trainer runs), seconds per epoch (one whole epoch measured, or
 * extrapolated from the step time when that would exceed --epoch-budget
 * seconds), seconds per full-ranking evaluation of the test split, and the
 * peak resident memory. Then the ops, BCE-model and graph-model
 * micro-benchmarks (src/bench/ops.ts, models-bce.ts, models-graph.ts) unless
 * --no-micro. `--mode memorization` instead times SGDL Phase I's tracking
 * against a normal epoch (src/bench/memorization.ts), `--mode phase2` SGDL's
 * Phase II step against a plain one (src/bench/meta-step.ts). Not a test.
 *   npm run bench -- [--backend B] [--dataset NAME] [--models a,b] [--reps N] [--epoch-budget S] [--no-micro]
 *   npm run bench -- --mode memorization [--backend B] [--dataset NAME] [--models a,b] [--reps EPOCHS]
 *   npm run bench -- --mode phase2 [--backend B] [--dataset NAME] [--models a,b] [--reps N] [--clock wall|cpu]
 */
import { parseArgs } from "node:util";
import { initBackend } from "../backend";
import { availableDatasets, loadDataset } from "../data/registry";
import { NegativeSampler } from "../data/sampler";
import { evaluateSplit } from "../eval/evaluate";
import { paperBatchSize, PAPER_LR } from "../experiments/presets";
import { createModel, isModelName, MODEL_NAMES } from "../models/registry";
import { Adam } from "../training/adam";
import { cutBatches, epochExamples, shuffleExamples } from "../training/batches";
import { gradientStep } from "../training/step";
import { Rng } from "../util/rng";
import { runModelsBench } from "./models-bce";
import { runMemorizationBench } from "./memorization";
import { runMetaStepBench } from "./meta-step";
import { runGraphBench } from "./models-graph";
import { runOpsBench } from "./ops";

/** One line of output. */
export interface EngineBenchRecord {
  bench: string;
  model: string;
  backend: string;
  dataset: string;
  [extra: string]: string | number | boolean;
}

let peakRss = 0;

/** Samples the resident set size; returns the running maximum in MB. */
function sampleRss(): number {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return Math.round(peakRss / 2 ** 20);
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export interface EngineBenchOptions {
  backend?: string;
  dataset?: string;
  models?: string[];
  /** Timed steps per model (after 3 warm-up steps), default 30. */
  reps?: number;
  /** Measure a whole epoch only if the step time predicts at most this many seconds (default 120); else extrapolate. */
  epochBudget?: number;
  emit?: (r: EngineBenchRecord) => void;
}

/** Step, epoch, evaluation time and peak memory per model through the trainer's step. */
export async function runEngineBench(opts: EngineBenchOptions = {}): Promise<EngineBenchRecord[]> {
  const backend = (await initBackend(opts.backend)).name;
  const dataset = opts.dataset ?? (availableDatasets().includes("ml-100k-sgdl") ? "ml-100k-sgdl" : "synthetic");
  const ds = loadDataset(dataset);
  const reps = opts.reps ?? 30;
  const budget = opts.epochBudget ?? 120;
  const out: EngineBenchRecord[] = [];
  const emit = (r: EngineBenchRecord) => {
    out.push(r);
    (opts.emit ?? ((x) => console.log(JSON.stringify(x))))(r);
  };
  const batchSize = paperBatchSize(dataset);
  for (const name of opts.models ?? MODEL_NAMES) {
    if (!isModelName(name)) throw new Error(`unknown model '${name}'; known: ${MODEL_NAMES.join(", ")}`);
    const lr = PAPER_LR[name];
    peakRss = 0; // sampledMaxMB is per model; processMaxMB is the process's peak so far
    const rng = new Rng(2020);
    const mc = { nUsers: ds.nUsers, nItems: ds.nItems, train: ds.train };
    const tBuild = performance.now();
    const { model, params } = createModel(name, mc, { lr }, rng.fork());
    const buildSeconds = (performance.now() - tBuild) / 1000;
    const adam = new Adam({ lr });
    const mode = { training: true, rng: rng.fork() };
    const sampler = new NegativeSampler(ds.train, rng.fork());
    const batches = cutBatches(shuffleExamples(epochExamples(model.loss, ds.train, sampler), rng.fork()), batchSize);
    const base = { model: name, backend, dataset };
    const times: number[] = [];
    for (let s = 0; s < Math.min(batches.length, reps + 3); s++) {
      const t0 = performance.now();
      gradientStep(model, params, adam, batches[s], mode);
      if (s >= 3) times.push(performance.now() - t0);
      sampleRss();
    }
    const stepMs = median(times);
    emit({ bench: "train-step", ...base, batch: batchSize, medianMs: round(stepMs), minMs: round(Math.min(...times)), reps: times.length, buildSeconds: round(buildSeconds) });
    const predicted = (stepMs * batches.length) / 1000;
    let epochSeconds = predicted;
    const measured = predicted <= budget;
    if (measured) {
      const t0 = performance.now();
      for (const b of batches) {
        gradientStep(model, params, adam, b, mode);
        sampleRss();
      }
      epochSeconds = (performance.now() - t0) / 1000;
    }
    emit({ bench: "epoch", ...base, batch: batchSize, steps: batches.length, seconds: round(epochSeconds), measured });
    const t0 = performance.now();
    const scorer = model.scorer(params);
    const res = await evaluateSplit(scorer, ds, "test", { ks: [5, 20], onProgress: () => void sampleRss() });
    if (scorer.dispose) scorer.dispose();
    emit({ bench: "full-ranking-eval", ...base, users: res.users.length, items: ds.nItems, seconds: round((performance.now() - t0) / 1000) });
    emit({ bench: "peak-rss", ...base, sampledMaxMB: sampleRss(), processMaxMB: Math.round(process.resourceUsage().maxRSS / 1024) });
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
      "epoch-budget": { type: "string" },
      "no-micro": { type: "boolean" },
      mode: { type: "string" },
      clock: { type: "string" },
    },
    strict: true,
  });
  const t0 = performance.now();
  const mode = values.mode ?? "engine";
  if (mode !== "engine" && mode !== "memorization" && mode !== "phase2") throw new Error(`--mode must be engine, memorization or phase2, got '${mode}'`);
  if (values.clock !== undefined && mode !== "phase2") throw new Error("--clock applies to --mode phase2 only");
  if (mode === "phase2") {
    const clock = values.clock ?? "wall";
    if (clock !== "wall" && clock !== "cpu") throw new Error(`--clock must be wall or cpu, got '${clock}'`);
    await runMetaStepBench({
      backend: values.backend,
      dataset: values.dataset,
      models: values.models?.split(","),
      reps: values.reps === undefined ? undefined : Number(values.reps),
      clock: clock,
    });
    console.log(JSON.stringify({ bench: "total", seconds: round((performance.now() - t0) / 1000, 1) }));
    return;
  }
  if (mode === "memorization") {
    await runMemorizationBench({
      backend: values.backend,
      dataset: values.dataset,
      models: values.models?.split(","),
      epochs: values.reps === undefined ? undefined : Number(values.reps),
    });
    console.log(JSON.stringify({ bench: "total", seconds: round((performance.now() - t0) / 1000, 1) }));
    return;
  }
  await runEngineBench({
    backend: values.backend,
    dataset: values.dataset,
    models: values.models?.split(","),
    reps: values.reps === undefined ? undefined : Number(values.reps),
    epochBudget: values["epoch-budget"] === undefined ? undefined : Number(values["epoch-budget"]),
  });
  if (!values["no-micro"]) {
    await runOpsBench(values.backend ?? "wasm");
    await runModelsBench({ backend: values.backend ?? "wasm", dataset: values.dataset });
    await runGraphBench(values.backend ?? "wasm");
  }
  console.log(JSON.stringify({ bench: "total", seconds: round((performance.now() - t0) / 1000, 1) }));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
