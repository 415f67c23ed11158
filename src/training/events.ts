/**
 * What the trainer reports while it runs, through one onEvent callback: the
 * CLI draws a progress bar from these, a notebook updates one output line, the
 * result record is built from the same numbers.
 */
/** Metric means keyed `recall@5`, `ndcg@20`, ... */
export type Metrics = Record<string, number>;

/** A value a method may add to an epoch's log (memorization rate, estimated noise rate, weights summary). */
export type FieldValue = number | string | boolean | number[];

/** One epoch of the run, as it goes into the result record (method fields sit beside the fixed ones). */
export interface EpochLog {
  /** 1-based. */
  epoch: number;
  /** "normal", or the method's phase (SGDL: "memorization", "self-guided"). */
  phase: string;
  /** Mean over the epoch's batches of the minimised batch objective. */
  loss: number;
  /** Training time of the epoch, validation excluded. */
  seconds: number;
  /** Validation metrics, when validation ran after this epoch. */
  valid?: Metrics;
  [field: string]: FieldValue | Metrics | undefined;
}

/** Everything the trainer (and a method, through its context) can report. */
export type TrainEvent =
  | { type: "epoch-start"; epoch: number; maxEpochs: number; batches: number; phase: string }
  | { type: "batch"; epoch: number; batch: number; batches: number; iteration: number; loss: number }
  | { type: "epoch-end"; epoch: number; maxEpochs: number; log: EpochLog }
  | { type: "eval-progress"; epoch: number; split: "valid" | "test"; done: number; total: number }
  | {
      type: "eval";
      epoch: number;
      split: "valid" | "test";
      metrics: Metrics;
      /** Valid only: a checkpoint was saved (value >= best so far). */
      checkpoint?: boolean;
      /** Valid only: the early-stopping rule fired. */
      stop?: boolean;
      seconds: number;
    }
  | { type: "note"; epoch: number; text: string }
  /** The run continues from a checkpoint written after `epoch` (training/resume.ts). */
  | { type: "resume"; epoch: number; path: string }
  | { type: "done"; epochs: number; bestEpoch: number | null; stoppedEarly: boolean; test: Metrics; seconds: number };

/** Receives events; must not throw (a throwing listener aborts the run). */
export type EventListener = (event: TrainEvent) => void;
