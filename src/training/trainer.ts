/**
 * The training loop (sgdl-reference 2.3 and 6): per epoch, the method's
 * examples are shuffled and cut into mini-batches, one step per batch; every
 * `evalFreq` epochs the model is validated (valid split, train items masked)
 * and early stopping on Recall@ks[0] decides checkpoints and the stop
 * (training/early-stopping.ts); at the end the best checkpoint is tested once
 * (train and valid items masked), or the last parameters when no validation
 * ran. Validating after epoch e (counted from 1) when e % evalFreq == 0 is
 * the official "validate before 0-based epoch e's training when
 * e % eval_freq == 0" (sgdl-reference 5.1, 6) without its check of the
 * untrained model at e = 0. The method (training/method.ts) shapes the steps; this file never names
 * a particular one. A run is a pure function of (dataset, settings, method,
 * model factory, seed): all randomness comes from streams forked off the seed.
 * With `checkpoint`, the state after each validated epoch (or each epoch the
 * method's checkpointAfter names) is saved to a file, with the method's own
 * state if it has one (Method.exportState), and a later call resumes from it
 * (training/resume.ts), giving the same result as an uninterrupted run (only
 * wall times differ); methods that are not `resumable` are not checkpointed.
 */
import { evaluateSplit, metricKey, type EvalOptions, type EvalResult } from "../eval/evaluate";
import type { Dataset } from "../data/dataset";
import type { Interactions } from "../data/interactions";
import { NegativeSampler } from "../data/sampler";
import type { Batch, ForwardMode, Model, ModelContext, ModelInstance } from "../models/model";
import type { ParamStore } from "../models/ops/embedding-table";
import { Rng } from "../util/rng";
import { Adam } from "./adam";
import { cutBatches, epochExamples, shuffleExamples, type EpochExamples } from "./batches";
import { EarlyStopping } from "./early-stopping";
import { restoreCheckpoint, saveCheckpoint, type RunIdentity } from "./resume";
import type { EpochLog, EventListener, Metrics, TrainEvent } from "./events";
import type { Method, StepFn, TrainContext, TrainSettings } from "./method";
import { gradientStep, meanObjective, perSampleLosses, type Objective, type StepResult } from "./step";

/** Builds a model with freshly initialised parameters from a seeded stream. */
export type ModelFactory = (ctx: ModelContext, rng: Rng) => ModelInstance;

export interface TrainOptions {
  dataset: Dataset;
  createModel: ModelFactory;
  /** The training method; a method without hooks is plain training. */
  method: Method;
  settings: TrainSettings;
  seed: number;
  onEvent?: EventListener;
  /** Users per scorer call in evaluation (default 256). */
  evalUserBlock?: number;
  /** Save a checkpoint at `path` after every validated epoch and resume from it when it exists (its key must be runKey). */
  checkpoint?: { path: string; runKey: string };
}

export interface TrainResult {
  epochs: EpochLog[];
  /** The restored checkpoint: its epoch and validation value, or null if no validation ran. */
  best: { epoch: number; metric: string; value: number } | null;
  stoppedEarly: boolean;
  test: EvalResult;
  /** The tested model and parameters (the best checkpoint, else the last). */
  model: Model;
  params: ParamStore;
  /** Wall time of the whole run; of a resumed run, the segments' times up to their last checkpoints plus the last segment's. */
  seconds: number;
  /** Epochs after which the run resumed from a checkpoint (empty when it ran in one go). */
  resumedFrom: number[];
}

/** The independent random streams of a run, forked off the seed in a fixed order. */
export interface SeedStreams {
  model: Rng;
  sampler: Rng;
  shuffle: Rng;
  forward: Rng;
  method: Rng;
  /** Seeds for models re-created during the run (resetModel). */
  reset: Rng;
}

