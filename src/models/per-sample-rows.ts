/**
 * Per-position rows of a batch: tensors whose row n is read by sample n only,
 * with the per-sample losses as a function of them. SGDL's scheduler
 * (methods/sgdl/cosine-features.ts) takes every sample's gradient cosine from
 * one backward pass w.r.t. such rows. Models whose leaves are whole tables
 * (the graph models) supply them through the optional Model hook
 * `perSampleRows`; models with gathered row leaves (MF, NeuMF) need no hook.
 */
import * as tf from "@tensorflow/tfjs";
import { dotProductLosses } from "./losses";
import type { Batch, ForwardMode, LeafTensors } from "./model";

/** A batch's per-position rows and the per-sample losses as a function of them (everything else held fixed). */
export interface PerSampleRows {
  /** Per-position tensors [B x d_key]: row n is read by sample n only. */
  rows: Record<string, tf.Tensor2D>;
  /** The per-sample losses [B] from the rows (the rest of the model at the given point). */
  losses(rows: Record<string, tf.Tensor2D>): tf.Tensor1D;
  /** The group of each key (its cosine in mode "group"), e.g. the parameter table: itemPos and itemNeg are both "itemEmb". */
  groups: Record<string, string>;
  /** Per key, the identity of each position's row (table row or graph node) within its group; positions of one sample with equal ids are summed. Without ids a key's rows are distinct from every other key's. */
  ids?: Record<string, Int32Array>;
}

/** How a model exposes its per-position rows at a point (its leaf tensors). */
export type PerSampleSource = (leaves: LeafTensors, batch: Batch, mode: ForwardMode) => PerSampleRows;

/**
 * The per-position rows of a dot-product graph model (LightGCN, NGCF) from its
 * final rows in propagation.ts's batchNodes order (users, then positives and
 * negatives, or items): keys "user", "pos", "neg" (or "item"), groups "user"
 * and "item", ids the node ids; losses by dotProductLosses, as the models' own.
 */
export function dotProductRowsSource(finalRows: (leaves: LeafTensors, batch: Batch, mode: ForwardMode) => tf.Tensor2D): PerSampleSource {
  return (leaves, batch, mode) => {
    const b = batch.users.length;
    const final = finalRows(leaves, batch, mode);
    const parts = batch.kind === "bpr" ? ["user", "pos", "neg"] : ["user", "item"];
    if (final.shape[0] !== parts.length * b) throw new Error(`per-sample rows: final rows [${final.shape.join(", ")}] for a ${batch.kind} batch of ${b}`);
    const d = final.shape[1];
    const cols: Int32Array[] = batch.kind === "bpr" ? [batch.users, batch.pos, batch.neg] : [batch.users, batch.items];
    const rows: Record<string, tf.Tensor2D> = {};
    const groups: Record<string, string> = {};
    const ids: Record<string, Int32Array> = {};
    parts.forEach((p, i) => {
      rows[p] = tf.slice(final, [i * b, 0], [b, d]);
      groups[p] = i === 0 ? "user" : "item";
      ids[p] = cols[i];
    });
    return { rows, groups, ids, losses: (r) => dotProductLosses(tf.concat(parts.map((p) => r[p]), 0) as tf.Tensor2D, batch) };
  };
}
