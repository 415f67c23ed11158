/**
 * SGDL Phase II, self-guided learning (paper Section 3.2; sgdl-reference 5),
 * as the Phase2 of sgdl.ts. Started at the switch with the memorized set M.
 * Every Phase II epoch: fresh negatives for M, shuffled (memorized-batches.ts);
 * the scheduler's own reset (lstm1); with `freshOptimizers` (code) new Adams
 * for the model and psi. Every step on a training batch B_t:
 *   1. the next memorized batch B_m (same size, in order, wrapping);
 *   2. the scheduler's inputs on B_m: loss and gradient cosine(s) between
 *      theta and the assumed update (scheduler-inputs.ts), its logits (Eq. 10),
 *      pi = softmax (Eq. 11) and |B_m| straight-through Gumbel draws S (Eq. 12);
 *   3. the meta step (meta-step.ts): l_meta = mean(S L(theta_hat(psi))) with
 *      theta_hat from Eq. 7, psi's Adam step on the exact d l_meta / d psi
 *      (Eq. 8; none when `weighting` is frozen), then the actual update with
 *      the new weights (Eq. 9) by ctx.optimizer, from per-sample gradient
 *      factors where the model has them (factored-update.ts);
 *   4. the scheduler's Adam step on d l_meta / d S through S (the same meta
 *      loss, as the code), and its carried state advanced.
 * Ablations (Table 3): `no-ads` skips 2 and 4 (the meta loss is the mean over
 * B_m); `no-dls` trains plainly on M's examples (no meta-learning).
 *
 * Resumable (sgdl.ts): exportState/importState carry psi and its Adam, the
 * memorized batches (this epoch's order, negatives, cursor, streams), the
 * scheduler (Scheduler.exportState: phi, its Adam, lstm's carried states),
 * every Phase II stream, the epoch counter, the feature columns, metaLr and
 * Figure 5's samples. The per-epoch statistics are not saved: a checkpoint
 * is taken after afterEpoch has read them, and beforeEpoch starts new ones.
 * The model's Adam is the trainer's (ctx.optimizer, saved by the trainer).
 */
import * as tf from "@tensorflow/tfjs";
import type { Interactions } from "../../data/interactions";
import { NegativeSampler } from "../../data/sampler";
import type { Batch } from "../../models/model";
import { Adam } from "../../training/adam";
import { exampleCount, type EpochExamples } from "../../training/batches";
import type { FieldValue } from "../../training/events";
import type { EpochVerdict, StepFn, TrainContext } from "../../training/method";
import type { StateReader, StateWriter } from "../../training/method-state";
import type { StepResult } from "../../training/step";
import { Rng } from "../../util/rng";
import { MemorizedBatches, type MemorizedBatchesState } from "./memorized-batches";
import { metaStep } from "./meta-step";
import type { SgdlOptions } from "./options";
import { Phase2EpochStats, rowNoise, type Figure5Samples } from "./phase2-stats";
import { createScheduler, type Scheduler, type SchedulerDraw, type SchedulerState } from "./scheduler";
import { schedulerInputs } from "./scheduler-inputs";
import type { Phase2 } from "./sgdl";
import { createWeighting, psiTensors, weights, weightsOf, type WeightingNet } from "./weighting";

/** Rows of (loss, weight, label) kept for Figure 5. */
export const FIGURE5_SAMPLES = 3000;
/** Points of the weighting curve g(L) kept for Figure 5. */
export const FIGURE5_CURVE_POINTS = 101;

/** Phase II's state from the switch on. */
interface State {
  rng: Rng;
  net: WeightingNet;
  metaOptimizer: Adam;
  metaLr: number;
  batches: MemorizedBatches;
  /** The memorized batches' negative sampler's stream. */
  samplerRng: Rng;
  memorizedSize: number;
  scheduler: Scheduler | null;
  schedulerRng: Rng;
  gumbelRng: Rng;
  statsRng: Rng;
  stats: Phase2EpochStats;
  epochs: number;
  figure5: (Figure5Samples & { curveLoss: number[]; curveWeight: number[] }) | null;
  featureColumns: number;
}

