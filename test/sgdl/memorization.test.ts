import { test } from "node:test";
import * as assert from "node:assert/strict";
import { fromTriples, has, size, type Interactions } from "../../src/data/interactions";
import { NegativeSampler } from "../../src/data/sampler";
import type { BlockScorer } from "../../src/models/model";
import {
  kthLargest,
  MemorizationTracker,
  rankingListHits,
  sampleNegativePool,
  type EpochMemorization,
} from "../../src/methods/sgdl/memorization";
import { memorizationMetrics, memorizedByHistory, popcount32, pushHistory } from "../../src/methods/sgdl/memorization-metrics";
import { Rng } from "../../src/util/rng";

const close = (actual: number, expected: number, tol = 1e-12): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

/** A scorer reading rows of a fixed [nUsers x nItems] matrix; records the blocks it was asked for. */
function matrixScorer(m: Float32Array, nItems: number, calls: number[][] = []): BlockScorer {
  return (users: Int32Array) => {
    calls.push(Array.from(users));
    const out = new Float32Array(users.length * nItems);
    for (let r = 0; r < users.length; r++) out.set(m.subarray(users[r] * nItems, (users[r] + 1) * nItems), r * nItems);
    return out;
  };
}

// The hand-worked case: 2 users, 6 items.
// user 0 trains on {0, 2, 5} (N_0 = 3), item 5 noisy; user 1 on {1, 4} (N_1 = 2), item 4 noisy.
// CSR order: k0 = (0,0) clean, k1 = (0,2) clean, k2 = (0,5) noisy, k3 = (1,1) clean, k4 = (1,4) noisy.
const HAND_SCORES = Float32Array.of(
  // item: 0    1    2    3    4    5
  0.9, 0.8, 0.1, 0.7, 0.3, 0.7, // user 0
  0.2, 0.6, 0.6, 0.9, 0.5, 0.0, // user 1
);
function handTrain(): Interactions {
  return fromTriples(2, 6, [0, 0, 0, 1, 1], [0, 2, 5, 1, 4], [0, 0, 1, 0, 1]);
}

test("pool 'all': top N_u over all items, training items included, ties to the lower index", () => {
  // user 0, N = 3: order 0 (.9), 1 (.8), then 3 and 5 tie at .7 -> item 3 (lower index) takes slot 3.
  //   list {0, 1, 3}: item 0 in (a training item ranked first: no masking), item 2 out (.1), item 5 out (loses the tie).
  // user 1, N = 2: order 3 (.9), then 1 and 2 tie at .6 -> item 1 takes slot 2.
  //   list {3, 1}: item 1 in (wins the tie), item 4 out (.5).
  const out = new Uint8Array(3);
  rankingListHits(HAND_SCORES, 0, 6, Int32Array.of(0, 2, 5), null, out);
  assert.deepEqual(Array.from(out), [1, 0, 0]);
  const out1 = new Uint8Array(2);
  rankingListHits(HAND_SCORES, 6, 6, Int32Array.of(1, 4), null, out1);
  assert.deepEqual(Array.from(out1), [1, 0]);

  const tr = new MemorizationTracker(handTrain(), { h: 1, rule: "code", pool: "all" });
  const s = tr.observe(matrixScorer(HAND_SCORES, 6), new Rng(1));
  assert.deepEqual(Array.from(tr.lastHits()), [1, 0, 0, 1, 0]);
  // h = 1: memorized = this epoch's hits, M = {k0, k3}, both clean; clean = 3, noisy = 2
  assert.deepEqual(Array.from(tr.memorizedSet()), [0, 3]);
  assert.equal(s.epoch, 1);
  assert.equal(s.memorized, 2);
  close(s.memorizedRatio, 2 / 5);
  close(s.inListRatio, 2 / 5);
  close(s.mp, 2 / 2);
  close(s.mr, 2 / 3);
  close(s.memRateClean, 2 / 3);
  close(s.memRateNoisy, 0 / 2);
  assert.equal(tr.isMemorized(0), true);
  assert.equal(tr.isMemorized(2), false);
  const mem = tr.memorizedInteractions();
  assert.deepEqual([Array.from(mem.indptr), Array.from(mem.items)], [[0, 1, 2], [0, 1]]);
});

