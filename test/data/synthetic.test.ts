import { test } from "node:test";
import * as assert from "node:assert/strict";
import { noisyCount, size, type Interactions } from "../../src/data/interactions";
import {
  generateSynthetic,
  generateSyntheticWithTruth,
  PREFERRED_AFFINITY,
  SYNTHETIC_GENERATOR_VERSION,
  SYNTHETIC_PRESETS,
  syntheticFingerprint,
  syntheticTruth,
  trueAffinity,
  type SyntheticOptions,
} from "../../src/data/synthetic";
import { inNoisyPool, type NoisyPool } from "../../src/data/synthetic-noise";
import { DataError } from "../../src/util/errors";

const quick = SYNTHETIC_PRESETS.quick;
/** The v1 generator's noise model (noisy positives by popularity from below-median items). */
const V1_NOISE: Partial<SyntheticOptions> = { noisyPool: "below-median", noisyPopularityExponent: 1 };

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
  // (a little more, as the top items are picked after the draw). Clean positives keep v1's skew
  // (0.29 there); uniform noisy ones dilute the whole (0.26 now, 0.31 in v1).
  const topShare = (pick: (k: number) => boolean): number => {
    const ideg = new Array<number>(all.nItems).fill(0);
    let n = 0;
    for (let k = 0; k < all.items.length; k++) if (pick(k)) (ideg[all.items[k]]++, n++);
    ideg.sort((a, b) => b - a);
    return ideg.slice(0, Math.round(all.nItems / 10)).reduce((s, x) => s + x, 0) / n;
  };
  const clean = topShare((k) => all.noisy[k] === 0);
  assert.ok(clean > 0.25, `top-10% item share of clean positives ${clean}`);
  assert.ok(topShare(() => true) > 0.2, `top-10% item share ${topShare(() => true)}`);
});

test("noisy positives are near misses (median <= affinity < preferred cut), clean ones preferred (truncated-normal means)", () => {
  const { all, truth } = generateSyntheticWithTruth(quick);
  let sc = 0;
  let nc = 0;
  let sn = 0;
  let nn = 0;
  for (let u = 0; u < all.nUsers; u++)
    for (let k = all.indptr[u]; k < all.indptr[u + 1]; k++) {
      const a = trueAffinity(truth, u, all.items[k]);
      if (all.noisy[k]) {
        assert.ok(a >= 0 && a < PREFERRED_AFFINITY, `noisy (${u}, ${all.items[k]}) has affinity ${a}`);
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
  // noisy: E[a | 0 <= a < 0.5244] = (phi(0) - phi(0.5244)) / 0.2 = (0.39894 - 0.34769) / 0.2 = 0.256
  //   (v1's below-median pool: -phi(0) / 0.5 = -0.798)
  assert.ok(Math.abs(sc / nc - 1.159) < 0.1, `clean mean ${sc / nc}`);
  assert.ok(Math.abs(sn / nn - 0.256) < 0.03, `noisy mean ${sn / nn}`);
  assert.ok(sc / nc - sn / nn > 0.8);
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
      const inPool = flag ? inNoisyPool("near-miss", aff[i]) : aff[i] >= PREFERRED_AFFINITY;
      if (inPool) continue;
      widened++;
      // only allowed once the whole pool is used, and then the nearest items come first
      // (clean positives are drawn before noisy ones, so a nearer item is taken as clean)
      assert.equal(flag, 0, "this fixture should only widen the clean pool");
      for (let j = 0; j < all.nItems; j++) {
        if (aff[j] >= PREFERRED_AFFINITY) assert.equal(mine.get(j), 0, `user ${u} widened while preferred item ${j} was free`);
        else if (aff[j] > aff[i]) assert.equal(mine.get(j), 0, `user ${u} skipped nearer item ${j}`);
      }
    }
  }
  assert.equal(widened, 2); // user 10: 11 clean needed - 9 preferred
  assert.throws(() => generateSynthetic({ ...opts, interactions: 261 }), /interactions.*exceeds 13 per user/);
});

test("a short noisy pool widens to the nearest non-preferred items below it, never to preferred ones", () => {
  // cap = floor(min(0.6 * 0.3 * 60 / 0.5, 0.6 * 0.2 * 60 / 0.5)) = floor(min(21.6, 14.4)) = 14 per user,
  // 20 users -> 280, 7 noisy each. With seed 2, user 4 has 6 near-miss items and user 14 has 5.
  const opts: SyntheticOptions = { users: 20, items: 60, interactions: 280, noiseRate: 0.5, seed: 2 };
  const { all, truth } = generateSyntheticWithTruth(opts);
  assert.equal(size(all), 280);
  assert.equal(noisyCount(all), 140);
  const widenedBy: number[] = [];
  for (let u = 0; u < all.nUsers; u++) {
    const aff = Array.from({ length: all.nItems }, (_, i) => trueAffinity(truth, u, i));
    const noisyItems = new Set<number>();
    for (let k = all.indptr[u]; k < all.indptr[u + 1]; k++) if (all.noisy[k]) noisyItems.add(all.items[k]);
    assert.equal(noisyItems.size, 7);
    const poolSize = aff.filter((a) => inNoisyPool("near-miss", a)).length;
    const outside = [...noisyItems].filter((i) => !inNoisyPool("near-miss", aff[i]));
    assert.equal(outside.length, Math.max(0, 7 - poolSize), `user ${u}: widened only by the shortfall`);
    for (const i of outside) {
      assert.ok(aff[i] < 0, `user ${u}: widened noisy item ${i} has affinity ${aff[i]}, not below the pool`);
      for (let j = 0; j < all.nItems; j++)
        if (inNoisyPool("near-miss", aff[j]) || (aff[j] > aff[i] && aff[j] < 0)) assert.ok(noisyItems.has(j), `user ${u}: skipped nearer item ${j}`);
    }
    for (let k = 0; k < outside.length; k++) widenedBy.push(u);
  }
  assert.deepEqual(widenedBy, [4, 14, 14]); // 7 - 6 and 7 - 5
});

