/**
 * Full-ranking evaluation (paper 4.1.2, official `training.test`): every item is
 * ranked for each user, the user's already-known items are masked out, and
 * Recall@K / NDCG@K are kept per user (for paired significance tests) and
 * averaged over the evaluated users, i.e. the users with at least one
 * ground-truth item in the split.
 */
import { activeUsers, type Interactions } from "../data/interactions";
import { ndcgAtK, recallAtK } from "./metrics";
import { topKIndices } from "./topk";

/** Scores of all items for the given users, row-major users.length x nItems. */
export type Scorer = (users: Int32Array) => Float32Array | Promise<Float32Array>;

/** Per-user and mean metrics; metric keys are `recall@${k}` and `ndcg@${k}`. */
export interface EvalResult {
  ks: number[];
  /** Evaluated users, ascending; perUser[key][j] belongs to users[j]. */
  users: Int32Array;
  perUser: Record<string, Float64Array>;
  /** Mean over users (NaN when no user has ground truth). */
  mean: Record<string, number>;
}

export interface EvalOptions {
  /** Cut-offs, default [5, 20]. */
  ks?: number[];
  /** Users scored per scorer call, default 256. */
  userBlock?: number;
  /** Called after each block with users done and users in total. */
  onProgress?: (done: number, total: number) => void;
}

/** The three splits the protocol masks with. */
export interface Splits {
  train: Interactions;
  valid: Interactions;
  test: Interactions;
}

/** The metric key of a metric name and cut-off, e.g. `recall@20`. */
export function metricKey(metric: "recall" | "ndcg", k: number): string {
  return `${metric}@${k}`;
}

/**
 * Ranks all items for each user with ground truth in `truth`, skipping the items
 * the user has in any of `masks`, and returns Recall@K and NDCG@K per user.
 */
export async function evaluateRanking(
  scorer: Scorer,
  truth: Interactions,
  masks: readonly Interactions[],
  opts: EvalOptions = {},
): Promise<EvalResult> {
  const ks = checkKs(opts.ks ?? [5, 20]);
  const block = opts.userBlock ?? 256;
  if (!Number.isInteger(block) || block < 1) throw new RangeError(`evaluateRanking: userBlock must be a positive integer, got ${block}`);
  for (const m of masks) {
    if (m.nUsers !== truth.nUsers || m.nItems !== truth.nItems) {
      throw new RangeError(
        `evaluateRanking: a mask has ${m.nUsers} users x ${m.nItems} items, the ground truth ${truth.nUsers} x ${truth.nItems}`,
      );
    }
  }
  const nItems = truth.nItems;
  const maxK = Math.max(...ks);
  const users = activeUsers(truth); // users with at least one ground-truth item
  const perUser: Record<string, Float64Array> = {};
  for (const k of ks) {
    perUser[metricKey("recall", k)] = new Float64Array(users.length);
    perUser[metricKey("ndcg", k)] = new Float64Array(users.length);
  }
  for (let b0 = 0; b0 < users.length; b0 += block) {
    const blockUsers = users.subarray(b0, Math.min(b0 + block, users.length));
    const scores = await scorer(blockUsers.slice());
    if (scores.length !== blockUsers.length * nItems) {
      throw new RangeError(
        `evaluateRanking: the scorer returned ${scores.length} scores for ${blockUsers.length} users x ${nItems} items`,
      );
    }
    for (let r = 0; r < blockUsers.length; r++) {
      const u = blockUsers[r];
      const masked = masks.map((m) => m.items.subarray(m.indptr[u], m.indptr[u + 1]));
      let ranked: Int32Array;
      try {
        ranked = topKIndices(scores, r * nItems, nItems, maxK, masked);
      } catch (e) {
        throw new RangeError(`evaluateRanking: user ${u}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const t = truth.items.subarray(truth.indptr[u], truth.indptr[u + 1]);
      for (const k of ks) {
        perUser[metricKey("recall", k)][b0 + r] = recallAtK(ranked, t, k);
        perUser[metricKey("ndcg", k)][b0 + r] = ndcgAtK(ranked, t, k);
      }
    }
    opts.onProgress?.(b0 + blockUsers.length, users.length);
  }
  const mean: Record<string, number> = {};
  for (const key of Object.keys(perUser)) mean[key] = average(perUser[key]);
  return { ks, users, perUser, mean };
}

/**
 * The paper's protocol on one split: validation masks the training items; test
 * masks the training and validation items.
 */
export function evaluateSplit(
  scorer: Scorer,
  splits: Splits,
  which: "valid" | "test",
  opts: EvalOptions = {},
): Promise<EvalResult> {
  if (which === "valid") return evaluateRanking(scorer, splits.valid, [splits.train], opts);
  return evaluateRanking(scorer, splits.test, [splits.train, splits.valid], opts);
}

function checkKs(ks: number[]): number[] {
  if (ks.length === 0) throw new RangeError("evaluateRanking: ks is empty");
  for (const k of ks) if (!Number.isInteger(k) || k < 1) throw new RangeError(`evaluateRanking: K must be a positive integer, got ${k}`);
  if (new Set(ks).size !== ks.length) throw new RangeError(`evaluateRanking: ks has duplicates: [${ks.join(", ")}]`);
  return ks.slice();
}

function average(x: Float64Array): number {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += x[j];
  return x.length > 0 ? s / x.length : NaN;
}