test("pool '2n' with injected negatives: top N_u within positives ∪ negatives, repeated negatives enter once", () => {
  // user 0 negatives [3, 3, 4]: pool {0, 2, 5} ∪ {3, 4} = {0, 2, 3, 4, 5}
  //   scores 0:.9 3:.7 5:.7 4:.3 2:.1 -> top 3 = {0, 3, 5}: item 0 in, item 2 out, item 5 IN
  //   (item 1, .8, is not in the pool; if the repeated 3 took two slots, item 5 would be out)
  // user 1 negatives [0, 5]: pool {1, 4, 0, 5}, scores 1:.6 4:.5 0:.2 5:0 -> top 2 = {1, 4}: both in
  const negatives = Int32Array.of(3, 3, 4, 0, 5);
  const out = new Uint8Array(3);
  rankingListHits(HAND_SCORES, 0, 6, Int32Array.of(0, 2, 5), negatives.subarray(0, 3), out);
  assert.deepEqual(Array.from(out), [1, 0, 1]);

  const tr = new MemorizationTracker(handTrain(), { h: 1, rule: "code", pool: "2n" });
  const s = tr.observe(matrixScorer(HAND_SCORES, 6), new Rng(1), negatives);
  assert.deepEqual(Array.from(tr.lastHits()), [1, 0, 1, 1, 1]);
  // M = {k0, k2, k3, k4}: clean k0, k3; noisy k2, k4
  assert.deepEqual(Array.from(tr.memorizedSet()), [0, 2, 3, 4]);
  close(s.mp, 2 / 4);
  close(s.mr, 2 / 3);
  close(s.memRateNoisy, 2 / 2);
  close(s.memorizedRatio, 4 / 5);
});

test("pool '2n': a tie at the cut inside the pool goes to the lower index", () => {
  // user 1 with negatives [2, 2]: pool {1, 4, 2}, scores 1:.6 2:.6 4:.5 -> top 2 = {1, 2}: item 1 in, item 4 out
  const out = new Uint8Array(2);
  rankingListHits(HAND_SCORES, 6, 6, Int32Array.of(1, 4), Int32Array.of(2, 2), out);
  assert.deepEqual(Array.from(out), [1, 0]);
  // negatives [2, 0]: pool {1, 4, 2, 0}; same top 2
  rankingListHits(HAND_SCORES, 6, 6, Int32Array.of(1, 4), Int32Array.of(0, 2), out);
  assert.deepEqual(Array.from(out), [1, 0]);
});

test("pool '2n' with an rng draws N_u negatives per user in CSR order through NegativeSampler", () => {
  const train = randomTrain(new Rng(11), 30, 40, 0.3);
  const negs = sampleNegativePool(train, new Rng(5));
  const replay = new NegativeSampler(train, new Rng(5));
  for (let u = 0; u < train.nUsers; u++) {
    for (let k = train.indptr[u]; k < train.indptr[u + 1]; k++) {
      assert.equal(negs[k], replay.sample(u));
      assert.ok(!has(train, u, negs[k]), `negative ${negs[k]} of user ${u} is a positive`);
    }
  }
  const scores = randomScores(new Rng(3), 30 * 40, 7);
  const a = new MemorizationTracker(train, { pool: "2n", h: 1, rule: "code" });
  const b = new MemorizationTracker(train, { pool: "2n", h: 1, rule: "code" });
  a.observe(matrixScorer(scores, 40), new Rng(5));
  b.observe(matrixScorer(scores, 40), new Rng(999), negs);
  assert.deepEqual(a.lastHits(), b.lastHits());
});

