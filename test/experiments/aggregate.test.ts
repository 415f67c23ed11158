import { test } from "node:test";
import * as assert from "node:assert/strict";
import { compareGroups, groupPerUser, groupRuns } from "../../src/experiments/aggregate";
import type { ResultRecord } from "../../src/experiments/record";

/** A record with only the fields aggregation reads. */
function rec(method: string, seed: number, users: number[], recall20: number[]): ResultRecord {
  const mean = recall20.reduce((s, x) => s + x, 0) / recall20.length;
  return {
    key: `${method}${seed}`,
    seed,
    config: { dataset: "d", model: "mf", method, preset: "paper" },
    test: { "recall@20": mean, perUser: { users, "recall@20": recall20 } },
  } as unknown as ResultRecord;
}

test("groups by configuration; mean and sample std over seeds", () => {
  const g = groupRuns([rec("normal", 1, [0, 1], [0.2, 0.4]), rec("normal", 2, [0, 1], [0.4, 0.6]), rec("sgdl", 1, [0, 1], [0.5, 0.5])], ["recall@20"]);
  assert.equal(g.length, 2);
  const normal = g.find((x) => x.method === "normal")!;
  // seed means 0.3 and 0.5: mean 0.4, sample std sqrt(((0.1)^2 + (0.1)^2) / 1) = 0.141421
  assert.ok(Math.abs(normal.mean["recall@20"] - 0.4) < 1e-12);
  assert.ok(Math.abs(normal.std["recall@20"] - Math.SQRT2 / 10) < 1e-12);
  assert.deepEqual(normal.seeds, [1, 2]);
  assert.equal(g.find((x) => x.method === "sgdl")!.std["recall@20"], 0);
});

test("per-user values are averaged over seeds, users missing from a seed are left out", () => {
  const [g] = groupRuns([rec("normal", 1, [0, 1, 2], [0.2, 0.4, 1]), rec("normal", 2, [1, 0], [0.6, 0.4])], ["recall@20"]);
  const v = groupPerUser(g, "recall@20");
  assert.deepEqual(Array.from(v.users), [0, 1]);
  // user 0: (0.2 + 0.4) / 2 = 0.3; user 1: (0.4 + 0.6) / 2 = 0.5
  assert.ok(Math.abs(v.values[0] - 0.3) < 1e-12 && Math.abs(v.values[1] - 0.5) < 1e-12);
});

test("comparison is paired by user: a constant positive shift is significant, identical runs are not", () => {
  const users = Array.from({ length: 30 }, (_, u) => u);
  const base = users.map((u) => (u % 7) / 10);
  const [a] = groupRuns([rec("sgdl", 1, users, base.map((x, u) => x + 0.05 + (u % 3) * 0.001))], ["recall@20"]);
  const [b] = groupRuns([rec("normal", 1, users, base)], ["recall@20"]);
  const c = compareGroups(a, b, "recall@20");
  assert.ok(c.meanDiff > 0.05 && c.tTestP < 1e-6 && c.wilcoxonP < 1e-4);
  assert.equal(compareGroups(b, b, "recall@20").tTestP, 1);
});
