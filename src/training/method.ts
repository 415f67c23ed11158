/**
 * The training-method interface. A method only shapes training: it may choose
 * the epoch's examples, weight the per-sample losses, replace the step, and
 * react to epochs; the trainer (training/trainer.ts) owns the loop,
 * validation, early stopping and testing, and never names a particular
 * method. Every hook is optional; a method with none is plain training.
 *
 * How the baselines use it (baselines-reference.md): WBPR -> `examples`
 * (popularity sampler); T-CE/R-CE -> `objective` with `ctx.iteration`;
 * IR -> `afterEpoch` relabels and calls `ctx.resetModel` per round,
 * `examples` serves the relabelled positives; DeCA -> `init` builds the
 * auxiliary models, `step` steps them beside the target; SGCN/SGL -> `step`
 * or `objective` (an extra loss); SGDL -> `beforeEpoch`/`afterEpoch` track
 * memorization and switch phase, `validates` skips Phase I, `step` is the
 * Phase II meta step, `exportState`/`importState` and `checkpointAfter`
 * (every epoch) make it resumable.
 */
import type * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset";
import type { Interactions } from "../data/interactions";
import type { NegativeSampler } from "../data/sampler";
import type { Batch, ForwardMode, Model, ModelContext, ModelInstance } from "../models/model";
import type { ParamStore } from "../models/ops/embedding-table";
import type { Rng } from "../util/rng";
import type { Adam } from "./adam";
import type { EpochExamples } from "./batches";
import type { EpochLog, FieldValue, TrainEvent } from "./events";
import type { MethodState } from "./method-state";
import type { Objective, StepResult } from "./step";

/** The loop's settings (from the run config). */
export interface TrainSettings {
  /** Cap on the number of epochs (all phases together). */
  epochs: number;
  batchSize: number;
  /** Learning rate of the model's Adam. */
  lr: number;
  /** Validate after epochs e with e % evalFreq == 0 (e counted from 1). */
  evalFreq: number;
  /** Early-stopping patience, in validations (training/early-stopping.ts). */
  stopStep: number;
  /** Cut-offs of Recall@K / NDCG@K; early stopping watches recall@ks[0]. */
  ks: number[];
}

/** The ordinary step with the method's objective (what `step` may call or replace). */
export type StepFn = (batch: Batch) => StepResult;

/** What a method sees and may change while training. */
export interface TrainContext {
  readonly settings: TrainSettings;
  readonly dataset: Dataset;
  /** The target model and its parameters; `resetModel` replaces both. */
  readonly model: Model;
  readonly params: ParamStore;
  /** The model's optimizer; a method may replace it (SGDL re-creates Adam every Phase II epoch) or change its lr. */
  optimizer: Adam;
  /** Current epoch, 1-based (0 before the first). */
  readonly epoch: number;
  /** Gradient steps taken so far over the whole run (T-CE's schedule counter). */
  readonly iteration: number;
  /** The phase written into the epoch log; default "normal". */
  phase: string;
  /** The method's own seeded random stream (independent of sampling, shuffling and dropout). */
  readonly rng: Rng;
  /** The uniform negative sampler over the training positives (seeded). */
  readonly sampler: NegativeSampler;
  /** What a model may know of the data (sizes and training interactions). */
  readonly modelContext: ModelContext;
  /** The default examples of an epoch: every training positive with a fresh uniform negative (unshuffled). */
  defaultExamples(): EpochExamples;
  /** The forward mode for training (dropout on) or for inference (off), with the trainer's dropout stream. */
  forwardMode(training: boolean): ForwardMode;
  /** Per-sample losses of any examples without gradients, at ctx.params unless other params are given. */
  losses(examples: Batch, opts?: { params?: ParamStore; training?: boolean }): Float32Array;
  /** The ordinary step on a batch with the method's objective (updates ctx.params with ctx.optimizer). */
  plainStep(batch: Batch, objective?: Objective): StepResult;
  /** A fresh model (new seeded init, optionally over other training interactions) and a new Adam; early stopping starts over. */
  resetModel(train?: Interactions): ModelInstance;
  /** Reports an event (e.g. a note on a phase switch). */
  emit(event: TrainEvent): void;
}

/** What afterEpoch may answer. */
export interface EpochVerdict {
  /** Stop training after this epoch (the best checkpoint is still restored and tested). */
  stop?: boolean;
  /** Extra fields for this epoch's log (memorization rate, estimated noise rate, ...). */
  fields?: Record<string, FieldValue>;
}

/** A training method: every hook optional. */
export interface Method {
  /** The `--method` name. */
  readonly name: string;
  /**
   * A checkpointed run of this method can resume (training/resume.ts): the
   * method keeps no state of its own between epochs (beyond what the trainer
   * holds: parameters, optimizer, early stopping, phase, random streams), or
   * it implements both exportState and importState. Default false: the
   * trainer then writes no checkpoints.
   */
  readonly resumable?: boolean;
  /**
   * The method's own state after an epoch (after afterEpoch), for the
   * checkpoint: JSON plus typed arrays (training/method-state.ts StateWriter).
   * Resumable methods with state implement it together with importState.
   */
  exportState?(): MethodState;
  /**
   * On a resumed run, after init: puts back the state exportState gave, so
   * that the rest of the run is the uninterrupted one. Throws a
   * MethodStateError naming the field (StateReader does) on a bad state.
   */
  importState?(state: MethodState, ctx: TrainContext): void;
  /** Whether a resumable run saves a checkpoint after this epoch; default: after validated epochs (sgdl: after every epoch). */
  checkpointAfter?(ctx: TrainContext, epoch: number): boolean;
  /** Once, before the first epoch (DeCA builds its auxiliary models, SGDL its weighting net). */
  init?(ctx: TrainContext): void | Promise<void>;
  /** Before each epoch's examples are drawn (SGDL re-creates its optimizers in Phase II). */
  beforeEpoch?(ctx: TrainContext, epoch: number): void | Promise<void>;
  /** The epoch's examples, unshuffled (the trainer shuffles and batches them); default ctx.defaultExamples(). */
  examples?(ctx: TrainContext, epoch: number): EpochExamples;
  /** The scalar to minimise from a batch's per-sample losses, inside the gradient tape; default the mean. */
  objective?(losses: tf.Tensor1D, batch: Batch, ctx: TrainContext): tf.Scalar;
  /** Replaces the step on a batch (SGDL Phase II's meta step); `plainStep` is the ordinary one. */
  step?(batch: Batch, ctx: TrainContext, plainStep: StepFn): StepResult;
  /** Whether to validate after this epoch; default epoch % evalFreq == 0 (SGDL: only in Phase II). */
  validates?(ctx: TrainContext, epoch: number): boolean;
  /** After each epoch (and its validation, if any): may stop training or add fields to the log. */
  afterEpoch?(ctx: TrainContext, log: EpochLog): EpochVerdict | void | Promise<EpochVerdict | void>;
  /** Method-level facts for the result record (options, phase-switch epoch, ...). */
  describe?(): Record<string, FieldValue | null>;
}