/** The weighting curve g(L; psi) on an even grid over [0, maxLoss] (Figure 5). */
export function weightingCurve(net: WeightingNet, maxLoss: number, points = FIGURE5_CURVE_POINTS): { loss: number[]; weight: number[] } {
  const top = maxLoss > 0 && Number.isFinite(maxLoss) ? maxLoss : 1;
  const grid = Float32Array.from({ length: points }, (_, i) => (top * i) / (points - 1));
  return { loss: Array.from(grid), weight: Array.from(weightsOf(net, grid)) };
}

/** Figure 5's kept samples and curve from a state. */
function readFigure5(r: StateReader): NonNullable<State["figure5"]> {
  const loss = r.nums("loss");
  const same = (key: string, n: number): number[] => r.nums(key, n);
  const curveLoss = r.nums("curveLoss");
  return {
    epoch: r.int("epoch", 1),
    loss,
    weight: same("weight", loss.length),
    noisy: same("noisy", loss.length),
    curveLoss,
    curveWeight: same("curveWeight", curveLoss.length),
  };
}

/** SGDL's Phase II with the given options (the `sgdl` method's). */
export function createPhase2(o: SgdlOptions): Phase2 {
  let s: State | null = null;
  const state = (): State => {
    if (s === null) throw new Error("sgdl Phase II: used before start (the switch)");
    return s;
  };

  /** A new scheduler with `columns` features, phi drawn from rng. */
  const newScheduler = (columns: number, rng: Rng): Scheduler => createScheduler({ kind: o.scheduler, features: columns, lr: o.scheduleLr }, rng);

  /** The scheduler, built at the first step when the number of feature columns is known. */
  const schedulerFor = (st: State, columns: number): Scheduler => {
    if (st.scheduler === null) {
      st.scheduler = newScheduler(columns, st.schedulerRng);
      st.featureColumns = columns;
    }
    return st.scheduler;
  };

  /** A weighting net of the options' shape (psi drawn from rng). */
  const newNet = (rng: Rng): WeightingNet => createWeighting({ hidden: o.weightingHidden, init: o.weightingInit, bias: true }, rng);

  /** Steps 2-4 of a step (module doc). */
  const selfGuidedStep = (st: State, batch: Batch, ctx: TrainContext): StepResult => {
    const t0 = performance.now();
    const mem = st.batches.next(exampleCount(batch));
    const eta1 = ctx.optimizer.lr; // Eq. 7's eta1 = the model's lr (code: args.lr)
    let draw: SchedulerDraw | undefined;
    if (o.ablation !== "no-ads") {
      const source = o.cosineFrom === "train" ? batch : mem.batch;
      const inp = schedulerInputs(ctx.model, ctx.params, source, mem.batch, (l) => weights(psiTensors(st.net.params), l), eta1, o.cosine, () => ctx.forwardMode(false));
      const scheduler = schedulerFor(st, inp.columns);
      const features = tf.tensor2d(inp.features, [exampleCount(mem.batch), inp.columns]);
      try {
        draw = scheduler.draw(features, { draws: exampleCount(mem.batch), tau: o.tau, rng: st.gumbelRng, ids: mem.ids }); // Eq. 10-12
      } finally {
        features.dispose();
      }
    }
    const t1 = performance.now();
    try {
      const res = metaStep(
        {
          model: ctx.model,
          params: ctx.params,
          optimizer: ctx.optimizer,
          net: st.net,
          metaOptimizer: st.metaOptimizer,
          train: batch,
          memorized: mem.batch,
          mode: ctx.forwardMode(true),
          selection: draw?.selection,
          // no actualStep: the actual update steps ctx.optimizer (this epoch's, see freshOptimizers) in ctx.forwardMode(true),
          // from B_t's factors where the model has them (NeuMF), else by gradientStep, which is what ctx.plainStep runs;
          // the trainer counts the iteration after this step either way
        },
        // topf's S [F x B] trains nothing, and picks the same meta loss at either level
        { weighting: o.weighting, eta1, metaLr: st.metaLr, assumedFrom: o.metaFrom, selectionLevel: o.scheduler === "topf" ? "loss" : o.selectionLevel },
      ); // Eq. 7-9
      const t2 = performance.now();
      if (draw !== undefined && st.scheduler !== null) {
        if (res.selectionGrad !== null) st.scheduler.trainFromSelectionGrad(draw, res.selectionGrad);
        st.scheduler.advance();
        st.stats.addSelection(draw.picks, mem.noisy); // the draws' picks (Eq. 12), as S's one-hot columns
      }
      const noise = Int8Array.from({ length: exampleCount(batch) }, (_, n) => rowNoise(ctx.dataset.train, batch, n));
      st.stats.addWeights(res.losses, res.weights, noise);
      st.stats.addMeta(res.metaLoss, res.psiGradNorm);
      st.stats.addTiming({ schedulerInputs: t1 - t0, metaStep: t2 - t1, schedulerStep: performance.now() - t2 }); // per-step ms in the epoch log
      return { loss: res.loss, size: res.size };
    } finally {
      draw?.selection.dispose();
    }
  };

  return {
    start(ctx: TrainContext, memorized: Interactions): void {
      const rng = ctx.rng.fork();
      const metaLr = o.metaLr > 0 ? o.metaLr : ctx.optimizer.lr; // paper: eta2 = eta1
      const net = newNet(rng.fork());
      const samplerRng = rng.fork();
      s = {
        rng,
        net,
        metaOptimizer: new Adam({ lr: metaLr }),
        metaLr,
        batches: new MemorizedBatches(memorized, ctx.model.loss, new NegativeSampler(ctx.dataset.train, samplerRng), rng.fork()),
        samplerRng,
        memorizedSize: memorized.indptr[memorized.nUsers],
        scheduler: null,
        schedulerRng: rng.fork(),
        gumbelRng: rng.fork(),
        statsRng: rng.fork(),
        stats: new Phase2EpochStats(0, rng),
        epochs: 0,
        figure5: null,
        featureColumns: 0,
      };
    },

    exportState(w: StateWriter): void {
      const st = state();
      for (const [key, r] of [["rng", st.rng], ["samplerRng", st.samplerRng], ["schedulerRng", st.schedulerRng], ["gumbelRng", st.gumbelRng], ["statsRng", st.statsRng]] as const) w.rng(key, r);
      const psi = w.child("psi");
      for (const p of st.net.params.list()) psi.array(p.name, p.data);
      w.pack("metaAdam", st.metaOptimizer.exportState(st.net.params));
      w.set("metaLr", st.metaLr);
      w.pack("batches", st.batches.exportState());
      w.set("memorizedSize", st.memorizedSize);
      w.set("featureColumns", st.featureColumns);
      w.pack("scheduler", st.scheduler === null ? null : st.scheduler.exportState());
      w.set("epochs", st.epochs);
      w.pack("figure5", st.figure5);
    },

    importState(r: StateReader, ctx: TrainContext, memorized: Interactions): void {
      const stream = (key: string): Rng => {
        const x = new Rng(1);
        r.rng(key, x);
        return x;
      };
      const rng = stream("rng");
      const samplerRng = stream("samplerRng");
      const net = newNet(new Rng(1)); // psi comes from the state
      const psi = r.child("psi");
      for (const p of net.params.list()) p.data.set(psi.array(p.name, Float32Array, p.data.length));
      const extra = psi.keys().filter((k) => !net.params.list().some((p) => p.name === k));
      if (extra.length > 0) r.fail("psi", `has parameters the weighting net (hidden ${o.weightingHidden}) does not: ${extra.join(", ")}`);
      const adam = r.adam("metaAdam");
      const metaOptimizer = r.wrap("metaAdam", () => {
        const a = new Adam({ lr: adam.lr, beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps });
        a.importState(adam, net.params);
        return a;
      });
      const memorizedSize = r.int("memorizedSize", 1);
      if (memorizedSize !== memorized.indptr[memorized.nUsers]) r.fail("memorizedSize", `is ${memorizedSize}, M at the memorization point has ${memorized.indptr[memorized.nUsers]}`);
      const batches = new MemorizedBatches(memorized, ctx.model.loss, new NegativeSampler(ctx.dataset.train, samplerRng), new Rng(1));
      const saved = r.unpack("batches");
      r.wrap("batches", () => batches.importState(saved as MemorizedBatchesState));
      const featureColumns = r.int("featureColumns");
      let scheduler: Scheduler | null = null;
      if (r.has("scheduler")) {
        if (featureColumns < 1) r.fail("featureColumns", `is ${featureColumns}, but a scheduler was saved`);
        const sch = newScheduler(featureColumns, new Rng(1)); // phi comes from the state
        const value = r.unpack("scheduler");
        r.wrap("scheduler", () => sch.importState(value as SchedulerState));
        scheduler = sch;
      }
      s = {
        rng,
        net,
        metaOptimizer,
        metaLr: r.num("metaLr"),
        batches,
        samplerRng,
        memorizedSize,
        scheduler,
        schedulerRng: stream("schedulerRng"),
        gumbelRng: stream("gumbelRng"),
        statsRng: stream("statsRng"),
        stats: new Phase2EpochStats(0, rng),
        epochs: r.int("epochs"),
        figure5: r.has("figure5") ? readFigure5(r.child("figure5")) : null,
        featureColumns,
      };
    },

    beforeEpoch(ctx: TrainContext): void {
      const st = state();
      st.batches.startEpoch();
      if (st.scheduler !== null) st.scheduler.startEpoch(st.schedulerRng); // lstm1: a new scheduler each epoch (code)
      if (o.freshOptimizers) {
        ctx.optimizer = new Adam({ lr: ctx.optimizer.lr }); // code: train_opt and meta_opt re-created every Phase II epoch
        st.metaOptimizer = new Adam({ lr: st.metaLr });
      }
      st.stats = new Phase2EpochStats(FIGURE5_SAMPLES, st.statsRng);
    },

    examples(ctx: TrainContext): EpochExamples {
      return o.ablation === "no-dls" ? state().batches.epochExamples() : ctx.defaultExamples();
    },

    step(batch: Batch, ctx: TrainContext, plainStep: StepFn): StepResult {
      if (o.ablation === "no-dls") return plainStep(batch); // Table 3: Phase II trains on M only
      return selfGuidedStep(state(), batch, ctx);
    },

    afterEpoch(_ctx: TrainContext, log): EpochVerdict {
      const st = state();
      st.epochs++;
      if (o.ablation !== "no-dls" && (o.figure5Epoch === 0 || o.figure5Epoch === log.epoch)) {
        const samples = st.stats.figure5(log.epoch);
        const curve = weightingCurve(st.net, Math.max(0, ...samples.loss));
        st.figure5 = { ...samples, curveLoss: curve.loss, curveWeight: curve.weight };
      }
      return { fields: st.stats.fields() };
    },

    describe(): Record<string, FieldValue | null> {
      const out: Record<string, FieldValue | null> = { phase2Epochs: s === null ? 0 : s.epochs };
      if (s === null) return out;
      out.memorizedSize = s.memorizedSize;
      out.schedulerFeatures = s.featureColumns;
      out.weightingNet = `1 -> ${o.weightingHidden} (relu) -> 1 (sigmoid), ${o.weightingInit} init, ${o.weighting}`;
      const f = s.figure5;
      if (f !== null) {
        out.figure5At = f.epoch;
        out.figure5Loss = f.loss;
        out.figure5Weight = f.weight;
        out.figure5Noisy = f.noisy;
        out.figure5CurveLoss = f.curveLoss;
        out.figure5CurveWeight = f.curveWeight;
      }
      return out;
    },
  };
}
