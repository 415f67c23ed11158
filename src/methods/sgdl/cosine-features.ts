/**
 * The scheduler's similarity factor (Section 3.2.2): per memorized sample m,
 * cos(grad L_m at theta_a, grad L_m at theta_b), for a whole batch with ONE
 * backward pass per point instead of one per sample.
 *
 * The trick: a per-position tensor is one whose row n is read by sample n only
 * (MF's and NeuMF's gathered embedding rows; a graph model's final, propagated
 * rows of the sample's user and items). For such rows R, d(sum_k L_k)/dR[n] =
 * dL_n/dR[n], so the gradient of the summed loss w.r.t. R holds every sample's
 * own row gradient. Two positions of one sample that read the same row (same
 * table, same id) are summed, which is exactly the sample's gradient w.r.t.
 * the parameter rows it touches.
 *
 * What the cosine covers (say so in results):
 * - MF, NeuMF (rowLeafSource): the sample's gathered embedding rows (MF: user,
 *   positive, negative rows; NeuMF: GMF and MLP user and item rows). Dense
 *   shared weights (NeuMF's MLP tower) are NOT covered here: their per-sample
 *   gradients need one backward pass per sample, or per-sample gradient
 *   factors (factored-meta.ts, option coverDense, off by default).
 * - graph models (their Model hook perSampleRows, models/per-sample-rows.ts): the
 *   gradient w.r.t. the sample's final (propagated) user / positive / negative
 *   rows, not w.r.t. the embedding tables (whose per-sample gradient is dense
 *   over the whole table).
 * Mode "all" gives one cosine over all covered rows (paper: one similarity);
 * mode "group" one cosine per group (a parameter table, or user/item final
 * rows), as the official code's one cosine per embedding table.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, LeafSpec, LeafTensors, Model } from "../../models/model";
import type { PerSampleSource } from "../../models/per-sample-rows";

export { dotProductRowsSource, type PerSampleRows, type PerSampleSource } from "../../models/per-sample-rows";
import { Rng } from "../../util/rng";

/** Per-sample losses and gradient cosines of a batch between two points (a type alias, so tf.tidy can return it). */
export type CosineFeatures = {
  /** Per-sample losses at point a [B]. */
  lossesA: Float32Array;
  /** Per-sample losses at point b [B]. */
  lossesB: Float32Array;
  /** Cosines row-major [B x groups.length]. */
  cosines: Float32Array;
  /** Column names: ["all"] or the group names in first-seen order. */
  groups: string[];
};

export interface CosineOptions {
  /** "all": one cosine over all covered rows (paper, default); "group": one per group (official code). */
  cosine?: "all" | "group";
  /** A fresh forward mode per point (default: training off); replay the same rng if dropout is on. */
  mode?: () => ForwardMode;
  /** Denominator floor: cos = a.b / max(|a| |b|, eps); default 1e-8 (PyTorch's CosineSimilarity). */
  eps?: number;
}

/**
 * Per-sample losses at theta_a and theta_b and the cosines between each
 * sample's row gradients at the two points: one tf.grads pass per point.
 * leavesA / leavesB are the model's leaves (as model.leaves(batch) lists
 * them) at the two points.
 */
export function perSampleGradientCosines(source: PerSampleSource, leavesA: LeafTensors, leavesB: LeafTensors, batch: Batch, opts: CosineOptions = {}): CosineFeatures {
  const mode = opts.mode ?? ((): ForwardMode => ({ training: false, rng: new Rng(0) }));
  const a = rowGradients(source, leavesA, batch, mode());
  const b = rowGradients(source, leavesB, batch, mode());
  if (a.keys.join("\u0000") !== b.keys.join("\u0000")) throw new Error(`cosine features: the two points give different row keys (${a.keys.join(", ")} vs ${b.keys.join(", ")})`);
  const c = groupCosines(rowGroupSums(a, b, batch.users.length), opts.cosine ?? "all", opts.eps ?? 1e-8);
  return { lossesA: a.losses, lossesB: b.losses, cosines: c.cosines, groups: c.groups };
}

/** Per sample and group, the dot and squared norms of the gradients at two points, row-major [B x groups.length]. */
export interface GroupSums {
  /** Group names in first-seen key order. */
  groups: string[];
  dot: Float64Array;
  na: Float64Array;
  nb: Float64Array;
}

