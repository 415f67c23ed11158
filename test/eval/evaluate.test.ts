import { test } from "node:test";
import * as assert from "node:assert/strict";
import { fromTriples, type Interactions } from "../../src/data/interactions";
import { evaluateRanking, evaluateSplit, type Scorer } from "../../src/eval/evaluate";
import { topKIndices } from "../../src/eval/topk";
import { Rng } from "../../src/util/rng";

const close = (actual: number, expected: number, tol = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

const INV_LOG2_3 = 0.6309297535714574; // 1/log2(3)
const INV_LOG2_5 = 0.43067655807339306; // 1/log2(5)

// ---- topKIndices ----

test("top-K orders by score and breaks ties by the lower item index", () => {
  const s = Float32Array.of(0.5, 0.9, 0.5, 0.9, 0.1);
  assert.deepEqual(Array.from(topKIndices(s, 0, 5, 3)), [1, 3, 0]);
  assert.deepEqual(Array.from(topKIndices(s, 0, 5, 5)), [1, 3, 0, 2, 4]);
  // all equal: plain index order
  assert.deepEqual(Array.from(topKIndices(new Float32Array(8), 0, 8, 4)), [0, 1, 2, 3]);
  // -Infinity is a score like any other
  assert.deepEqual(Array.from(topKIndices(Float64Array.of(-Infinity, -1, -Infinity), 0, 3, 3)), [1, 0, 2]);
});

test("masked items are never ranked, whatever their score", () => {
  const s = Float32Array.of(0.2, 5.0, 0.3, 4.0, 0.1, 0.25);
  // item 1 (5.0) and item 3 (4.0) masked, given in two unsorted lists with a duplicate
  const r = topKIndices(s, 0, 6, 3, [Int32Array.of(3, 1), Int32Array.of(1)]);
  assert.deepEqual(Array.from(r), [2, 5, 0]);
  // fewer unmasked items than K: a shorter list
  assert.deepEqual(Array.from(topKIndices(s, 0, 6, 10, [Int32Array.of(0, 1, 2, 3)])), [5, 4]);
  assert.deepEqual(Array.from(topKIndices(s, 0, 6, 3, [Int32Array.of(0, 1, 2, 3, 4, 5)])), []);
  assert.deepEqual(Array.from(topKIndices(s, 0, 6, 0)), []);
});

test("top-K reads the row at the given offset", () => {
  const block = Float32Array.of(9, 8, 7, /* row 1: */ 1, 3, 2);
  assert.deepEqual(Array.from(topKIndices(block, 3, 3, 2)), [1, 2]);
  assert.throws(() => topKIndices(block, 4, 3, 2), /outside the score array/);
});

test("top-K rejects NaN scores and masked items out of range", () => {
  assert.throws(() => topKIndices(Float32Array.of(1, NaN, 0), 0, 3, 2), /item 1 is NaN/);
  assert.throws(() => topKIndices(Float32Array.of(1, 2, 0), 0, 3, 2, [Int32Array.of(3)]), /masked item 3/);
  assert.throws(() => topKIndices(Float32Array.of(1, 2, 0), 0, 3, -1), /k must be/);
});

test("top-K equals a full stable sort on random rows with many ties and masks", () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + rng.int(300);
    const k = rng.int(40);
    const s = new Float32Array(n);
    for (let i = 0; i < n; i++) s[i] = rng.int(12) / 4; // 12 distinct values: many ties
    const mask = Int32Array.from({ length: rng.int(n) }, () => rng.int(n));
    const masked = new Set(mask);
    const expected = Array.from({ length: n }, (_, i) => i)
      .filter((i) => !masked.has(i))
      .sort((a, b) => s[b] - s[a] || a - b)
      .slice(0, k);
    assert.deepEqual(Array.from(topKIndices(s, 0, n, k, [mask])), expected, `trial ${trial}`);
  }
});

// ---- evaluateRanking / evaluateSplit ----

/*
 * 4 users x 6 items.
 *   user 0: train {0}, valid {1}, test {2, 5}
 *   user 1: nothing at all (not evaluated)
 *   user 2: train {4}, valid {}, test {3}
 *   user 3: train {}, valid {2}, test {1}
 */
