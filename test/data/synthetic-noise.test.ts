import { test } from "node:test";
import * as assert from "node:assert/strict";
import { SYNTHETIC_PRESETS, syntheticTruth, trueAffinity } from "../../src/data/synthetic";
import { inNoisyPool, NOISY_POOLS, noiseModel, noisyWeights, PREFERRED_AFFINITY } from "../../src/data/synthetic-noise";

test("pool bounds and shares: near-miss = [0, 0.5244), 20 % of N(0, 1); below-median = (-inf, 0), 50 %", () => {
  assert.equal(inNoisyPool("near-miss", 0), true);
  assert.equal(inNoisyPool("near-miss", -1e-9), false);
  assert.equal(inNoisyPool("near-miss", PREFERRED_AFFINITY), false, "a preferred item is never a near miss");
  assert.equal(inNoisyPool("below-median", -3), true);
  assert.equal(inNoisyPool("below-median", 0), false);
  // the documented shares against the generator's affinities: Phi(0.5244) - Phi(0) = 0.7 - 0.5 = 0.2, Phi(0) = 0.5
  // (943 x 1682 affinities; the shares' sampling error is about 0.003)
  const truth = syntheticTruth(SYNTHETIC_PRESETS.default);
  const nU = SYNTHETIC_PRESETS.default.users;
  const nI = SYNTHETIC_PRESETS.default.items;
  let near = 0;
  let below = 0;
  for (let u = 0; u < nU; u++)
    for (let i = 0; i < nI; i++) {
      const a = trueAffinity(truth, u, i);
      near += inNoisyPool("near-miss", a) ? 1 : 0;
      below += inNoisyPool("below-median", a) ? 1 : 0;
    }
  assert.ok(Math.abs(near / (nU * nI) - NOISY_POOLS["near-miss"].share) < 0.01, `near-miss share ${near / (nU * nI)}`);
  assert.ok(Math.abs(below / (nU * nI) - NOISY_POOLS["below-median"].share) < 0.01, `below-median share ${below / (nU * nI)}`);
});

test("noisy weights are popularity^alpha", () => {
  const p = Float64Array.from([4, 0.25, 9]);
  assert.deepEqual(Array.from(noisyWeights(p, 0)), [1, 1, 1]);
  assert.deepEqual(Array.from(noisyWeights(p, 0.5)), [2, 0.5, 3]);
  assert.deepEqual(Array.from(noisyWeights(p, 1)), [4, 0.25, 9]);
  assert.notEqual(noisyWeights(p, 1), p, "a copy, not the truth's array");
});

test("noise model: defaults near-miss and uniform; bad values name the field", () => {
  assert.deepEqual(noiseModel({}), { pool: "near-miss", popularityExponent: 0 });
  assert.deepEqual(noiseModel({ noisyPool: "below-median", noisyPopularityExponent: 1 }), { pool: "below-median", popularityExponent: 1 });
  assert.throws(() => noiseModel({ noisyPopularityExponent: Number.NaN }), /SyntheticOptions \(field 'noisyPopularityExponent'\): must be a finite number >= 0, got NaN/);
  assert.throws(() => noiseModel({ noisyPool: "toString" as "near-miss" }), /field 'noisyPool'/);
});