/** The group sums of two points' row gradients of one batch of n (positions of a sample with equal ids summed first). */
export function rowGroupSums(a: RowGradients, b: RowGradients, n: number): GroupSums {
  const groupOf = (k: string): string => a.groups[k] ?? k;
  const groupNames: string[] = [];
  for (const k of a.keys) if (!groupNames.includes(groupOf(k))) groupNames.push(groupOf(k));
  const byGroup = groupNames.map((g) => a.keys.filter((k) => groupOf(k) === g));
  for (const k of a.keys) {
    const ia = a.ids[k];
    const ib = b.ids[k];
    if (ia !== undefined && (ib === undefined || ia.some((v, i) => v !== ib[i]))) throw new Error(`cosine features: row ids of '${k}' differ between the points`);
  }
  const g = groupNames.length;
  const out: GroupSums = { groups: groupNames, dot: new Float64Array(n * g), na: new Float64Array(n * g), nb: new Float64Array(n * g) };
  for (let s = 0; s < n; s++) {
    byGroup.forEach((keys, gi) => {
      const r = groupSums(a, b, keys, s);
      out.dot[s * g + gi] = r.dot;
      out.na[s * g + gi] = r.na;
      out.nb[s * g + gi] = r.nb;
    });
  }
  return out;
}

/** Cosines from group sums: one per sample over all groups ("all"), or one per group ("group"); cos = a.b / max(|a| |b|, eps). */
export function groupCosines(sums: GroupSums, cosine: "all" | "group", eps: number): { cosines: Float32Array; groups: string[] } {
  const g = sums.groups.length;
  const n = sums.dot.length / g;
  const all = cosine === "all";
  const cols = all ? 1 : g;
  const cosines = new Float32Array(n * cols);
  for (let s = 0; s < n; s++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let gi = 0; gi < g; gi++) {
      const k = s * g + gi;
      if (all) {
        dot += sums.dot[k];
        na += sums.na[k];
        nb += sums.nb[k];
      } else {
        cosines[s * cols + gi] = sums.dot[k] / Math.max(Math.sqrt(sums.na[k] * sums.nb[k]), eps);
      }
    }
    if (all) cosines[s] = dot / Math.max(Math.sqrt(na * nb), eps);
  }
  return { cosines, groups: all ? ["all"] : sums.groups };
}

/** The scheduler's feature matrix [B x (1 + cosine columns)] row-major: [loss, cosines...] per sample. */
export function schedulerFeatures(losses: Float32Array, c: CosineFeatures): Float32Array {
  const g = c.groups.length;
  const n = losses.length;
  if (c.cosines.length !== n * g) throw new Error(`schedulerFeatures: ${n} losses but ${c.cosines.length / g} cosine rows`);
  const out = new Float32Array(n * (1 + g));
  for (let s = 0; s < n; s++) {
    out[s * (1 + g)] = losses[s];
    out.set(c.cosines.subarray(s * g, (s + 1) * g), s * (1 + g) + 1);
  }
  return out;
}

/**
 * The per-position rows of a model whose row leaves are gathered per position
 * (MF, NeuMF; CDAE's item-side rows): the row leaves whose `rows` array IS one
 * of the batch's own index columns (users, pos, neg, items), or the given
 * keys. Groups are the parameter tables, ids the table rows.
 */
export function rowLeafSource(model: Model, keys?: readonly string[]): PerSampleSource {
  return (leaves, batch, mode) => {
    const specs = rowLeafSpecs(model, batch, keys);
    if (specs.length === 0) {
      throw new Error(`cosine features: model '${model.name}' has no per-position row leaves${keys ? ` among ${keys.join(", ")}` : ""}; a graph model must supply perSampleRows (dotProductRowsSource)`);
    }
    const rows: Record<string, tf.Tensor2D> = {};
    const groups: Record<string, string> = {};
    const ids: Record<string, Int32Array> = {};
    for (const s of specs) {
      const t = leaves[s.key];
      if (t === undefined) throw new Error(`cosine features: no leaf '${s.key}' for model '${model.name}'`);
      if (s.rows === undefined || t.rank !== 2 || t.shape[0] !== batch.users.length) {
        throw new Error(`cosine features: leaf '${s.key}' of model '${model.name}' is not per position [${batch.users.length} x d], got [${t.shape.join(", ")}]`);
      }
      rows[s.key] = t as tf.Tensor2D;
      groups[s.key] = s.param;
      ids[s.key] = s.rows;
    }
    return { rows, groups, ids, losses: (r) => model.losses({ ...leaves, ...r }, batch, mode) };
  };
}

