import { test } from "node:test";
import * as assert from "node:assert/strict";
import { noisyCount, size, type Interactions } from "../../src/data/interactions";
import {
  generateSynthetic,
  generateSyntheticWithTruth,
  NOISY_AFFINITY_BELOW,
  PREFERRED_AFFINITY,
  SYNTHETIC_PRESETS,
  syntheticFingerprint,
  syntheticTruth,
  trueAffinity,
  type SyntheticOptions,
} from "../../src/data/synthetic";
import { DataError } from "../../src/util/errors";

const quick = SYNTHETIC_PRESETS.quick;

/** Every row strictly increasing: sorted and without a repeated (user, item) pair. */
function assertRowsStrict(x: Interactions, what: string): void {
  for (let u = 0; u < x.nUsers; u++)
    for (let k = x.indptr[u] + 1; k < x.indptr[u + 1]; k++)
      assert.ok(x.items[k - 1] < x.items[k], `${what}: user ${u} repeats or misorders item ${x.items[k]}`);
}

function rowLength(x: Interactions, u: number): number {
  return x.indptr[u + 1] - x.indptr[u];
}

test("presets have the requested sizes", () => {
  assert.deepEqual(SYNTHETIC_PRESETS.default, { users: 943, items: 1682, interactions: 100000, noiseRate: 0.175, seed: 2020 });
  const y = SYNTHETIC_PRESETS.yelp;
  assert.deepEqual([y.users, y.items, y.interactions, y.noiseRate], [45548, 57396, 1672520, 0.156]);
  assert.ok(quick.interactions <= 10000);
});

test("quick preset: exact counts, exact noise share, no duplicates, clean test, every user in train", () => {
  const { dataset: d, all } = generateSyntheticWithTruth(quick);
  assert.equal(d.name, "synthetic");
  assert.equal(d.nUsers, 200);
  assert.equal(d.nItems, 300);
  // all interactions: 8000, noisy = round(0.175 * 8000) = 1400 exactly
  assert.equal(size(all), 8000);
  assert.equal(noisyCount(all), 1400);
  assert.equal(d.source.interactions, 8000);
  assert.equal(d.source.noisy, 1400);
  assert.ok(Math.abs(noisyCount(all) / size(all) - 0.175) <= 0.005);
  assertRowsStrict(all, "all");
  for (const [name, s] of [["train", d.train], ["valid", d.valid], ["test", d.test]] as const) assertRowsStrict(s, name);

  // the splits partition `all`, less the noisy test rows: no pair in two splits, flags carried
  const flagOf = new Map<number, number>();
  for (let u = 0; u < all.nUsers; u++) for (let k = all.indptr[u]; k < all.indptr[u + 1]; k++) flagOf.set(u * all.nItems + all.items[k], all.noisy[k]);
  const seen = new Set<number>();
  for (const s of [d.train, d.valid, d.test]) {
    for (let u = 0; u < s.nUsers; u++)
      for (let k = s.indptr[u]; k < s.indptr[u + 1]; k++) {
        const key = u * s.nItems + s.items[k];
        assert.equal(flagOf.get(key), s.noisy[k], "split row missing from `all` or flag changed");
        assert.ok(!seen.has(key), "pair in two splits");
        seen.add(key);
      }
  }
  const droppedNoisy = noisyCount(all) - noisyCount(d.train) - noisyCount(d.valid);
  assert.equal(size(d.train) + size(d.valid) + size(d.test) + droppedNoisy, 8000);

  assert.equal(noisyCount(d.test), 0, "test split must be clean");
  assert.ok(size(d.test) > 0 && droppedNoisy > 0, "the clean-test rule should have had noisy rows to drop");
  for (let u = 0; u < d.nUsers; u++) {
    assert.ok(rowLength(all, u) >= 10, `user ${u} has fewer than 10 interactions`);
    assert.ok(rowLength(d.train, u) > 0, `user ${u} missing from train`);
  }
  assert.deepEqual(Array.from(d.originalUserIds.slice(0, 3)), [0, 1, 2]);
  assert.equal(d.originalItemIds[299], 299);
});

test("ML-100K-sized preset: train noise share within 0.5 points of noiseRate, heavy-tailed degrees", () => {
  const { dataset: d, all } = generateSyntheticWithTruth(SYNTHETIC_PRESETS.default);
  assert.equal(size(all), 100000);
  assert.equal(noisyCount(all), 17500); // 0.175 * 100000
  const share = noisyCount(d.train) / size(d.train);
  assert.ok(Math.abs(share - 0.175) <= 0.005, `train noisy share ${share}`);
  // users: heavy tail, the most active user holds several times the median
  const deg = Array.from({ length: all.nUsers }, (_, u) => rowLength(all, u)).sort((a, b) => a - b);
  assert.ok(deg[0] >= 10);
  assert.ok(deg[deg.length - 1] >= 3 * deg[deg.length >> 1], `user degrees min/median/max ${deg[0]}/${deg[deg.length >> 1]}/${deg[deg.length - 1]}`);
  // items: popularity skew; with uniform popularity the top 10 % of items would hold about 10 %
  const ideg = new Array<number>(all.nItems).fill(0);
  for (const i of all.items) ideg[i]++;
  ideg.sort((a, b) => b - a);
  const top = ideg.slice(0, Math.round(all.nItems / 10)).reduce((s, x) => s + x, 0);
  assert.ok(top / size(all) > 0.3, `top-10% item share ${top / size(all)}`);
});

