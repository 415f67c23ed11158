import assert from "node:assert/strict";
import { test } from "node:test";
import { loadDataset } from "../../src/data/registry";
import { datasetStats, PAPER_TABLE1 } from "../../src/data/stats";
import { fixtureDataDir } from "./fixture-dir";

const TINY = fixtureDataDir("tiny");
const REAL = process.env.SGDL_DATA_DIR;

test("stats of the tiny SGDL split, by hand", () => {
  const s = datasetStats(loadDataset("ml-100k-sgdl", { dataDir: TINY }));
  assert.equal(s.dataset, "ml-100k-sgdl");
  assert.deepEqual([s.users, s.items, s.interactions, s.noisy], [4, 6, 15, 3]);
  assert.equal(s.noisyRatio, 0.2); // 3 / 15
  assert.equal(s.sparsity, 0.375); // 1 - 15 / (4 * 6)
  // train 8 rows (flag 0 twice); valid 3 (flag 0 once), test 4, all clean; the cold-start rows are kept and counted
  assert.deepEqual(s.split, { train: 8, valid: 3, test: 4 });
  assert.deepEqual(s.splitNoisy, { train: 2, valid: 1, test: 0 });
  assert.deepEqual([s.userIdSpace, s.itemIdSpace], [4, 8]);
  assert.deepEqual(
    s.warnings.map((w) => [w.kind, w.count]),
    [
      ["cold-start", 1],
      ["cold-start", 1],
    ],
  );
});

test("stats of the tiny yelp: a full user-item matrix has sparsity 0", () => {
  const s = datasetStats(loadDataset("yelp", { dataDir: TINY }));
  // 12 source rows over 3 users x 4 items; one of them a repeat dropped from valid
  assert.deepEqual([s.users, s.items, s.interactions, s.noisy], [3, 4, 12, 2]);
  assert.equal(s.sparsity, 0); // 1 - 12 / 12
  assert.deepEqual(s.split, { train: 6, valid: 2, test: 3 });
  assert.deepEqual([s.userIdSpace, s.itemIdSpace], [45548, 57396]);
});

test("PAPER_TABLE1 holds the printed numbers, and each printed sparsity is 1 - I / (U * V) to 4 places", () => {
  assert.deepEqual(
    PAPER_TABLE1.map((r) => [r.label, r.users, r.items, r.interactions, r.sparsity]),
    [
      ["Adressa", 212231, 6596, 419491, 0.9997],
      ["MovieLens", 943, 1683, 100000, 0.937],
      ["Yelp", 45548, 57396, 1672520, 0.9994],
    ],
  );
  // 419491 / 1399875676 = 0.00029966; 100000 / 1587069 = 0.063009; 1672520 / 2614272208 = 0.00063976
  for (const r of PAPER_TABLE1) {
    assert.equal(Math.round((1 - r.interactions / (r.users * r.items)) * 1e4) / 1e4, r.sparsity, r.label);
  }
});

test("real ml-100k stats against Table 1", (t) => {
  if (!REAL) return t.skip("SGDL_DATA_DIR not set");
  const s = datasetStats(loadDataset("ml-100k", { dataDir: REAL }));
  assert.deepEqual([s.users, s.items, s.interactions, s.noisy], [943, 1682, 100000, 17480]);
  assert.equal(s.noisyRatio, 0.1748);
  // 943 * 1682 = 1586126; 1 - 100000 / 1586126 = 0.9369533
  assert.ok(Math.abs(s.sparsity - 0.9369533) < 1e-7);
  const paper = PAPER_TABLE1.find((r) => r.dataset === "ml-100k");
  assert.ok(paper);
  assert.deepEqual([s.users, s.interactions], [paper.users, paper.interactions]);
  assert.equal(s.items, paper.items - 1); // the paper counts max id + 1 over 1-based ids
  assert.equal(s.split.train, 80808);
  assert.equal(s.splitNoisy.test, 0);
});

test("real ml-100k-sgdl stats", (t) => {
  if (!REAL) return t.skip("SGDL_DATA_DIR not set");
  const s = datasetStats(loadDataset("ml-100k-sgdl", { dataDir: REAL }));
  assert.deepEqual([s.users, s.items, s.interactions, s.noisy], [497, 1512, 82759, 13431]);
  // 497 * 1512 = 751464; 1 - 82759 / 751464 = 0.8898697
  assert.ok(Math.abs(s.sparsity - 0.8898697) < 1e-7);
  // 66899 / 8652 / 7208 rows in the files (6 valid and 5 test rows name an item absent from train: kept)
  assert.deepEqual(s.split, { train: 66899, valid: 8652, test: 7208 });
  assert.deepEqual(s.splitNoisy, { train: 11899, valid: 1532, test: 0 });
  assert.deepEqual([s.userIdSpace, s.itemIdSpace], [497, 1683]);
});