// One interaction scripted over 12 epochs, h = 4. Hits m_t for t = 1..12: 1 1 0 1 0 0 1 1 1 0 0 0
const SCRIPT = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0];
// paper (mean over the last min(t, 4) epochs > 0.5):
//   t1 [1] 1/1 yes; t2 [1 1] 2/2 yes; t3 [1 1 0] 2/3 yes; t4 [1 1 0 1] 3/4 yes; t5 [1 0 1 0] 2/4 no;
//   t6 [0 1 0 0] 1/4 no; t7 [1 0 0 1] 2/4 no; t8 [0 0 1 1] 2/4 no; t9 [0 1 1 1] 3/4 yes;
//   t10 [1 1 1 0] 3/4 yes; t11 [1 1 0 0] 2/4 no; t12 [1 0 0 0] 1/4 no
const PAPER_MEMORIZED = [1, 2, 3, 4, 9, 10];
// code (sum over 4 slots >= 2, unfilled slots 0): t1 sum 1 no (nothing before epoch h/2 = 2); t2 2 yes;
//   t3 2 yes; t4 3 yes; t5 2 yes; t6 1 no; t7 2 yes; t8 2 yes; t9 3 yes; t10 3 yes; t11 2 yes; t12 1 no
const CODE_MEMORIZED = [2, 3, 4, 5, 7, 8, 9, 10, 11];

test("history rule 'paper' vs 'code' on a scripted 12-epoch sequence, h = 4 (pure rule)", () => {
  const paper: number[] = [];
  const code: number[] = [];
  let bits = 0;
  SCRIPT.forEach((hit, j) => {
    const t = j + 1;
    bits = pushHistory(bits, hit, 4);
    if (memorizedByHistory(bits, t, 4, "paper")) paper.push(t);
    if (memorizedByHistory(bits, t, 4, "code")) code.push(t);
  });
  assert.deepEqual(paper, PAPER_MEMORIZED);
  assert.deepEqual(code, CODE_MEMORIZED);
});

test("history rule through the tracker: one user, item 0 trained, hit iff score(0) >= score(1)", () => {
  const train = fromTriples(1, 2, [0], [0], [0]);
  const paper = new MemorizationTracker(train, { h: 4, rule: "paper" });
  const code = new MemorizationTracker(train, { h: 4, rule: "code" });
  const got: { paper: number[]; code: number[] } = { paper: [], code: [] };
  SCRIPT.forEach((hit) => {
    // a hit is scripted as a tie (item 0 wins it as the lower index), a miss as item 1 scoring higher
    const scorer = matrixScorer(hit ? Float32Array.of(0.5, 0.5) : Float32Array.of(0.2, 0.5), 2);
    const sp = paper.observe(scorer, new Rng(0));
    const sc = code.observe(scorer, new Rng(0));
    assert.equal(sp.inListRatio, hit);
    if (sp.memorized) got.paper.push(sp.epoch);
    if (sc.memorized) got.code.push(sc.epoch);
  });
  assert.deepEqual(got.paper, PAPER_MEMORIZED);
  assert.deepEqual(got.code, CODE_MEMORIZED);
});

test("odd h = 5: the code rule needs sum >= 2.5, i.e. 3 of 5; the paper rule 3 of 5 once 5 epochs exist", () => {
  assert.equal(memorizedByHistory(0b00011, 5, 5, "code"), false);
  assert.equal(memorizedByHistory(0b10101, 5, 5, "code"), true);
  assert.equal(memorizedByHistory(0b00011, 5, 5, "paper"), false); // 2/5
  assert.equal(memorizedByHistory(0b00011, 2, 5, "paper"), true); // 2/2 after two epochs
  assert.equal(memorizedByHistory(0b00011, 3, 5, "paper"), true); // 2/3
  assert.equal(memorizedByHistory(0b00011, 4, 5, "paper"), false); // 2/4 is not > 0.5
  // h = 32 keeps all 32 bits
  assert.equal(pushHistory(0xffffffff, 1, 32), 0xffffffff);
  assert.equal(pushHistory(0b1111, 0, 4), 0b1110);
  assert.equal(popcount32(0xffffffff), 32);
  assert.equal(popcount32(0x80000001), 2);
});