function tinySplits(): { train: Interactions; valid: Interactions; test: Interactions } {
  const mk = (pairs: [number, number][]): Interactions =>
    fromTriples(4, 6, pairs.map((p) => p[0]), pairs.map((p) => p[1]), pairs.map(() => 0));
  return {
    train: mk([[0, 0], [2, 4]]),
    valid: mk([[0, 1], [3, 2]]),
    test: mk([[0, 2], [0, 5], [2, 3], [3, 1]]),
  };
}

const SCORES = [
  [0.99, 0.9, 0.5, 0.8, 0.1, 0.3], // user 0
  [0, 0, 0, 0, 0, 0], // user 1
  [0.2, 0.2, 0.2, 0.2, 1.0, 0.2], // user 2: all tied except the masked train item
  [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], // user 3
];

function recordingScorer(calls: number[][]): Scorer {
  return (users) => {
    calls.push(Array.from(users));
    const out = new Float32Array(users.length * 6);
    users.forEach((u, r) => out.set(SCORES[u], r * 6));
    return out;
  };
}

test("test split: train and valid masked, ties by lower index, hand-computed metrics", async () => {
  const res = await evaluateSplit(recordingScorer([]), tinySplits(), "test", { ks: [2, 5] });
  assert.deepEqual(Array.from(res.users), [0, 2, 3]); // user 1 has no test items
  assert.deepEqual(Object.keys(res.perUser).sort(), ["ndcg@2", "ndcg@5", "recall@2", "recall@5"]);
  /*
   * user 0: items 0 (train) and 1 (valid) masked; ranking 3 (.8), 2 (.5), 5 (.3), 4 (.1); truth {2, 5}
   *   hits at ranks 2, 3.  K=2: recall 1/2, NDCG = (1/log2 3) / (1 + 1/log2 3)
   *   K=5: recall 1, NDCG = (1/log2 3 + 1/log2 4) / (1 + 1/log2 3)
   * user 2: item 4 (score 1.0) masked; the rest tie at 0.2 -> ranking 0, 1, 2, 3, 5; truth {3}: hit at rank 4
   *   K=2: 0, 0.  K=5: recall 1, NDCG = 1/log2(5) / 1
   * user 3: item 2 (valid) masked; ranking 5, 4, 3, 1, 0; truth {1}: hit at rank 4
   *   K=2: 0, 0.  K=5: recall 1, NDCG = 1/log2(5)
   */
  const idcg2 = 1 + INV_LOG2_3;
  const u0 = { r2: 0.5, n2: INV_LOG2_3 / idcg2, r5: 1, n5: (INV_LOG2_3 + 0.5) / idcg2 };
  const expect = {
    "recall@2": [u0.r2, 0, 0],
    "ndcg@2": [u0.n2, 0, 0],
    "recall@5": [u0.r5, 1, 1],
    "ndcg@5": [u0.n5, INV_LOG2_5, INV_LOG2_5],
  };
  for (const [key, values] of Object.entries(expect)) {
    values.forEach((v, j) => close(res.perUser[key][j], v));
    close(res.mean[key], (values[0] + values[1] + values[2]) / 3);
  }
  close(res.mean["ndcg@5"], (0.6934264036172708 + 2 * INV_LOG2_5) / 3); // u0: 1.1309297.../1.6309297... = 0.69342640...
});

test("validation split masks only train items", async () => {
  const res = await evaluateSplit(recordingScorer([]), tinySplits(), "valid", { ks: [2, 5] });
  /*
   * user 0: item 0 masked; ranking 1 (.9), 3, 2, 5, 4; truth {1}: hit at rank 1 -> all metrics 1
   * user 3: nothing masked; ranking 5, 4, 3, 2, 1, 0; truth {2}: hit at rank 4
   *   K=2: 0, 0; K=5: recall 1, NDCG 1/log2(5)
   * user 2 has no validation items.
   */
  assert.deepEqual(Array.from(res.users), [0, 3]);
  assert.deepEqual(Array.from(res.perUser["recall@2"]), [1, 0]);
  assert.deepEqual(Array.from(res.perUser["ndcg@2"]), [1, 0]);
  assert.deepEqual(Array.from(res.perUser["recall@5"]), [1, 1]);
  close(res.perUser["ndcg@5"][1], INV_LOG2_5);
  close(res.mean["ndcg@5"], (1 + INV_LOG2_5) / 2);
});