/**
 * Pearson chi-square of the noisy items' popularity deciles against the documented
 * distribution: each user's noisy items uniform over the user's pool, so the expected
 * count in decile b is sum_u n_u |pool_u ∩ decile b| / |pool_u| (no pool is exhausted).
 */
function noisyPopularityChiSquare(opts: SyntheticOptions, pool: NoisyPool): number {
  const { all, truth } = generateSyntheticWithTruth(opts);
  const nI = all.nItems;
  const byPopularity = Array.from({ length: nI }, (_, i) => i).sort((a, b) => truth.itemPopularity[a] - truth.itemPopularity[b]);
  const decile = new Int32Array(nI);
  byPopularity.forEach((i, r) => (decile[i] = Math.floor((10 * r) / nI)));
  const observed = new Array<number>(10).fill(0);
  const expected = new Array<number>(10).fill(0);
  for (let u = 0; u < all.nUsers; u++) {
    const inPool = new Array<number>(10).fill(0);
    let poolSize = 0;
    for (let i = 0; i < nI; i++) if (inNoisyPool(pool, trueAffinity(truth, u, i))) (inPool[decile[i]]++, poolSize++);
    let n = 0;
    for (let k = all.indptr[u]; k < all.indptr[u + 1]; k++) if (all.noisy[k]) (n++, observed[decile[all.items[k]]]++);
    assert.ok(n <= poolSize, `user ${u}: pool exhausted`);
    for (let b = 0; b < 10; b++) expected[b] += (n * inPool[b]) / poolSize;
  }
  return observed.reduce((s, o, b) => s + (o - expected[b]) ** 2 / expected[b], 0);
}

test("noisy items are uniform over each user's near-miss pool, whatever their popularity (chi-square)", () => {
  // 9 degrees of freedom: P(chi2_9 > 27.88) = 0.001. Draws without replacement make the
  // statistic smaller than chi2_9, not larger. Seeds 2020, 1, 2, 3 give 12.4, 8.9, 7.4, 4.4.
  for (const seed of [2020, 1, 2, 3]) {
    const x2 = noisyPopularityChiSquare({ ...quick, seed }, "near-miss");
    assert.ok(x2 < 27.88, `seed ${seed}: chi-square ${x2.toFixed(2)} against uniform-over-pool`);
  }
  // the test can fail: v1 drew noisy items by popularity (1770 against uniform over its pool),
  // and even the flattened popularity^0.5 is far off (346)
  assert.ok(noisyPopularityChiSquare({ ...quick, ...V1_NOISE }, "below-median") > 1000);
  assert.ok(noisyPopularityChiSquare({ ...quick, noisyPopularityExponent: 0.5 }, "near-miss") > 100);
});

test("v1's noise model is still available and gives v1's data; the default is the v2 one", () => {
  // split sizes and noisy counts of the quick preset, read off the v1 generator (synthetic v1) before the change:
  // test 567, train noisy 1155, valid noisy 111; train and valid sizes depend only on the per-user counts
  const size3 = (d: ReturnType<typeof generateSynthetic>) => [size(d.train), size(d.valid), size(d.test), noisyCount(d.train), noisyCount(d.valid)];
  assert.deepEqual(size3(generateSynthetic({ ...quick, ...V1_NOISE })), [6598, 701, 567, 1155, 111]);
  assert.deepEqual(size3(generateSynthetic(quick)), [6598, 701, 583, 1161, 121]);
  assert.equal(SYNTHETIC_GENERATOR_VERSION, "sgdl-kit synthetic v2");
  // the noise model enters the fingerprint; spelled-out defaults do not change it
  const fp = syntheticFingerprint(quick);
  assert.equal(syntheticFingerprint({ ...quick, noisyPool: "near-miss", noisyPopularityExponent: 0 }), fp);
  assert.notEqual(syntheticFingerprint({ ...quick, noisyPool: "below-median" }), fp);
  assert.notEqual(syntheticFingerprint({ ...quick, noisyPopularityExponent: 1 }), fp);
  assert.match(generateSynthetic(quick).description, /near-miss \(median <= affinity < top-30% cut, 20% of items\), uniform/);
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
  assert.throws(() => generateSynthetic({ ...quick, noisyPopularityExponent: -1 }), /field 'noisyPopularityExponent'.*>= 0, got -1/);
  assert.throws(() => generateSynthetic({ ...quick, noisyPool: "disliked" as NoisyPool }), /field 'noisyPool'.*"near-miss", "below-median", got "disliked"/);
});