test("MP, MR and memory rates by hand: 10 interactions, 3 noisy", () => {
  // noisy = k7, k8, k9; clean = k0..k6 (7). M = {k0..k4 (5 clean), k8 (1 noisy)}, |M| = 6.
  const noisy = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 1, 1);
  const m = memorizationMetrics(Uint8Array.of(1, 1, 1, 1, 1, 0, 0, 0, 1, 0), noisy);
  assert.equal(m.memorized, 6);
  close(m.memorizedRatio, 6 / 10);
  close(m.mp, 5 / 6); // |R| / |M| = 5 / 6
  close(m.mr, 5 / 7); // |R| / |G| = 5 / 7
  close(m.memRateClean, 5 / 7);
  close(m.memRateNoisy, 1 / 3);
  // M = {k0..k5 (6 clean), k7 (1 noisy)}: MP = 6/7, MR = 6/7
  const m2 = memorizationMetrics(Uint8Array.of(1, 1, 1, 1, 1, 1, 0, 1, 0, 0), noisy);
  close(m2.mp, 6 / 7);
  close(m2.mr, 6 / 7);
  close(m2.memRateNoisy, 1 / 3);
  // empty M: MP defined as 1, MR 0, rates 0
  const e = memorizationMetrics(new Uint8Array(10), noisy);
  assert.deepEqual([e.memorized, e.memorizedRatio, e.mp, e.mr, e.memRateClean, e.memRateNoisy], [0, 0, 1, 0, 0, 0]);
  assert.throws(() => memorizationMetrics(new Uint8Array(3), noisy), /3 memorized flags but 10 noisy/);
});

test("memorizedSet follows the history over three epochs", () => {
  // user 0 trains on {0, 1} (N = 2 of 3 items), user 1 on {2} (N = 1 of 3).
  // epoch a: scores u0 [.9 .1 .5] -> top 2 {0, 2}: k0 hit, k1 miss; u1 [.1 .2 .3] -> top 1 {2}: k2 hit
  // epoch b: scores u0 [.1 .9 .5] -> top 2 {1, 2}: k0 miss, k1 hit; u1 [.3 .2 .1] -> top 1 {0}: k2 miss
  const train = fromTriples(2, 3, [0, 0, 1], [0, 1, 2], [0, 1, 0]);
  const a = matrixScorer(Float32Array.of(0.9, 0.1, 0.5, 0.1, 0.2, 0.3), 3);
  const b = matrixScorer(Float32Array.of(0.1, 0.9, 0.5, 0.3, 0.2, 0.1), 3);
  const tr = new MemorizationTracker(train, { h: 2, rule: "code" });
  // code, h = 2: memorized iff sum over 2 slots >= 1
  tr.observe(a, new Rng(0)); // histories k0 [1], k1 [0], k2 [1]
  assert.deepEqual(Array.from(tr.memorizedSet()), [0, 2]);
  let s: EpochMemorization = tr.observe(b, new Rng(0)); // k0 [1 0], k1 [0 1], k2 [1 0]
  assert.deepEqual(Array.from(tr.memorizedSet()), [0, 1, 2]);
  close(s.memRateNoisy, 1); // k1 is the noisy one
  s = tr.observe(b, new Rng(0)); // k0 [0 0], k1 [1 1], k2 [0 0]
  assert.deepEqual(Array.from(tr.memorizedSet()), [1]);
  close(s.mp, 0 / 1);
  close(s.mr, 0 / 2);
  close(s.memRateNoisy, 1 / 1);
  assert.equal(s.epoch, 3);
});

test("property: pool 'all' equals a brute-force full sort of each row (ties, empty users, full users, small blocks)", () => {
  const rng = new Rng(2024);
  for (let trial = 0; trial < 30; trial++) {
    const nUsers = 1 + rng.int(25);
    const nItems = 1 + rng.int(40);
    const train = randomTrain(rng, nUsers, nItems, rng.next());
    const scores = randomScores(rng, nUsers * nItems, 1 + rng.int(6)); // few levels: many ties
    const calls: number[][] = [];
    const tr = new MemorizationTracker(train, { pool: "all", userBlock: 1 + rng.int(5) });
    tr.observe(matrixScorer(scores, nItems, calls), rng);
    assert.deepEqual(tr.lastHits(), bruteForceHits(train, scores, null));
    // only users with training interactions were scored, each once, in blocks of at most userBlock
    const scored = calls.flat();
    assert.deepEqual(scored, Array.from({ length: nUsers }, (_, u) => u).filter((u) => train.indptr[u + 1] > train.indptr[u]));
    for (const c of calls) assert.ok(c.length <= tr.userBlock);
  }
});

