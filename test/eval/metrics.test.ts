import { test } from "node:test";
import * as assert from "node:assert/strict";
import { idcgAtK, inTruth, ndcgAtK, recallAtK } from "../../src/eval/metrics";

const close = (actual: number, expected: number, tol = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

// 1/log2(2) = 1, 1/log2(3) = 0.6309297535714574, 1/log2(4) = 0.5, 1/log2(5) = 0.43067655807339306

test("|T_u| = 3, hits at ranks 1 and 4, K = 5", () => {
  const truth = Int32Array.of(10, 20, 30);
  const ranked = Int32Array.of(10, 1, 2, 20, 3);
  // recall = 2 / 3
  close(recallAtK(ranked, truth, 5), 2 / 3);
  // DCG = 1/log2(2) + 1/log2(5) = 1 + 0.43067655807339306 = 1.430676558073393
  // IDCG = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.6309297535714574 + 0.5 = 2.1309297535714573
  // NDCG = 1.430676558073393 / 2.1309297535714573 = 0.67138607...
  close(ndcgAtK(ranked, truth, 5), 1.430676558073393 / 2.1309297535714573);
  close(ndcgAtK(ranked, truth, 5), 0.67138607, 1e-8);
  // K = 3 sees only the hit at rank 1: recall 1/3, NDCG = 1 / IDCG@3 = 1 / 2.1309297535714573
  close(recallAtK(ranked, truth, 3), 1 / 3);
  close(ndcgAtK(ranked, truth, 3), 1 / 2.1309297535714573);
});

test("IDCG sums only min(K, |T_u|) terms when |T_u| < K", () => {
  // |T_u| = 2, K = 5: IDCG = 1 + 1/log2(3) = 1.6309297535714574 (not the 5-term sum 2.9484591...)
  close(idcgAtK(2, 5), 1.6309297535714574);
  close(idcgAtK(5, 5), 1 + 0.6309297535714574 + 0.5 + 0.43067655807339306 + 1 / Math.log2(6));
  close(idcgAtK(7, 2), 1.6309297535714574);
  const truth = Int32Array.of(3, 9);
  // hit at rank 2 only: DCG = 1/log2(3) = 0.6309297535714574, NDCG = 0.6309.../1.6309... = 0.3868528...
  const ranked = Int32Array.of(7, 3, 1, 2, 4);
  close(ndcgAtK(ranked, truth, 5), 0.6309297535714574 / 1.6309297535714574);
  close(recallAtK(ranked, truth, 5), 1 / 2);
  // both relevant items first: NDCG must be exactly 1 with the min rule
  close(ndcgAtK(Int32Array.of(9, 3, 7, 1, 2), truth, 5), 1);
  close(ndcgAtK(Int32Array.of(9, 3, 7, 1, 2), truth, 20), 1);
});

test("K = 1 and a miss", () => {
  const truth = Int32Array.of(3, 9);
  assert.equal(recallAtK(Int32Array.of(7, 3), truth, 1), 0);
  assert.equal(ndcgAtK(Int32Array.of(7, 3), truth, 1), 0);
  assert.equal(recallAtK(Int32Array.of(3, 7), truth, 1), 1 / 2);
  assert.equal(ndcgAtK(Int32Array.of(3, 7), truth, 1), 1); // IDCG@1 = 1
});

test("a ranked list shorter than K counts only what it has", () => {
  // |T_u| = 3, ranked = [20], K = 5: recall 1/3, NDCG = 1 / IDCG@5 with min(5, 3) = 3 terms
  const truth = Int32Array.of(10, 20, 30);
  close(recallAtK(Int32Array.of(20), truth, 5), 1 / 3);
  close(ndcgAtK(Int32Array.of(20), truth, 5), 1 / 2.1309297535714573);
  assert.equal(recallAtK(new Int32Array(0), truth, 5), 0);
});

test("a Set and a sorted array give the same values", () => {
  const ranked = Int32Array.of(5, 8, 2, 11, 0, 4);
  const arr = Int32Array.of(0, 2, 4, 6);
  const set = new Set([6, 4, 2, 0]);
  for (const k of [1, 2, 3, 5, 6]) {
    assert.equal(recallAtK(ranked, arr, k), recallAtK(ranked, set, k));
    assert.equal(ndcgAtK(ranked, arr, k), ndcgAtK(ranked, set, k));
  }
  // hits at ranks 3, 5, 6 of 4 relevant: recall@6 = 3/4
  close(recallAtK(ranked, arr, 6), 3 / 4);
  // DCG = 1/log2(4) + 1/log2(6) + 1/log2(7); IDCG@6 = 1 + 1/log2(3) + 1/log2(4) + 1/log2(5)
  const dcg = 0.5 + 1 / Math.log2(6) + 1 / Math.log2(7);
  close(ndcgAtK(ranked, arr, 6), dcg / (1 + 0.6309297535714574 + 0.5 + 0.43067655807339306));
});

test("binary search finds every member and nothing else", () => {
  const truth = Int32Array.of(1, 4, 9, 16, 25);
  for (let i = -1; i < 30; i++) assert.equal(inTruth(truth, i), [1, 4, 9, 16, 25].includes(i), `item ${i}`);
  assert.equal(inTruth(new Int32Array(0), 0), false);
});

test("no ground truth or a bad K is an error, not a silent NaN", () => {
  assert.throws(() => recallAtK(Int32Array.of(1), new Int32Array(0), 5), /no ground-truth items/);
  assert.throws(() => ndcgAtK(Int32Array.of(1), new Set<number>(), 5), /no ground-truth items/);
  assert.throws(() => ndcgAtK(Int32Array.of(1), Int32Array.of(1), 0), /K must be a positive integer/);
  assert.throws(() => recallAtK(Int32Array.of(1), Int32Array.of(1), 2.5), /K must be a positive integer/);
});
