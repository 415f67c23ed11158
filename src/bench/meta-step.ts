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
 * For a model with linear rows (LightGCN's operator path) the meta step takes
 * the closed form of methods/sgdl/linear-meta.ts ("auto"), for one with
 * per-sample gradient factors (NeuMF) that of methods/sgdl/factored-meta.ts;
 * the record then also times the general path (and for linear rows the
 * one-off P P^T). For a model with factors the actual update (Eq. 9) is taken
 * from them (methods/sgdl/factored-update.ts); the record also times the meta
 * step with the autodiff actual update (metaAutodiffUpdateMs) and the actual
 * update alone: from the step's kept factors, from recomputed ones, and by
 * autodiff (actualFactoredMs, actualFactoredColdMs, actualAutodiffMs). Every model's record times a whole Phase II step as
 * phase2.ts runs it with the paper's options (scheduler inputs from the
 * training batch, one cosine, lstm draw, meta step with the selection and the
 * actual update, the scheduler's step), on each path (for factors also the
 * fast path with the autodiff actual update: phase2FastAutodiffUpdate*), and splits its ratio
 * as paper 3.3.4 does: self-guided learning (the meta step, Eq. 7-9) and the
 * scheduler (inputs, draw, step). For a model without a sparse propagation
 * (NeuMF, CDAE) the record also counts the dense matmul multiply-adds of one
 * plain step and of one whole Phase II step per path (bench/matmul-macs.ts:
 * plainMatMulMacs, phase2*MatMulMacs, phase2*MatMulMacRatio): the work a step
 * must do whatever the backend, the floor under its time ratio.
 *   node --import tsx src/bench/meta-step.ts [--backend wasm|cpu] [--dataset NAME] [--models lightgcn,neumf] [--reps N] [--batch B] [--clock wall|cpu]
 * Default dataset: ml-100k-sgdl when present under SGDL_DATA_DIR, else synthetic.
 */
import { parseArgs } from "node:util";
import { initBackend } from "../backend";
import { availableDatasets, loadDataset } from "../data/registry";
import { NegativeSampler } from "../data/sampler";
import { PAPER_LR } from "../experiments/presets";
import * as tf from "@tensorflow/tfjs";
import { forgetFactoredPoints } from "../methods/sgdl/factored-cache";
import { countMatMulMacs } from "./matmul-macs";
import { factoredActualUpdate } from "../methods/sgdl/factored-update";
import { operatorGram } from "../methods/sgdl/linear-meta";
import { metaGradient, metaStep, resolveMetaOptions, type ActualUpdatePath, type MetaStepInputs } from "../methods/sgdl/meta-step";
import { createScheduler } from "../methods/sgdl/scheduler";
import { schedulerInputs } from "../methods/sgdl/scheduler-inputs";
import { createWeighting, psiTensors, weights, type WeightingNet } from "../methods/sgdl/weighting";
import type { Batch, ForwardMode, Model } from "../models/model";
import type { ParamStore } from "../models/ops/embedding-table";
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
  /** "wall" (default) or "cpu": this process's CPU time, steadier when other jobs share the cores. */
  clock?: "wall" | "cpu";
  emit?: (r: MetaBenchRecord) => void;
}

/** The bench's clock in ms: wall time (default) or this process's CPU time (user + system; steadier on a loaded machine). */
let now = (): number => performance.now();

