import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fromTriples, has, size, type Interactions } from "../../src/data/interactions";
import { NegativeSampler } from "../../src/data/sampler";
import type { Batch } from "../../src/models/model";
import { batchCount, bceExamples, bprExamples, cutBatches, exampleCount, shuffleExamples } from "../../src/training/batches";
import { Rng } from "../../src/util/rng";

/** A random train split: 30 users, 50 items, 3..20 distinct items each. */
function randomTrain(seed: number): Interactions {
  const rng = new Rng(seed);
  const us: number[] = [];
  const is: number[] = [];
  for (let u = 0; u < 30; u++) {
    const n = 3 + rng.int(18);
    const items = rng.shuffle(Int32Array.from({ length: 50 }, (_, i) => i)).slice(0, n);
    for (const i of items) {
      us.push(u);
      is.push(i);
    }
  }
  return fromTriples(30, 50, us, is, new Array(us.length).fill(0));
}

const pairKey = (u: number, i: number) => `${u}:${i}`;

function trainPairs(x: Interactions): string[] {
  const out: string[] = [];
  for (let u = 0; u < x.nUsers; u++) for (let k = x.indptr[u]; k < x.indptr[u + 1]; k++) out.push(pairKey(u, x.items[k]));
  return out.sort();
}

function rowsOf(b: Batch): string[] {
  const out: string[] = [];
  for (let k = 0; k < exampleCount(b); k++) {
    out.push(b.kind === "bpr" ? `${b.users[k]}:${b.pos[k]}:${b.neg[k]}` : `${b.users[k]}:${b.items[k]}:${b.labels[k]}`);
  }
  return out;
}

describe("epoch examples", () => {
  const train = randomTrain(7);

  it("BPR: every positive exactly once, negatives never positives of their user", () => {
    const ex = bprExamples(train, new NegativeSampler(train, 3));
    assert.ok(ex.kind === "bpr");
    assert.equal(exampleCount(ex), size(train));
    const pairs = Array.from(ex.users, (u, k) => pairKey(u, ex.pos[k])).sort();
    assert.deepEqual(pairs, trainPairs(train));
    for (let k = 0; k < exampleCount(ex); k++) assert.equal(has(train, ex.users[k], ex.neg[k]), false);
  });

  it("BCE: each positive once with label 1, one label-0 negative per positive of the same user", () => {
    const ex = bceExamples(train, new NegativeSampler(train, 3));
    assert.ok(ex.kind === "bce");
    assert.equal(exampleCount(ex), 2 * size(train));
    const positives: string[] = [];
    const negPerUser = new Array(train.nUsers).fill(0);
    for (let k = 0; k < exampleCount(ex); k++) {
      if (ex.labels[k] === 1) positives.push(pairKey(ex.users[k], ex.items[k]));
      else {
        assert.equal(ex.labels[k], 0);
        assert.equal(has(train, ex.users[k], ex.items[k]), false);
        negPerUser[ex.users[k]]++;
      }
    }
    assert.deepEqual(positives.sort(), trainPairs(train));
    for (let u = 0; u < train.nUsers; u++) assert.equal(negPerUser[u], train.indptr[u + 1] - train.indptr[u]);
  });

  it("negatives are resampled each epoch", () => {
    const sampler = new NegativeSampler(train, 3);
    const a = bprExamples(train, sampler);
    const b = bprExamples(train, sampler);
    assert.ok(a.kind === "bpr" && b.kind === "bpr");
    assert.notDeepEqual(a.neg, b.neg);
    assert.deepEqual(a.pos, b.pos);
  });

  it("shuffle: a permutation of the rows, the same for the same seed, different for another", () => {
    const ex = bprExamples(train, new NegativeSampler(train, 3));
    const s1 = shuffleExamples(ex, new Rng(11));
    const s2 = shuffleExamples(ex, new Rng(11));
    const s3 = shuffleExamples(ex, new Rng(12));
    assert.deepEqual(rowsOf(s1), rowsOf(s2));
    assert.notDeepEqual(rowsOf(s1), rowsOf(s3));
    assert.notDeepEqual(rowsOf(s1), rowsOf(ex));
    assert.deepEqual(rowsOf(s1).sort(), rowsOf(ex).sort());
  });

  it("cutBatches: full batches then one partial; together they are the epoch in order", () => {
    const ex = shuffleExamples(bceExamples(train, new NegativeSampler(train, 5)), new Rng(1));
    const n = exampleCount(ex);
    const bs = 64;
    const batches = cutBatches(ex, bs);
    assert.equal(batches.length, Math.ceil(n / bs));
    assert.equal(batchCount(n, bs), batches.length);
    batches.slice(0, -1).forEach((b) => assert.equal(exampleCount(b), bs));
    assert.equal(exampleCount(batches[batches.length - 1]), n - bs * (batches.length - 1));
    assert.ok(n % bs !== 0, "the fixture should leave a partial last batch");
    assert.deepEqual(batches.flatMap(rowsOf), rowsOf(ex));
    assert.throws(() => cutBatches(ex, 0), /batch size/);
  });
});
