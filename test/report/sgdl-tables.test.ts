import { test } from "node:test";
import * as assert from "node:assert/strict";
import { groupRuns } from "../../src/experiments/aggregate";
import { resolveConfig } from "../../src/experiments/config";
import type { ResultRecord } from "../../src/experiments/record";
import { formatMean, paperCells, pairedComparisonTable, switchEpochsText, variantGroup, variantTable } from "../../src/report/sgdl-tables";

/** A record with what the tables read: config, seed, test means and per-user values, the switch epoch. */
function rec(options: Record<string, string | number>, seed: number, users: number[], recall20: number[], switchEpoch: number | null, method = "sgdl"): ResultRecord {
  const mean = recall20.reduce((s, x) => s + x, 0) / recall20.length;
  return {
    key: `k${seed}`,
    seed,
    config: resolveConfig({ dataset: "synthetic", model: "lightgcn", method, seed, preset: "quick", methodOptions: method === "sgdl" ? options : {} }),
    test: { "recall@20": mean, perUser: { users, "recall@20": recall20 } },
    method: { name: method, switchEpoch },
  } as unknown as ResultRecord;
}

test("a variant's seeds are averaged: mean and sample std, shown as mean ± std; the paper's value beside it", () => {
  // seed means: (0.25 + 0.35) / 2 = 0.30 and (0.30 + 0.40) / 2 = 0.35 -> mean 0.325,
  // sample std sqrt(((0.025)^2 + (0.025)^2) / 1) = 0.0353553
  const runs = [rec({ ablation: "no-dls" }, 1, [0, 1], [0.25, 0.35], 9), rec({ ablation: "no-dls" }, 2, [0, 1], [0.3, 0.4], 10)];
  const g = variantGroup("w/o DLS", runs, ["recall@20"]);
  assert.ok(Math.abs(g.mean["recall@20"] - 0.325) < 1e-12);
  assert.ok(Math.abs(g.std["recall@20"] - 0.025 * Math.SQRT2) < 1e-12);
  const [row] = variantTable([{ label: "w/o DLS", records: runs, paper: { "recall@20": 0.3159 } }], { metrics: ["recall@20", "ndcg@20"] });
  assert.deepEqual(row, {
    variant: "w/o DLS",
    seeds: 2,
    "switch epoch": "9, 10",
    "recall@20 (kit)": "0.3250 ± 0.0354",
    "recall@20 (paper)": "0.3159",
    "ndcg@20 (kit)": "", // the records have no ndcg@20
    "ndcg@20 (paper)": "",
  });
});

test("one seed shows the bare mean; a run that never switched says none; extra columns and label column", () => {
  const [row] = variantTable([{ label: "+10 %", records: [rec({ shift: 0.1 }, 1, [0, 1, 2], [0.1, 0.2, 0.6], null)] }], {
    metrics: ["recall@20"],
    labelColumn: "shift",
    extra: () => ({ option: "shift 0.1" }),
  });
  // (0.1 + 0.2 + 0.6) / 3 = 0.3
  assert.deepEqual(row, { shift: "+10 %", seeds: 1, option: "shift 0.1", "switch epoch": "none", "recall@20 (kit)": "0.3000", "recall@20 (paper)": "" });
  assert.equal(formatMean(0.123456, 0.01, 1), "0.1235");
  assert.equal(formatMean(NaN, 0, 1), "");
  assert.equal(switchEpochsText([rec({}, 1, [0], [0], 7), rec({}, 2, [0], [0], null)]), "7, none");
  assert.equal(switchEpochsText([rec({}, 1, [0], [0], null, "normal")]), "-");
  // normal runs get no switch column
  assert.equal("switch epoch" in variantTable([{ label: "Normal", records: [rec({}, 1, [0], [0.5], null, "normal")] }], { metrics: ["recall@20"] })[0], false);
});

test("records of different configurations, or a repeated seed, are not one variant", () => {
  assert.throws(() => variantGroup("mixed", [rec({ ablation: "no-dls" }, 1, [0], [0.1], 9), rec({ ablation: "no-ads" }, 2, [0], [0.1], 9)]), /variant 'mixed': run 1 \(seed 2\) has another configuration/);
  assert.throws(() => variantGroup("twice", [rec({}, 1, [0], [0.1], 9), rec({}, 1, [0], [0.2], 9)]), /repeats a seed/);
  assert.throws(() => variantGroup("empty", []), /no runs/);
});

test("paperCells keeps only the printed metrics", () => {
  assert.deepEqual(paperCells(["recall@5", "recall@20"], (m) => (m === "recall@20" ? 0.3335 : undefined)), { "recall@20": 0.3335 });
});

test("paired comparison: t-test and exact Wilcoxon on hand-computed differences", () => {
  // per-user differences d = (0.5 - 0.25, 0.75 - 0.25, 1 - 0.25) = (0.25, 0.5, 0.75): mean 0.5, sd 0.25,
  // t = 0.5 / (0.25 / sqrt 3) = 2 sqrt 3 = 3.4641, df 2; t(2) CDF = 1/2 + t / (2 sqrt(2 + t^2)) = 1/2 + 3.4641 / (2 sqrt 14) = 0.962910,
  // p = 2 (1 - 0.962910) = 0.074180. Wilcoxon: all 3 differences positive, W- = 0, exact p = 2 / 2^3 = 0.25.
  const [a] = groupRuns([rec({}, 1, [0, 1, 2], [0.5, 0.75, 1], 5)], ["recall@20"]);
  const [b] = groupRuns([rec({}, 1, [2, 1, 0], [0.25, 0.25, 0.25], null, "normal")], ["recall@20"]);
  const [row] = pairedComparisonTable(a, b, { metrics: ["recall@20"], names: ["SGDL", "Normal"] });
  assert.equal(row.SGDL, "0.7500");
  assert.equal(row.Normal, "0.2500");
  assert.equal(row["SGDL - Normal (per user)"], "0.5000");
  assert.equal(row["t-test p"], "0.0742");
  assert.equal(row["Wilcoxon p"], "0.250");
  assert.equal(row["\u2020 (SGDL better, t-test p < 0.05)"], "");
});

test("the mark needs a better A and p < 0.05: a significant loss is not marked", () => {
  // A - B = (0.25, 0.25 + 1e-3, 0.25 + 2e-3, ...) over 10 users: t is huge, p ~ 0; reversed, A is worse
  const users = Array.from({ length: 10 }, (_, u) => u);
  const [hi] = groupRuns([rec({}, 1, users, users.map((u) => 0.5 + u / 1000), 5)], ["recall@20"]);
  const [lo] = groupRuns([rec({}, 1, users, users.map(() => 0.25), null, "normal")], ["recall@20"]);
  const mark = (a: typeof hi, b: typeof hi) => pairedComparisonTable(a, b, { metrics: ["recall@20"] })[0]["\u2020 (A better, t-test p < 0.05)"];
  assert.equal(mark(hi, lo), "\u2020");
  assert.equal(mark(lo, hi), "");
});
