import { test } from "node:test";
import * as assert from "node:assert/strict";
import { fromTriples, has, size, userOf, type Interactions } from "../../src/data/interactions";
import { bprTriples, NegativeSampler } from "../../src/data/sampler";
import { generateSynthetic, SYNTHETIC_PRESETS } from "../../src/data/synthetic";
import { Rng } from "../../src/util/rng";

// 10 items. user 0 has {0, 3, 4, 7} (allowed: 1 2 5 6 8 9), user 1 nothing, user 2 every item.
function fixture(): Interactions {
  const u: number[] = [0, 0, 0, 0];
  const i: number[] = [7, 0, 4, 3];
  for (let j = 0; j < 10; j++) {
    u.push(2);
    i.push(j);
  }
  return fromTriples(3, 10, u, i, new Array<number>(u.length).fill(0));
}

/** Pearson's chi-square of observed counts against equal expected counts. */
function chiSquare(counts: readonly number[]): number {
  const n = counts.reduce((s, x) => s + x, 0);
  const e = n / counts.length;
  return counts.reduce((s, x) => s + ((x - e) * (x - e)) / e, 0);
}

/** An Rng whose int(n) replays fixed values, to check the rank-to-item mapping by hand. */
class ScriptedRng extends Rng {
  constructor(private readonly script: number[]) {
    super(0);
  }
  override int(n: number): number {
    const r = this.script.shift();
    if (r === undefined || r >= n) throw new Error(`script exhausted or out of range for n=${n}`);
    return r;
  }
}

test("the r-th draw maps to the r-th non-positive item", () => {
  // user 0's non-positives in order: 1 2 5 6 8 9; user 1's: 0..9
  const s = new NegativeSampler(fixture(), new ScriptedRng([0, 1, 2, 3, 4, 5, 0, 9]));
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => s.sample(0)), [1, 2, 5, 6, 8, 9]);
  assert.deepEqual([s.sample(1), s.sample(1)], [0, 9]);
});

test("never returns a training positive", () => {
  const x = fixture();
  const s = new NegativeSampler(x, 1);
  for (let k = 0; k < 20000; k++) {
    const j = s.sample(0);
    assert.ok(j >= 0 && j < 10 && !has(x, 0, j), `drew positive or out-of-range item ${j}`);
  }
  // and on a realistic train split, via bprTriples
  const train = generateSynthetic(SYNTHETIC_PRESETS.quick).train;
  const t = bprTriples(train, 3);
  for (let k = 0; k < t.neg.length; k++) assert.ok(!has(train, t.users[k], t.neg[k]), `negative ${t.neg[k]} is a positive of user ${t.users[k]}`);
});

test("uniform over the allowed items (chi-square, fixed seed)", () => {
  const s = new NegativeSampler(fixture(), 42);
  const allowed = [1, 2, 5, 6, 8, 9];
  const c0 = new Array<number>(10).fill(0);
  for (let k = 0; k < 60000; k++) c0[s.sample(0)]++;
  // 6 cells, 5 degrees of freedom: chi-square 0.999 quantile = 20.515
  assert.ok(chiSquare(allowed.map((j) => c0[j])) < 20.515, `chi-square ${chiSquare(allowed.map((j) => c0[j]))}`);
  // the bound has teeth: a sampler that never returns the last item 9 would score
  // 5 * (12000 - 10000)^2 / 10000 + 10000 = 12000
  assert.ok(chiSquare([12000, 12000, 12000, 12000, 12000, 0]) > 20.515);

  const c1 = new Array<number>(10).fill(0);
  for (let k = 0; k < 100000; k++) c1[s.sample(1)]++;
  // 10 cells, 9 degrees of freedom: 0.999 quantile = 27.877
  assert.ok(chiSquare(c1) < 27.877, `chi-square ${chiSquare(c1)}`);
});

test("deterministic per seed", () => {
  const x = fixture();
  const draw = (seed: number): number[] => {
    const s = new NegativeSampler(x, seed);
    return Array.from({ length: 200 }, (_, k) => s.sample(k % 2));
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
});

test("a user with every item is an error, not an endless loop", () => {
  const x = fixture();
  const s = new NegativeSampler(x, 1);
  assert.throws(() => s.sample(2), /user 2 has interacted with all 10 items/);
  assert.throws(() => bprTriples(x, 1), /user 2 has interacted with all 10 items/);
  assert.throws(() => s.sample(3), /user 3 is outside \[0, 3\)/);
});

test("bprTriples: one fresh negative per positive, in CSR order", () => {
  const train = generateSynthetic(SYNTHETIC_PRESETS.quick).train;
  const sampler = new NegativeSampler(train, 5);
  const a = bprTriples(train, sampler);
  const b = bprTriples(train, sampler);
  assert.equal(a.neg.length, size(train));
  assert.deepEqual(a.users, userOf(train));
  assert.deepEqual(a.pos, train.items);
  assert.notDeepEqual(a.neg, b.neg, "negatives must be resampled on each call");
  assert.deepEqual(bprTriples(train, 9).neg, bprTriples(train, 9).neg);
  a.pos[0] = -1; // the triples are copies, the split is untouched
  assert.notEqual(train.items[0], -1);
});

test("sampleFor fills the given buffer; bad rows and sizes are refused", () => {
  const s = new NegativeSampler(fixture(), 2);
  const out = new Int32Array(4).fill(-1);
  assert.equal(s.sampleFor(Int32Array.from([0, 1, 0, 1]), out), out);
  for (const j of out) assert.ok(j >= 0 && j < 10);
  assert.throws(() => s.sampleFor(Int32Array.from([0, 1]), out), /out has length 4, users 2/);
  const unsorted: Interactions = { nUsers: 1, nItems: 5, indptr: Int32Array.from([0, 2]), items: Int32Array.from([3, 1]), noisy: new Uint8Array(2) };
  assert.throws(() => new NegativeSampler(unsorted, 1), /user 0 is not strictly increasing/);
});