test("noisy positives have low true affinity, clean ones high (truncated-normal means)", () => {
  const { all, truth } = generateSyntheticWithTruth(quick);
  let sc = 0;
  let nc = 0;
  let sn = 0;
  let nn = 0;
  for (let u = 0; u < all.nUsers; u++)
    for (let k = all.indptr[u]; k < all.indptr[u + 1]; k++) {
      const a = trueAffinity(truth, u, all.items[k]);
      if (all.noisy[k]) {
        assert.ok(a < NOISY_AFFINITY_BELOW, `noisy (${u}, ${all.items[k]}) has affinity ${a}`);
        sn += a;
        nn++;
      } else {
        assert.ok(a >= PREFERRED_AFFINITY, `clean (${u}, ${all.items[k]}) has affinity ${a}`);
        sc += a;
        nc++;
      }
    }
  // affinity ~ N(0,1) over items; popularity is independent of it, so
  // clean: E[a | a > 0.5244] = phi(0.5244) / 0.3 = 0.34769 / 0.3 = 1.159
  // noisy: E[a | a < 0] = -phi(0) / 0.5 = -0.39894 / 0.5 = -0.798
  assert.ok(Math.abs(sc / nc - 1.159) < 0.1, `clean mean ${sc / nc}`);
  assert.ok(Math.abs(sn / nn + 0.798) < 0.1, `noisy mean ${sn / nn}`);
  assert.ok(sc / nc - sn / nn > 1.5);
});

test("saturated options (every user at its cap) still give exact counts; pools widen only when exhausted", () => {
  // cap = floor(0.6 * 0.3 * 60 / (1 - 0.175)) = floor(13.09) = 13 per user; 20 users -> 260.
  // With seed 4 the rejection stage stalls and the exact fallback fills in; user 10
  // happens to prefer only 9 of the 60 items (18 expected) but needs 11 clean positives.
  const opts: SyntheticOptions = { users: 20, items: 60, interactions: 260, noiseRate: 0.175, seed: 4 };
  const { all, truth } = generateSyntheticWithTruth(opts);
  assert.equal(size(all), 260);
  assert.equal(noisyCount(all), Math.round(0.175 * 260)); // 45.5 -> 46
  assertRowsStrict(all, "all");
  let widened = 0;
  for (let u = 0; u < all.nUsers; u++) {
    assert.equal(rowLength(all, u), 13);
    const mine = new Map<number, number>();
    for (let k = all.indptr[u]; k < all.indptr[u + 1]; k++) mine.set(all.items[k], all.noisy[k]);
    const aff = Array.from({ length: all.nItems }, (_, i) => trueAffinity(truth, u, i));
    for (const [i, flag] of mine) {
      const inPool = flag ? aff[i] < NOISY_AFFINITY_BELOW : aff[i] >= PREFERRED_AFFINITY;
      if (inPool) continue;
      widened++;
      // only allowed once the whole pool is used, and then the nearest items come first
      assert.equal(flag, 0, "this fixture should only widen the clean pool");
      for (let j = 0; j < all.nItems; j++) {
        if (aff[j] >= PREFERRED_AFFINITY) assert.equal(mine.get(j), 0, `user ${u} widened while preferred item ${j} was free`);
        else if (aff[j] > aff[i] && aff[j] >= NOISY_AFFINITY_BELOW) assert.ok(mine.has(j), `user ${u} skipped nearer item ${j}`);
      }
    }
  }
  assert.equal(widened, 2); // user 10: 11 clean needed - 9 preferred
  assert.throws(() => generateSynthetic({ ...opts, interactions: 261 }), /interactions.*exceeds 13 per user/);
});

test("deterministic per seed, different across seeds", () => {
  const a = generateSynthetic(quick);
  const b = generateSynthetic({ ...quick });
  assert.deepEqual(a.train, b.train);
  assert.deepEqual(a.valid, b.valid);
  assert.deepEqual(a.test, b.test);
  assert.equal(a.fingerprint, b.fingerprint);
  assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  const c = generateSynthetic({ ...quick, seed: quick.seed + 1 });
  assert.notDeepEqual(c.train.items, a.train.items);
  assert.notEqual(c.fingerprint, a.fingerprint);
  // the default dim is part of the key: omitting it or giving 16 is the same dataset
  assert.equal(syntheticFingerprint({ ...quick, dim: 16 }), a.fingerprint);
  assert.notEqual(syntheticFingerprint({ ...quick, dim: 8 }), a.fingerprint);
  // syntheticTruth draws the same factors the generator used
  const t1 = generateSyntheticWithTruth(quick).truth;
  assert.deepEqual(syntheticTruth(quick).itemFactors, t1.itemFactors);
  assert.deepEqual(syntheticTruth(quick).itemPopularity, t1.itemPopularity);
});

test("bad options are refused with the field named", () => {
  assert.throws(() => generateSynthetic({ ...quick, interactions: 1999 }), (e: unknown) => e instanceof DataError && /field 'interactions'/.test(e.message));
  assert.throws(() => generateSynthetic({ ...quick, noiseRate: 1 }), /field 'noiseRate'.*\[0, 1\)/);
  assert.throws(() => generateSynthetic({ ...quick, users: 2.5 }), /field 'users'/);
  assert.throws(() => generateSynthetic({ ...quick, items: 20 }), /field 'items'.*too few/);
});
