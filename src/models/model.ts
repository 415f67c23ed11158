/**
 * The contract every recommender meets: a pure function of a parameter map.
 * The trainer owns the parameters (a ParamStore of Float32Arrays). For a batch,
 * `leaves` says which parameters (or which rows of a table) the batch reads;
 * the trainer copies them into leaf tensors, and `losses` computes the
 * per-sample loss vector from those tensors alone. Because nothing is hidden in
 * closures or layers, SGDL's assumed update (Eq. 7) can evaluate the same model
 * at other parameter values by passing other tensors.
 */
import type * as tf from "@tensorflow/tfjs";
import type { Interactions } from "../data/interactions";
import type { Rng } from "../util/rng";
import type { ParamStore } from "./ops/embedding-table";
import type { PerSampleGradientSource } from "./per-sample-gradients";
import type { PerSampleSource } from "./per-sample-rows";

export type ModelName = "neumf" | "cdae" | "ngcf" | "lightgcn" | "mf";
export type LossKind = "bce" | "bpr";

/** A training batch: BPR triples (user, positive, negative) or BCE pairs (user, item, label 1/0). */
export type Batch =
  | { kind: "bpr"; users: Int32Array; pos: Int32Array; neg: Int32Array }
  | { kind: "bce"; users: Int32Array; items: Int32Array; labels: Float32Array };

/**
 * One leaf a batch reads: a whole parameter (`rows` undefined) or the rows
 * `rows` of a table, one row per position (repeats copied per position).
 */
export interface LeafSpec {
  /** The key under which `losses` finds the tensor, e.g. "itemPos". */
  key: string;
  /** The parameter it is copied from, e.g. "itemEmb". */
  param: string;
  rows?: Int32Array;
}

/** Leaf tensors by key, as handed to `losses`. */
export type LeafTensors = Readonly<Record<string, tf.Tensor>>;

/** Whether dropout and input corruption are on, and where their randomness comes from. */
export interface ForwardMode {
  training: boolean;
  rng: Rng;
}

/** What a model may know about the data: sizes and the training interactions (CDAE's input, the graph's edges). */
export interface ModelContext {
  nUsers: number;
  nItems: number;
  train: Interactions;
}

/** Ranking scores for a block of users over all items, row-major [users.length x nItems]; dispose frees what it holds. */
export type BlockScorer = ((users: Int32Array) => Float32Array) & { dispose?(): void };

/**
 * A model fact of a linear graph model (LightGCN on its dense-operator path):
 * the batch's final rows are P[rows(batch)] E0 for a constant dense operator P
 * [nodes x nodes], with E0 the row-wise stack of the whole-table parameters
 * `tables` (in order), and losses(leaves, batch) = dotProductLosses(those
 * final rows, batch) (losses.ts), in any forward mode (no dropout). It lets a
 * method do exact small dense algebra on final rows instead of differentiating
 * through the tables.
 */
export interface LinearRows {
  /** P, row-major [nodes x nodes]; constant (never written to). */
  readonly operator: Float32Array;
  readonly nodes: number;
  /** The table parameters stacked into E0 [nodes x dim], e.g. ["userEmb", "itemEmb"]. */
  readonly tables: readonly string[];
  /** The node of each final row the batch's losses read, in dotProductLosses' order. */
  rows(batch: Batch): Int32Array;
}

export interface Model {
  readonly name: ModelName;
  readonly loss: LossKind;
  /** The leaves this batch reads. */
  leaves(batch: Batch): LeafSpec[];
  /** Per-sample losses [batch size] as a pure function of the leaf tensors (BCE or BPR per sample). */
  losses(leaves: LeafTensors, batch: Batch, mode: ForwardMode): tf.Tensor1D;
  /** A scorer at the given parameters (precomputes what all blocks share, e.g. propagated embeddings). */
  scorer(params: ParamStore): BlockScorer;
  /** Facts for the result record (sizes, propagation path chosen, init). */
  describe(): Record<string, string | number | boolean>;
  /** Optional (graph models): the batch's per-position final rows, for SGDL's per-sample gradient cosines (per-sample-rows.ts). */
  perSampleRows?: PerSampleSource;
  /** Optional (linear graph models): final rows = P[rows] E0 for a constant dense P (see LinearRows). */
  linearRows?: LinearRows;
  /** Optional: every sample's gradient w.r.t. every leaf from one batched pass, in factored form (per-sample-gradients.ts). */
  perSampleGradients?: PerSampleGradientSource;
}

/** A model with freshly initialised parameters. */
export interface ModelInstance {
  model: Model;
  params: ParamStore;
}
