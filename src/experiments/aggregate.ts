/**
 * From result records to table rows: runs grouped by (dataset, model, method,
 * preset), metric means over seeds, and paired significance between two groups
 * on per-user values (each user's value averaged over the group's seeds).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pairedTTest, wilcoxonSignedRank, type PerUserValues } from "../eval/significance";
import { readRecord, type ResultRecord } from "./record";

/** Every result record in a folder (non-recursive), sorted by file name. */
export function listRecords(dir: string): ResultRecord[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => readRecord(path.join(dir, f)));
}

/** Runs of one configuration over seeds. */
export interface RunGroup {
  dataset: string;
  model: string;
  method: string;
  preset: string;
  seeds: number[];
  records: ResultRecord[];
  /** Mean over seeds of each test metric. */
  mean: Record<string, number>;
  /** Sample standard deviation over seeds (0 for one seed). */
  std: Record<string, number>;
}

const groupKey = (r: ResultRecord): string => [r.config.dataset, r.config.model, r.config.method, r.config.preset].join("|");

/** Groups records by (dataset, model, method, preset) and averages each test metric over seeds. */
export function groupRuns(records: readonly ResultRecord[], metrics: readonly string[] = ["recall@5", "recall@20", "ndcg@5", "ndcg@20"]): RunGroup[] {
  const groups = new Map<string, ResultRecord[]>();
  for (const r of records) groups.set(groupKey(r), [...(groups.get(groupKey(r)) ?? []), r]);
  return [...groups.values()].map((rs) => {
    const mean: Record<string, number> = {};
    const std: Record<string, number> = {};
    for (const m of metrics) {
      const v = rs.map((r) => r.test[m]).filter((x): x is number => typeof x === "number");
      const mu = v.reduce((s, x) => s + x, 0) / v.length;
      mean[m] = mu;
      std[m] = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mu) ** 2, 0) / (v.length - 1)) : 0;
    }
    const c = rs[0].config;
    return { dataset: c.dataset, model: c.model, method: c.method, preset: c.preset, seeds: rs.map((r) => r.seed), records: rs, mean, std };
  });
}

/** One metric's per-user values of a group, averaged over its seeds (users present in every seed). */
export function groupPerUser(g: RunGroup, metric: string): PerUserValues {
  const sums = new Map<number, { s: number; n: number }>();
  for (const r of g.records) {
    const users = r.test.perUser.users;
    const values = r.test.perUser[metric];
    if (!values) throw new Error(`record ${r.key.slice(0, 12)} has no per-user '${metric}'`);
    users.forEach((u, j) => {
      const e = sums.get(u) ?? { s: 0, n: 0 };
      e.s += values[j];
      e.n += 1;
      sums.set(u, e);
    });
  }
  const users = [...sums.entries()].filter(([, e]) => e.n === g.records.length).map(([u]) => u).sort((a, b) => a - b);
  return { users: Int32Array.from(users), values: Float64Array.from(users, (u) => (sums.get(u) as { s: number }).s / g.records.length) };
}

/** Paired tests of `a` against `b` on one metric: t-test and Wilcoxon p-values, and a's mean minus b's. */
export function compareGroups(a: RunGroup, b: RunGroup, metric: string): { meanDiff: number; tTestP: number; wilcoxonP: number } {
  const x = groupPerUser(a, metric);
  const y = groupPerUser(b, metric);
  const t = pairedTTest(x, y);
  return { meanDiff: t.meanDiff, tTestP: t.p, wilcoxonP: wilcoxonSignedRank(x, y).p };
}