test("a masked item with the top score is never a hit, even if it is in the truth", async () => {
  const x = fromTriples(1, 4, [0], [2], [0]);
  const scorer: Scorer = () => Float32Array.of(0.1, 0.2, 9, 0.3);
  const unmasked = await evaluateRanking(scorer, x, [], { ks: [1] });
  assert.equal(unmasked.perUser["recall@1"][0], 1); // without the mask item 2 is the hit at rank 1
  const masked = await evaluateRanking(scorer, x, [x], { ks: [1, 3] });
  assert.equal(masked.perUser["recall@1"][0], 0);
  assert.equal(masked.perUser["recall@3"][0], 0);
  assert.equal(masked.perUser["ndcg@3"][0], 0);
});

test("default ks are 5 and 20 with the exact metric keys", async () => {
  const res = await evaluateSplit(recordingScorer([]), tinySplits(), "test");
  assert.deepEqual(res.ks, [5, 20]);
  assert.deepEqual(Object.keys(res.mean).sort(), ["ndcg@20", "ndcg@5", "recall@20", "recall@5"]);
  // only 6 items, so K = 20 sees the same ranking as K = 5; user 0's IDCG has min(20, 2) = 2 terms
  assert.deepEqual(Array.from(res.perUser["ndcg@20"]), Array.from(res.perUser["ndcg@5"]));
});

test("block size changes nothing but the scorer calls; async scorers work", async () => {
  const results = [];
  for (const userBlock of [1, 2, 256]) {
    const calls: number[][] = [];
    const sync = recordingScorer(calls);
    const scorer: Scorer = async (users) => sync(users);
    results.push(await evaluateSplit(scorer, tinySplits(), "test", { userBlock }));
    const expectedCalls = { 1: [[0], [2], [3]], 2: [[0, 2], [3]], 256: [[0, 2, 3]] }[userBlock];
    assert.deepEqual(calls, expectedCalls);
  }
  for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
});

test("progress is reported after every block", async () => {
  const seen: string[] = [];
  await evaluateSplit(recordingScorer([]), tinySplits(), "test", {
    userBlock: 2,
    onProgress: (done, total) => seen.push(`${done}/${total}`),
  });
  assert.deepEqual(seen, ["2/3", "3/3"]);
});

test("no user with ground truth: empty per-user arrays and NaN means", async () => {
  const empty = fromTriples(3, 5, [], [], []);
  let called = false;
  const res = await evaluateRanking(() => ((called = true), new Float32Array(0)), empty, []);
  assert.equal(called, false);
  assert.equal(res.users.length, 0);
  assert.ok(Number.isNaN(res.mean["recall@5"]));
});

test("bad scorer output and bad options are clear errors", async () => {
  const sp = tinySplits();
  await assert.rejects(evaluateSplit(() => new Float32Array(5), sp, "test"), /returned 5 scores for 3 users x 6 items/);
  const nan: Scorer = (users) => new Float32Array(users.length * 6).fill(NaN);
  await assert.rejects(evaluateSplit(nan, sp, "test"), /user 0: .*NaN/);
  await assert.rejects(evaluateSplit(recordingScorer([]), sp, "test", { ks: [0] }), /K must be a positive integer/);
  await assert.rejects(evaluateSplit(recordingScorer([]), sp, "test", { ks: [5, 5] }), /duplicates/);
  await assert.rejects(evaluateSplit(recordingScorer([]), sp, "test", { userBlock: 0 }), /userBlock/);
  const wrong = fromTriples(4, 7, [], [], []);
  await assert.rejects(evaluateRanking(recordingScorer([]), sp.test, [wrong]), /a mask has 4 users x 7 items/);
});
