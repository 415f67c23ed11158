/**
 * `npm run bench -- --mode memorization`: what SGDL's Phase I tracking adds to
 * an epoch. Per model, at the paper's batch size and lr: a normal training
 * epoch (the trainer's step over every batch) and, after it, Phase I's
 * per-epoch work (phase1.ts: scorer, memorization test over all users, the
 * GMM's per-sample losses, normalisation, GMM fit, switch rule), for the
 * paper's options (pool all, global) and the code's (pool 2n, per-user), with
 * the losses read off the scores (default) or from the model's loss
 * ("gmmLosses model"). Prints one JSON line per measurement with
 * ratio = (epoch + tracking) / epoch; the budget is 1.3. Not a test.
 */
import { initBackend } from "../backend";
import { availableDatasets, loadDataset } from "../data/registry";
import { NegativeSampler } from "../data/sampler";
import { paperBatchSize, PAPER_LR } from "../experiments/presets";
import { Phase1 } from "../methods/sgdl/phase1";
import { createModel, isModelName } from "../models/registry";
import { Adam } from "../training/adam";
import { cutBatches, epochExamples, shuffleExamples } from "../training/batches";
import { gradientStep, perSampleLosses } from "../training/step";
import { Rng } from "../util/rng";

export interface MemorizationBenchOptions {
  backend?: string;
  dataset?: string;
  /** Default lightgcn and neumf. */
  models?: string[];
  /** Epochs measured per model (median reported), default 2. */
  epochs?: number;
  emit?: (r: Record<string, string | number | boolean>) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** Times normal epochs and Phase I's tracking after each; emits the ratio per option set. */
export async function runMemorizationBench(opts: MemorizationBenchOptions = {}): Promise<Array<Record<string, string | number | boolean>>> {
  const backend = (await initBackend(opts.backend)).name;
  const dataset = opts.dataset ?? (availableDatasets().includes("ml-100k-sgdl") ? "ml-100k-sgdl" : "synthetic");
  const ds = loadDataset(dataset);
  const out: Array<Record<string, string | number | boolean>> = [];
  const emit = (r: Record<string, string | number | boolean>): void => {
    out.push(r);
    (opts.emit ?? ((x) => console.log(JSON.stringify(x))))(r);
  };
  const variants = [
    { options: "paper", pool: "all", normalize: "global", gmmLosses: "scores" },
    { options: "code", pool: "2n", normalize: "per-user", gmmLosses: "scores" },
    { options: "code+model-losses", pool: "2n", normalize: "per-user", gmmLosses: "model" },
  ] as const;
  const nEpochs = opts.epochs ?? 2;
  for (const name of opts.models ?? ["lightgcn", "neumf"]) {
    if (!isModelName(name)) throw new Error(`unknown model '${name}'`);
    const rng = new Rng(2020);
    const lr = PAPER_LR[name];
    const { model, params } = createModel(name, { nUsers: ds.nUsers, nItems: ds.nItems, train: ds.train }, { lr }, rng.fork());
    const adam = new Adam({ lr });
    const mode = { training: true, rng: rng.fork() };
    const sampler = new NegativeSampler(ds.train, rng.fork());
    const shuffle = rng.fork();
    const phases = variants.map(
      (v) => new Phase1(ds.train, model.loss, { pool: v.pool, rule: "code", h: 10, normalize: v.normalize, shift: 0, shiftMode: "absolute", figure4Epoch: 0 }, rng.fork()),
    );
    const epochTimes: number[] = [];
    const trackTimes: number[][] = variants.map(() => []);
    for (let e = 0; e < nEpochs; e++) {
      const batches = cutBatches(shuffleExamples(epochExamples(model.loss, ds.train, sampler), shuffle), paperBatchSize(dataset));
      const t0 = performance.now();
      for (const b of batches) gradientStep(model, params, adam, b, mode);
      epochTimes.push((performance.now() - t0) / 1000);
      variants.forEach((v, j) => {
        const t1 = performance.now();
        const scorer = model.scorer(params);
        const lossesOf = v.gmmLosses === "model" ? (ex: Parameters<typeof perSampleLosses>[2]) => perSampleLosses(model, params, ex, { training: false, rng }, 4096) : undefined;
        phases[j].observe(scorer, lossesOf);
        if (scorer.dispose) scorer.dispose();
        trackTimes[j].push((performance.now() - t1) / 1000);
      });
    }
    const epoch = median(epochTimes);
    variants.forEach((v, j) => {
      const track = median(trackTimes[j]);
      emit({
        bench: "memorization",
        model: name,
        backend,
        dataset,
        options: v.options,
        epochSeconds: round(epoch),
        trackingSeconds: round(track),
        ratio: round((epoch + track) / epoch),
        withinBudget: (epoch + track) / epoch <= 1.3,
        epochs: nEpochs,
      });
    });
  }
  return out;
}