/** CPU time of this process in ms. */
function cpuNow(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The parts of one Phase II step (ms); actualUpdate is the part of meta spent in the actual update (Eq. 9: from factors, or a plain gradient step). */
interface Phase2Times {
  inputs: number;
  draw: number;
  meta: number;
  actualUpdate: number;
  schedulerStep: number;
}

/** One Phase II step as phase2.ts (paper options: cosines from B_t, "all", lstm, learned psi), timed by part. */
function phase2Step(
  env: { model: Model; params: ParamStore; optimizer: Adam; net: WeightingNet; metaOptimizer: Adam; mode: ForwardMode; lr: number },
  scheduler: ReturnType<typeof createScheduler>,
  rng: Rng,
  train: Batch,
  memorized: Batch,
  ids: Int32Array,
  path: "auto" | "general",
  actualUpdate: ActualUpdatePath,
): Phase2Times {
  const t0 = now();
  const inp = schedulerInputs(env.model, env.params, train, memorized, (l) => weights(psiTensors(env.net.params), l), env.lr, "all", () => env.mode, path);
  const t1 = now();
  const b = memorized.users.length;
  const features = tf.tensor2d(inp.features, [b, inp.columns]);
  const draw = scheduler.draw(features, { draws: b, tau: 0.05, rng, ids });
  features.dispose();
  const t2 = now();
  const mi: MetaStepInputs = { ...env, train, memorized, selection: draw.selection, path, actualUpdate, clock: now };
  const res = metaStep(mi, { eta1: env.lr, metaLr: env.lr });
  const t3 = now();
  if (res.selectionGrad !== null) scheduler.trainFromSelectionGrad(draw, res.selectionGrad);
  scheduler.advance();
  draw.selection.dispose();
  const t4 = now();
  return { inputs: t1 - t0, draw: t2 - t1, meta: t3 - t2, actualUpdate: res.actualUpdateMs, schedulerStep: t4 - t3 };
}

/** Times plain, meta and frozen steps per model; one record per model. */
export async function runMetaStepBench(opts: MetaBenchOptions = {}): Promise<MetaBenchRecord[]> {
  const backend = (await initBackend(opts.backend ?? "wasm")).name;
  const clock = opts.clock ?? "wall";
  if (clock !== "wall" && clock !== "cpu") throw new Error(`--clock must be wall or cpu, got '${String(clock)}'`);
  now = clock === "cpu" ? cpuNow : (): number => performance.now();
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
    const times = { plain: [] as number[], meta: [] as number[], metaAutodiff: [] as number[], metaGrad: [] as number[], frozen: [] as number[], metaGeneral: [] as number[] };
    const actual = { kept: [] as number[], cold: [] as number[], autodiff: [] as number[] };
    const gradOptions = resolveMetaOptions({}, lr);
    const linear = model.linearRows !== undefined;
    const fast = linear || model.perSampleGradients !== undefined; // a fast path to compare with the general one
    const factors = model.perSampleGradients !== undefined && model.perSampleGradients.applies(mode); // the actual update from factors
    let gramMs = 0;
    if (model.linearRows !== undefined) {
      const g0 = now();
      operatorGram(model.linearRows); // one-off, cached for the run
      gramMs = now() - g0;
    }
    for (let s = 0; s < reps + 3; s++) {
      const b = batches[s % batches.length];
      const m = memorized[s % memorized.length];
      const t0 = now();
      gradientStep(model, params, optimizer, b, mode);
      const t1 = now();
      metaStep({ model, params, optimizer, net, metaOptimizer, train: b, memorized: m, mode });
      const t2 = now();
      metaGradient({ model, params, net, train: b, memorized: m, mode }, gradOptions);
      const t3 = now();
      metaStep({ model, params, optimizer, net, metaOptimizer, train: b, memorized: m, mode }, { weighting: "frozen" });
      const t4 = now();
      if (fast) metaStep({ model, params, optimizer, net, metaOptimizer, train: b, memorized: m, mode, path: "general", actualUpdate: "autodiff" });
      const t5 = now();
      if (factors) metaStep({ model, params, optimizer, net, metaOptimizer, train: b, memorized: m, mode, actualUpdate: "autodiff" });
      const t6 = now();
      if (s < 3) continue; // warm-up
      times.plain.push(t1 - t0);
      times.meta.push(t2 - t1);
      times.metaGrad.push(t3 - t2);
      times.frozen.push(t4 - t3);
      if (fast) times.metaGeneral.push(t5 - t4);
      if (factors) times.metaAutodiff.push(t6 - t5);
    }
    // the actual update alone (Eq. 9 with the current psi): from the kept factors of a step (a meta-gradient just took them), recomputed, by autodiff
    if (factors) {
      const wOf = (l: tf.Tensor1D): tf.Tensor1D => weights(psiTensors(net.params), l);
      const weighted = (l: tf.Tensor1D): tf.Scalar => tf.tidy(() => tf.mean(tf.mul(wOf(l), l)) as tf.Scalar);
      for (let s = 0; s < reps + 3; s++) {
        const b = batches[s % batches.length];
        metaGradient({ model, params, net, train: b, memorized: memorized[s % memorized.length], mode }, gradOptions);
        const t0 = now();
        const kept = factoredActualUpdate({ model, params, optimizer, train: b, mode }, wOf, true);
        const t1 = now();
        forgetFactoredPoints();
        const t2 = now();
        factoredActualUpdate({ model, params, optimizer, train: b, mode }, wOf);
        const t3 = now();
        gradientStep(model, params, optimizer, b, mode, weighted);
        const t4 = now();
        if (kept === null || !kept.kept) throw new Error("bench: the actual update found no kept factors after a meta-gradient");
        if (s < 3) continue;
        actual.kept.push(t1 - t0);
        actual.cold.push(t3 - t2);
        actual.autodiff.push(t4 - t3);
      }
    }
    // whole Phase II steps (the model's fast path, and for models with one also the general path), against plain steps in between
    const phase2: Record<string, Phase2Times> = {};
    let plain2 = 0;
    // the work of a step apart from its speed: dense matmul multiply-adds (a sparse propagation runs outside TF.js's kernels, so not for graph models)
    const countMacs = model.describe().propagation === undefined;
    const phase2Macs: Record<string, number> = {};
    let plainMacs = 0;
    {
      const env = { model, params, optimizer, net, metaOptimizer, mode, lr };
      const plainTimes: number[] = [];
      const variants: { tag: string; path: "auto" | "general"; update: ActualUpdatePath }[] = [{ tag: "Fast", path: "auto", update: "auto" }];
      if (factors) variants.push({ tag: "FastAutodiffUpdate", path: "auto", update: "autodiff" });
      if (fast) variants.push({ tag: "General", path: "general", update: "autodiff" });
      for (const { tag, path, update } of variants) {
        const scheduler = createScheduler({ kind: "lstm", features: 2, lr: 1e-3 }, rng.fork());
        const drawRng = rng.fork();
        const parts: Phase2Times[] = [];
        for (let s = 0; s < reps + 3; s++) {
          const b = batches[s % batches.length];
          const t0 = now();
          gradientStep(model, params, optimizer, b, mode);
          const t1 = now();
          const k = s % memorized.length; // memorized-sample ids: positions in M's shuffle
          const ids = Int32Array.from({ length: batchSize }, (_, j) => k * batchSize + j);
          const p = phase2Step(env, scheduler, drawRng, b, memorized[k], ids, path, update);
          if (s < 3) continue;
          plainTimes.push(t1 - t0);
          parts.push(p);
        }
        const med = (k: keyof Phase2Times): number => round(median(parts.map((x) => x[k])));
        phase2[tag] = { inputs: med("inputs"), draw: med("draw"), meta: med("meta"), actualUpdate: med("actualUpdate"), schedulerStep: med("schedulerStep") };
        if (countMacs) {
          const k = reps % memorized.length;
          const ids = Int32Array.from({ length: batchSize }, (_, j) => k * batchSize + j);
          phase2Macs[tag] = await countMatMulMacs(() => phase2Step(env, scheduler, drawRng, batches[reps % batches.length], memorized[k], ids, path, update));
        }
      }
      plain2 = median(plainTimes);
      if (countMacs) plainMacs = await countMatMulMacs(() => gradientStep(model, params, optimizer, batches[0], mode));
    }
    const plainMs = median(times.plain);
    const metaMs = median(times.meta);
    const steps = Math.ceil(examples.users.length / batchSize);
    const rec: MetaBenchRecord = {
      bench: "meta-step",
      model: name,
      backend,
      dataset,
      clock,
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
    if (fast) {
      rec.metaPath = linear ? "linear (closed form)" : "factored (per-sample gradients)";
      rec.metaGeneralMs = round(median(times.metaGeneral));
    }
    if (factors) {
      rec.actualUpdatePath = "factored";
      rec.metaAutodiffUpdateMs = round(median(times.metaAutodiff));
      rec.metaAutodiffUpdateRatio = round(median(times.metaAutodiff) / plainMs);
      rec.actualFactoredMs = round(median(actual.kept));
      rec.actualFactoredColdMs = round(median(actual.cold));
      rec.actualAutodiffMs = round(median(actual.autodiff));
    }
    if (linear) {
      const nodes = model.linearRows?.nodes ?? 0;
      rec.gramMs = round(gramMs, 0);
      rec.gramMB = round((4 * nodes * nodes) / 1e6, 1);
    }
    rec.phase2PlainMs = round(plain2);
    if (countMacs) rec.plainMatMulMacs = plainMacs;
    {
      for (const [tag, p] of Object.entries(phase2)) {
        const total = p.inputs + p.draw + p.meta + p.schedulerStep;
        rec[`phase2${tag}InputsMs`] = p.inputs;
        rec[`phase2${tag}DrawMs`] = p.draw;
        rec[`phase2${tag}MetaMs`] = p.meta;
        rec[`phase2${tag}ActualUpdateMs`] = p.actualUpdate;
        rec[`phase2${tag}SchedulerStepMs`] = p.schedulerStep;
        rec[`phase2${tag}Ms`] = round(total);
        rec[`phase2${tag}Ratio`] = round(total / plain2);
        // paper 3.3.4's accounting: self-guided learning (Eq. 7-9: meta step with the actual update) is O(T), "no more
        // than three times" normal training; the scheduler (its inputs, draw and step) is the separate O(|D| d l) term
        rec[`phase2${tag}SelfGuidedRatio`] = round(p.meta / plain2);
        rec[`phase2${tag}SchedulerRatio`] = round((p.inputs + p.draw + p.schedulerStep) / plain2);
        rec[`phase2${tag}EpochS`] = round((total * steps) / 1000, 1);
        if (countMacs) {
          rec[`phase2${tag}MatMulMacs`] = phase2Macs[tag];
          rec[`phase2${tag}MatMulMacRatio`] = round(phase2Macs[tag] / plainMacs);
        }
      }
    }
    out.push(rec);
    (opts.emit ?? ((r) => console.log(JSON.stringify(r))))(rec);
  }
  return out;
}

function badClock(v: string): never {
  throw new Error(`--clock must be wall or cpu, got '${v}'`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: "string" },
      dataset: { type: "string" },
      models: { type: "string" },
      reps: { type: "string" },
      batch: { type: "string" },
      clock: { type: "string" },
    },
    strict: true,
  });
  await runMetaStepBench({
    backend: values.backend,
    dataset: values.dataset,
    models: values.models?.split(","),
    reps: values.reps === undefined ? undefined : Number(values.reps),
    batch: values.batch === undefined ? undefined : Number(values.batch),
    clock: values.clock === undefined ? undefined : values.clock === "cpu" ? "cpu" : values.clock === "wall" ? "wall" : badClock(values.clock),
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