/** The leaves rowLeafSource covers: row leaves whose rows array is one of the batch's index columns, or the given keys. */
export function rowLeafSpecs(model: Model, batch: Batch, keys?: readonly string[]): LeafSpec[] {
  const columns: readonly Int32Array[] = batch.kind === "bpr" ? [batch.users, batch.pos, batch.neg] : [batch.users, batch.items];
  return model.leaves(batch).filter((s) => s.rows !== undefined && (keys === undefined ? columns.includes(s.rows) : keys.includes(s.key)));
}

/** The model's own hook if it has one, else its per-position row leaves. */
export function perSampleSource(model: Model): PerSampleSource {
  return model.perSampleRows ?? rowLeafSource(model);
}

/** One point's per-sample losses and per-key row gradients ([B x dims[k]] row-major), groups and row ids by key. */
export interface RowGradients {
  keys: string[];
  losses: Float32Array;
  grads: Record<string, Float32Array>;
  dims: Record<string, number>;
  groups: Record<string, string>;
  ids: Record<string, Int32Array | undefined>;
}

/** One backward pass of sum_k L_k w.r.t. the per-position rows. */
function rowGradients(source: PerSampleSource, leaves: LeafTensors, batch: Batch, mode: ForwardMode): RowGradients {
  const n = batch.users.length;
  let losses = new Float32Array(0);
  const out = tf.tidy(() => {
    const split = source(leaves, batch, mode);
    const keys = Object.keys(split.rows);
    for (const k of keys) {
      const t = split.rows[k];
      if (t.shape[0] !== n) throw new Error(`cosine features: rows '${k}' have ${t.shape[0]} positions, the batch has ${n}`);
      const id = split.ids?.[k];
      if (id !== undefined && id.length !== n) throw new Error(`cosine features: ids of '${k}' have ${id.length} entries, the batch has ${n}`);
    }
    const grads = tf.grads((...xs: tf.Tensor[]) => {
      const byKey: Record<string, tf.Tensor2D> = {};
      keys.forEach((k, i) => (byKey[k] = xs[i] as tf.Tensor2D));
      const l = split.losses(byKey);
      if (l.shape[0] !== n) throw new Error(`cosine features: ${l.shape[0]} losses for a batch of ${n}`);
      losses = (l.dataSync() as Float32Array).slice();
      return tf.sum(l);
    })(keys.map((k) => split.rows[k]));
    const g: Record<string, Float32Array> = {};
    const dims: Record<string, number> = {};
    keys.forEach((k, i) => {
      g[k] = (grads[i].dataSync() as Float32Array).slice();
      dims[k] = split.rows[k].shape[1];
    });
    const ids: Record<string, Int32Array | undefined> = {};
    for (const k of keys) ids[k] = split.ids?.[k];
    return { keys, grads: g, dims, groups: { ...split.groups }, ids };
  });
  return { ...out, losses };
}

/** Dot and squared norms of sample s's gradients in one group, positions with equal ids summed first. */
function groupSums(a: RowGradients, b: RowGradients, keys: readonly string[], s: number): { dot: number; na: number; nb: number } {
  if (keys.length === 1) {
    // one row: the same float64 sums as the merge below, without its copies
    const k = keys[0];
    const d = a.dims[k];
    const ga = a.grads[k];
    const gb = b.grads[k];
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = s * d; j < (s + 1) * d; j++) {
      dot += ga[j] * gb[j];
      na += ga[j] * ga[j];
      nb += gb[j] * gb[j];
    }
    return { dot, na, nb };
  }
  // rows of this sample in this group, merged by id (keys without ids are their own rows)
  const merged: Array<{ id: number | string; va: Float64Array; vb: Float64Array }> = [];
  for (const k of keys) {
    const d = a.dims[k];
    const idArr = a.ids[k];
    const id: number | string = idArr === undefined ? `key:${k}` : idArr[s];
    let slot = merged.find((m) => m.id === id);
    if (slot === undefined) {
      slot = { id, va: new Float64Array(d), vb: new Float64Array(d) };
      merged.push(slot);
    } else if (slot.va.length !== d) {
      throw new Error(`cosine features: rows with the same id ${String(id)} have widths ${slot.va.length} and ${d}`);
    }
    const ga = a.grads[k];
    const gb = b.grads[k];
    for (let j = 0; j < d; j++) {
      slot.va[j] += ga[s * d + j];
      slot.vb[j] += gb[s * d + j];
    }
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const m of merged) {
    for (let j = 0; j < m.va.length; j++) {
      dot += m.va[j] * m.vb[j];
      na += m.va[j] * m.va[j];
      nb += m.vb[j] * m.vb[j];
    }
  }
  return { dot, na, nb };
}