/** Forks the run's random streams off one seed (same seed, same streams). */
export function seedStreams(seed: number): SeedStreams {
  const root = new Rng(seed);
  return { model: root.fork(), sampler: root.fork(), shuffle: root.fork(), forward: root.fork(), method: root.fork(), reset: root.fork() };
}

/** Checks the loop's settings; throws a RangeError naming the setting. */
export function checkSettings(s: TrainSettings): void {
  const posInt = (name: keyof TrainSettings, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  posInt("epochs", s.epochs);
  posInt("batchSize", s.batchSize);
  posInt("evalFreq", s.evalFreq);
  posInt("stopStep", s.stopStep);
  if (!(Number.isFinite(s.lr) && s.lr > 0)) throw new RangeError(`lr must be a positive number, got ${s.lr}`);
  if (s.ks.length === 0 || s.ks.some((k) => !Number.isInteger(k) || k < 1)) throw new RangeError(`ks must be positive integers, got [${s.ks.join(", ")}]`);
}

/** Names of the fixed epoch-log fields a method may not overwrite. */
const FIXED_FIELDS = new Set(["epoch", "phase", "loss", "seconds", "valid"]);

/** The mutable state behind a TrainContext. */
class Context implements TrainContext {
  model: Model;
  params: ParamStore;
  optimizer: Adam;
  epoch = 0;
  iteration = 0;
  phase = "normal";
  readonly modelContext: ModelContext;
  readonly sampler: NegativeSampler;
  readonly rng: Rng;
  stopper: EarlyStopping;
  checkpoint: { model: Model; params: ParamStore; epoch: number; value: number } | null = null;
  /** resetModel built a model over other training interactions: a checkpoint could not rebuild it. */
  modelOverOtherData = false;

  constructor(
    readonly settings: TrainSettings,
    readonly dataset: Dataset,
    private readonly method: Method,
    private readonly streams: SeedStreams,
    private readonly factory: ModelFactory,
    private readonly listener: EventListener,
  ) {
    this.modelContext = { nUsers: dataset.nUsers, nItems: dataset.nItems, train: dataset.train };
    const inst = factory(this.modelContext, streams.model);
    this.model = inst.model;
    this.params = inst.params;
    this.optimizer = new Adam({ lr: settings.lr });
    this.sampler = new NegativeSampler(dataset.train, streams.sampler);
    this.rng = streams.method;
    this.stopper = new EarlyStopping(settings.stopStep);
  }

  defaultExamples(): EpochExamples {
    return epochExamples(this.model.loss, this.dataset.train, this.sampler);
  }

  forwardMode(training: boolean): ForwardMode {
    return { training, rng: this.streams.forward };
  }

  losses(examples: Batch, opts: { params?: ParamStore; training?: boolean } = {}): Float32Array {
    const chunk = Math.max(4096, this.settings.batchSize);
    return perSampleLosses(this.model, opts.params ?? this.params, examples, this.forwardMode(opts.training ?? false), chunk);
  }

  plainStep(batch: Batch, objective?: Objective): StepResult {
    return gradientStep(this.model, this.params, this.optimizer, batch, this.forwardMode(true), objective ?? this.methodObjective);
  }

  /** The method's objective bound to this context, or the mean. */
  readonly methodObjective: Objective = (losses, batch) =>
    this.method.objective ? this.method.objective(losses, batch, this) : meanObjective(losses, batch);

  resetModel(train?: Interactions): ModelInstance {
    const mc: ModelContext = train === undefined ? this.modelContext : { nUsers: this.dataset.nUsers, nItems: this.dataset.nItems, train };
    if (train !== undefined) this.modelOverOtherData = true;
    const inst = this.factory(mc, this.streams.reset.fork());
    this.model = inst.model;
    this.params = inst.params;
    this.optimizer = new Adam({ lr: this.settings.lr });
    this.stopper = new EarlyStopping(this.settings.stopStep);
    this.checkpoint = null;
    return inst;
  }

  emit(event: TrainEvent): void {
    this.listener(event);
  }
}

/** Evaluates a model at params on one split, then frees what its scorer holds. */
async function evaluateAt(model: Model, params: ParamStore, dataset: Dataset, split: "valid" | "test", opts: EvalOptions): Promise<EvalResult> {
  const scorer = model.scorer(params);
  try {
    return await evaluateSplit(scorer, dataset, split, opts);
  } finally {
    if (scorer.dispose) scorer.dispose();
  }
}

/** Lets timers and I/O run (progress output) during a long synchronous loop. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Trains with the method, validates, early-stops, and tests the best checkpoint once. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const { settings, dataset, method } = opts;
  checkSettings(settings);
  const listener: EventListener = opts.onEvent ?? (() => undefined);
  const streams = seedStreams(opts.seed);
  const ctx = new Context(settings, dataset, method, streams, opts.createModel, listener);
  const metric = metricKey("recall", settings.ks[0]);
  const evalOpts = (epoch: number, split: "valid" | "test"): EvalOptions => ({
    ks: settings.ks,
    userBlock: opts.evalUserBlock,
    onProgress: (done: number, total: number) => listener({ type: "eval-progress", epoch, split, done, total }),
  });
  const plain: StepFn = (batch) => ctx.plainStep(batch);
  const epochs: EpochLog[] = [];
  let stoppedEarly = false;
  let lastYield = performance.now();

  const asked = opts.checkpoint;
  const ckpt: { path: string; id: RunIdentity } | null =
    asked && method.resumable === true ? { path: asked.path, id: { runKey: asked.runKey, seed: opts.seed, method: method.name, settings } } : null;
  if (asked && !ckpt) listener({ type: "note", epoch: 0, text: `no checkpoints: method '${method.name}' is not resumable (its own state is not saved)` });
  if (ckpt && (method.exportState === undefined) !== (method.importState === undefined)) {
    throw new Error(`method '${method.name}': a resumable method with state of its own needs both exportState and importState`);
  }
  let checkpointing = ckpt !== null;
  let priorSeconds = 0;
  let resumedFrom: number[] = [];
  let firstEpoch = 1;

  if (method.init) await method.init(ctx);
  // after init: the checkpoint overwrites whatever init drew or set
  const importMethod = method.importState ? method.importState.bind(method) : undefined;
  const restored = ckpt ? restoreCheckpoint(ckpt.path, ckpt.id, ctx.params, streams, importMethod ? (s) => importMethod(s, ctx) : undefined) : null;
  if (ckpt && restored) {
    ctx.epoch = restored.epoch;
    ctx.iteration = restored.iteration;
    ctx.phase = restored.phase;
    ctx.optimizer = restored.optimizer;
    ctx.stopper = restored.stopper;
    ctx.checkpoint = restored.best ? { model: ctx.model, ...restored.best } : null;
    epochs.push(...restored.epochs);
    priorSeconds = restored.seconds;
    resumedFrom = [...restored.resumedFrom, restored.epoch];
    firstEpoch = restored.stopped ? settings.epochs + 1 : restored.epoch + 1;
    stoppedEarly = restored.stopped && restored.epoch < settings.epochs;
    listener({ type: "resume", epoch: restored.epoch, path: ckpt.path });
  }
  for (let epoch = firstEpoch; epoch <= settings.epochs; epoch++) {
    ctx.epoch = epoch;
    if (method.beforeEpoch) await method.beforeEpoch(ctx, epoch);
    const phase = ctx.phase;
    const tEpoch = performance.now();
    const examples = method.examples ? method.examples(ctx, epoch) : ctx.defaultExamples();
    const batches = cutBatches(shuffleExamples(examples, streams.shuffle), settings.batchSize);
    listener({ type: "epoch-start", epoch, maxEpochs: settings.epochs, batches: batches.length, phase });
    let lossSum = 0;
    for (let b = 0; b < batches.length; b++) {
      const res = method.step ? method.step(batches[b], ctx, plain) : plain(batches[b]);
      ctx.iteration++;
      lossSum += res.loss;
      listener({ type: "batch", epoch, batch: b + 1, batches: batches.length, iteration: ctx.iteration, loss: res.loss });
      if (performance.now() - lastYield > 200) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
    const log: EpochLog = { epoch, phase, loss: batches.length > 0 ? lossSum / batches.length : NaN, seconds: (performance.now() - tEpoch) / 1000 };

    let stop = false;
    const validates = method.validates ? method.validates(ctx, epoch) : epoch % settings.evalFreq === 0;
    if (validates) {
      const tValid = performance.now();
      const res = await evaluateAt(ctx.model, ctx.params, dataset, "valid", evalOpts(epoch, "valid"));
      const value = res.mean[metric];
      const verdict = ctx.stopper.update(value, epoch);
      if (verdict.checkpoint) ctx.checkpoint = { model: ctx.model, params: ctx.params.clone(), epoch, value };
      log.valid = { ...res.mean };
      listener({ type: "eval", epoch, split: "valid", metrics: { ...res.mean }, checkpoint: verdict.checkpoint, stop: verdict.stop, seconds: (performance.now() - tValid) / 1000 });
      stop = verdict.stop;
    }
    if (method.afterEpoch) {
      const verdict = await method.afterEpoch(ctx, log);
      if (verdict) {
        for (const [k, v] of Object.entries(verdict.fields ?? {})) {
          if (FIXED_FIELDS.has(k)) throw new Error(`method '${method.name}': afterEpoch field '${k}' would overwrite the epoch log's own field`);
          log[k] = v;
        }
        if (verdict.stop) stop = true;
      }
    }
    epochs.push(log);
    const checkpointHere = method.checkpointAfter ? method.checkpointAfter(ctx, epoch) : validates;
    if (ckpt && checkpointing && checkpointHere) {
      if (ctx.modelOverOtherData) {
        checkpointing = false;
        listener({ type: "note", epoch, text: `no more checkpoints: method '${method.name}' rebuilt the model over other training data` });
      } else {
        const best = ctx.checkpoint ? { params: ctx.checkpoint.params, epoch: ctx.checkpoint.epoch, value: ctx.checkpoint.value } : null;
        // ctx.optimizer is the current one (a method may have replaced it this epoch)
        const methodState = method.exportState ? method.exportState() : undefined;
        const state = { epoch, iteration: ctx.iteration, phase: ctx.phase, stopped: stop, epochs, params: ctx.params, optimizer: ctx.optimizer, stopper: ctx.stopper, best, methodState };
        saveCheckpoint(ckpt.path, ckpt.id, state, streams, { seconds: priorSeconds + (performance.now() - t0) / 1000, resumedFrom });
      }
    }
    listener({ type: "epoch-end", epoch, maxEpochs: settings.epochs, log });
    await yieldToEventLoop();
    lastYield = performance.now();
    if (stop) {
      stoppedEarly = epoch < settings.epochs;
      break;
    }
  }

  const ck = ctx.checkpoint;
  const model = ck ? ck.model : ctx.model;
  const params = ck ? ck.params : ctx.params;
  const tTest = performance.now();
  const test = await evaluateAt(model, params, dataset, "test", evalOpts(ctx.epoch, "test"));
  listener({ type: "eval", epoch: ctx.epoch, split: "test", metrics: { ...test.mean }, seconds: (performance.now() - tTest) / 1000 });
  const best = ck ? { epoch: ck.epoch, metric, value: ck.value } : null;
  const seconds = priorSeconds + (performance.now() - t0) / 1000;
  const testMetrics: Metrics = { ...test.mean };
  listener({ type: "done", epochs: epochs.length, bestEpoch: best ? best.epoch : null, stoppedEarly, test: testMetrics, seconds });
  return { epochs, best, stoppedEarly, test, model, params, seconds, resumedFrom };
}