test("property: pool '2n' equals a brute-force sort of positives ∪ negatives", () => {
  const rng = new Rng(77);
  for (let trial = 0; trial < 30; trial++) {
    const nUsers = 1 + rng.int(20);
    const nItems = 2 + rng.int(40);
    const train = randomTrain(rng, nUsers, nItems, 0.8 * rng.next(), true);
    const scores = randomScores(rng, nUsers * nItems, 1 + rng.int(6));
    const negs = sampleNegativePool(train, rng);
    const tr = new MemorizationTracker(train, { pool: "2n" });
    tr.observe(matrixScorer(scores, nItems), rng, negs);
    assert.deepEqual(tr.lastHits(), bruteForceHits(train, scores, negs));
  }
});

test("kthLargest on random data with ties equals sorting", () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + rng.int(60);
    const a = Float64Array.from({ length: n }, () => rng.int(1 + rng.int(8)));
    const sorted = Array.from(a).sort((x, y) => y - x);
    const k = 1 + rng.int(n);
    assert.equal(kthLargest(a.slice(), n, k), sorted[k - 1]);
  }
  assert.throws(() => kthLargest(new Float64Array(3), 3, 0), /1 <= k <= n/);
});

test("bad input: NaN scores, wrong scorer shape, bad options, out-of-range negatives", () => {
  const train = handTrain();
  assert.throws(() => rankingListHits(Float32Array.of(0, NaN, 0), 0, 3, Int32Array.of(0), null, new Uint8Array(1)), /item 1 is NaN/);
  const tr = new MemorizationTracker(train);
  assert.throws(() => tr.observe(() => new Float32Array(5), new Rng(0)), /returned 5 scores for 2 users x 6 items/);
  assert.throws(() => new MemorizationTracker(train, { h: 0 }), /option 'h'/);
  assert.throws(() => new MemorizationTracker(train, { h: 33 }), /option 'h'/);
  assert.throws(() => new MemorizationTracker(train, { userBlock: 0 }), /option 'userBlock'/);
  const t2 = new MemorizationTracker(train, { pool: "2n" });
  assert.throws(() => t2.observe(matrixScorer(HAND_SCORES, 6), new Rng(0), Int32Array.of(1, 1, 1, 0, 6)), /negative 6 at 4/);
  assert.throws(() => t2.observe(matrixScorer(HAND_SCORES, 6), new Rng(0), Int32Array.of(1)), /1 negatives for 5 interactions/);
  assert.throws(() => tr.isMemorized(5), /index 5/);
});

/** A random train split: each (u, i) present with probability p (optionally never every item of a user). */
function randomTrain(rng: Rng, nUsers: number, nItems: number, p: number, leaveOne = false): Interactions {
  const us: number[] = [];
  const is: number[] = [];
  const zs: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const spare = leaveOne ? rng.int(nItems) : -1;
    for (let i = 0; i < nItems; i++) {
      if (i === spare || rng.next() >= p) continue;
      us.push(u);
      is.push(i);
      zs.push(rng.next() < 0.2 ? 1 : 0);
    }
  }
  return fromTriples(nUsers, nItems, us, is, zs);
}

/** Scores on a grid of `levels` values, so ties are common. */
function randomScores(rng: Rng, n: number, levels: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.int(levels) / levels);
}

/** The reference: sort each user's candidates by (score desc, item asc) and mark positives among the first N_u. */
function bruteForceHits(train: Interactions, scores: Float32Array, negs: Int32Array | null): Uint8Array {
  const out = new Uint8Array(size(train));
  for (let u = 0; u < train.nUsers; u++) {
    const lo = train.indptr[u];
    const hi = train.indptr[u + 1];
    const cands = new Set<number>();
    if (negs === null) for (let i = 0; i < train.nItems; i++) cands.add(i);
    else for (let k = lo; k < hi; k++) cands.add(train.items[k]).add(negs[k]);
    const s = (i: number): number => scores[u * train.nItems + i];
    const top = new Set([...cands].sort((a, b) => s(b) - s(a) || a - b).slice(0, hi - lo));
    for (let k = lo; k < hi; k++) out[k] = top.has(train.items[k]) ? 1 : 0;
  }
  return out;
}
