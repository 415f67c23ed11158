import { test, before } from "node:test";
import * as assert from "node:assert/strict";
import { initBackend } from "../../src/backend";
import type { Dataset } from "../../src/data/dataset";
import { fromTriples, size, type Interactions } from "../../src/data/interactions";
import { loadDataset } from "../../src/data/registry";
import { decodeMemorizedFlags, decodeMemorizedSet, encodeMemorizedSet } from "../../src/methods/sgdl/memorized-set";
import { parseSgdlOptions, SGDL_DEFAULTS, SGDL_OPTION_PRESETS } from "../../src/methods/sgdl/options";
import { FIGURE4_BINS, lossRecordingScorer, Phase1, readPhase1Facts, softplus, type Phase1Options } from "../../src/methods/sgdl/phase1";
import type { Batch, BlockScorer } from "../../src/models/model";
import { createModel } from "../../src/models/registry";
import { perSampleLosses } from "../../src/training/step";
import { Rng } from "../../src/util/rng";

const close = (actual: number, expected: number, tol = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

/** A scorer reading rows of a fixed [nUsers x nItems] matrix. */
function matrixScorer(m: Float32Array | (() => Float32Array), nItems: number): BlockScorer {
  return (users: Int32Array) => {
    const mat = typeof m === "function" ? m() : m;
    const out = new Float32Array(users.length * nItems);
    for (let r = 0; r < users.length; r++) out.set(mat.subarray(users[r] * nItems, (users[r] + 1) * nItems), r * nItems);
    return out;
  };
}

// 2 users, 6 items. user 0 trains on {0, 2, 5} (item 5 noisy), user 1 on {1, 4} (item 4 noisy).
// CSR order: k0 = (0,0) clean, k1 = (0,2) clean, k2 = (0,5) noisy, k3 = (1,1) clean, k4 = (1,4) noisy.
function handTrain(): Interactions {
  return fromTriples(2, 6, [0, 0, 0, 1, 1], [0, 2, 5, 1, 4], [0, 0, 1, 0, 1]);
}
// Pool "all", ties to the lower index. user 0 (N = 3): items 0 (.9), 2 (.8), 3 (.7) -> hits k0, k1; k2 (item 5, .1) out.
// user 1 (N = 2): items 1 (.9), 3 (.6) -> hit k3; k4 (item 4, .2) out. Hits every epoch: [1, 1, 0, 1, 0], |M| = 3 of 5 once memorized.
const SCORES_3_OF_5 = Float32Array.of(
  0.9, 0.0, 0.8, 0.7, 0.0, 0.1, // user 0
  0.0, 0.9, 0.0, 0.6, 0.2, 0.0, // user 1
);
const OPTS: Phase1Options = { pool: "all", rule: "paper", h: 10, normalize: "global", shift: 0, shiftMode: "absolute", figure4Epoch: 0 };
// Equal losses everywhere: the GMM degenerates (gmm.ts) to two equal components, posterior 0.5 for every
// interaction, so sigma_hat = 0.5 exactly and Eq. 3 asks |M| / |D| >= 0.5.
const FLAT = (ex: Batch): Float32Array => new Float32Array(ex.users.length).fill(0.3);

/** The epochs 1..epochs at which Eq. 3 held, with the first one (t_m). */
function runHand(opts: Partial<Phase1Options>, epochs: number): { reached: number[]; point: number | null; p: Phase1 } {
  const p = new Phase1(handTrain(), "bpr", { ...OPTS, ...opts }, new Rng(1));
  const reached: number[] = [];
  for (let e = 1; e <= epochs; e++) if (p.observe(matrixScorer(SCORES_3_OF_5, 6), FLAT).reached) reached.push(e);
  return { reached, point: p.memorizationPoint, p };
}

test("softplus: ln(1 + e^x) without overflow", () => {
  close(softplus(0), Math.LN2, 1e-15);
  close(softplus(-0.2), 0.5981388693815918, 1e-12); // ln(1 + e^-0.2) = ln(1.8187307531) = 0.5981388694
  close(softplus(800), 800, 1e-9); // e^800 overflows; softplus(x) = x + ln(1 + e^-x)
  close(softplus(-800), 0, 1e-300);
});

test("losses read off the scores: BPR softplus(s_uj - s_ui), BCE softplus(-s_ui), in CSR order", () => {
  const train = handTrain();
  const scores = matrixScorer(SCORES_3_OF_5, 6);
  const users = Int32Array.of(0, 0, 0, 1, 1);
  const pos = Int32Array.of(0, 2, 5, 1, 4);
  const bpr: Batch = { kind: "bpr", users, pos, neg: Int32Array.of(3, 1, 4, 0, 5) };
  const out = new Float64Array(5).fill(NaN);
  const rec = lossRecordingScorer(scores, train, bpr, out);
  rec(Int32Array.of(1)); // only user 1's slots are written by this block
  assert.ok(Number.isNaN(out[0]) && Number.isNaN(out[2]));
  rec(Int32Array.of(0));
  // k0: s(0,3) - s(0,0) = 0.7 - 0.9 = -0.2 -> ln(1 + e^-0.2) = 0.598139
  // k1: s(0,1) - s(0,2) = 0 - 0.8 -> ln(1 + e^-0.8) = ln(1.449329) = 0.371101
  // k2: s(0,4) - s(0,5) = 0 - 0.1 -> ln(1 + e^-0.1) = ln(1.904837) = 0.644397
  // k3: s(1,0) - s(1,1) = 0 - 0.9 -> ln(1 + e^-0.9) = ln(1.406570) = 0.341154
  // k4: s(1,5) - s(1,4) = 0 - 0.2 -> ln(1 + e^-0.2) = 0.598139
  const want = [0.598139, 0.371101, 0.644397, 0.341154, 0.598139];
  // float32 scores: 0.7f - 0.9f differs from -0.2 by ~3e-8
  want.forEach((w, k) => close(out[k], w, 1e-6));
  const bce: Batch = { kind: "bce", users, items: pos, labels: new Float32Array(5).fill(1) };
  const out2 = new Float64Array(5);
  lossRecordingScorer(scores, train, bce, out2)(Int32Array.of(0, 1));
  // k0: ln(1 + e^-0.9) = 0.341154; k1: ln(1 + e^-0.8) = 0.371101; k2: ln(1 + e^-0.1) = 0.644397; k3: 0.341154; k4: ln(1 + e^-0.2) = 0.598139
  [0.341154, 0.371101, 0.644397, 0.341154, 0.598139].forEach((w, k) => close(out2[k], w, 1e-6));
});

test("switch rule: paper window vs code buffer, h, and the Table 4 shift (hand case, sigma_hat = 0.5)", () => {
  // paper: at t = 1 the window is 1 epoch, a hit is mean 1 > 0.5 -> |M| = 3, 3/5 = 0.6 >= 1 - 0.5: switch at 1
  const paper = runHand({ rule: "paper" }, 6);
  assert.equal(paper.point, 1);
  assert.deepEqual(paper.reached, [1, 2, 3, 4, 5, 6]);
  // code, h = 10: memorized once the h-slot sum >= 5, i.e. after 5 hits: |M| = 0 at t = 1..4, 3 at t = 5
  assert.equal(runHand({ rule: "code" }, 6).point, 5);
  // code, h = 4: sum >= 2 after 2 hits
  assert.equal(runHand({ rule: "code", h: 4 }, 6).point, 2);
  // code, h = 5: sum >= 2.5, i.e. 3 hits
  assert.equal(runHand({ rule: "code", h: 5 }, 6).point, 3);
  // shift +0.1 (absolute): sigma' = 0.6, threshold 0.4 <= 0.6: still epoch 1
  const early = runHand({ shift: 0.1 }, 2);
  assert.equal(early.point, 1);
  close(early.p.observations[0].threshold, 0.4, 1e-12);
  // shift -0.2: sigma' = 0.3, threshold 0.7 > 0.6: never; relative -0.2: sigma' = 0.5 * 0.8 = 0.4, threshold 0.6 <= 0.6: epoch 1
  assert.equal(runHand({ shift: -0.2 }, 6).point, null);
  assert.equal(runHand({ shift: -0.2, shiftMode: "relative" }, 2).point, 1);
});

test("observations: M_t, MP/MR against the true labels, sigma_hat, and the state kept at t_m", () => {
  const { p } = runHand({ rule: "code", h: 4 }, 3);
  const [o1, o2, o3] = p.observations;
  // t = 1: one hit in a 4-slot buffer, 1 < 2: M empty, MP defined as 1, MR 0
  assert.deepEqual([o1.memorized, o1.mp, o1.mr, o1.memRateNoisy, o1.reached], [0, 1, 0, 0, false]);
  close(o1.noiseRateEstimate, 0.5, 0);
  // t = 2: M = {k0, k1, k3}, all clean: MP 3/3, MR 3/3 clean, noisy rate 0/2, ratio 3/5
  assert.deepEqual([o2.memorized, o2.mp, o2.mr, o2.memRateClean, o2.memRateNoisy], [3, 1, 1, 1, 0]);
  close(o2.memorizedRatio, 0.6, 1e-15);
  assert.equal(o2.isMemorizationPoint, true);
  assert.equal(o3.isMemorizationPoint, false);
  assert.equal(o3.reached, true);
  const s = p.stateAtPoint;
  assert.ok(s !== null);
  assert.deepEqual([s.epoch, Array.from(s.memorized)], [2, [0, 1, 3]]);
  close(s.noiseRate, 0.5, 0);
});

test("normalisation: global vs per-user min-max reach the GMM (Figure 4 histogram of the normalised losses)", () => {
  // raw losses in CSR order: user 0 [1, 2, 3], user 1 [10, 20]
  const raw = (ex: Batch): Float32Array => {
    assert.equal(ex.users.length, 5);
    return Float32Array.of(1, 2, 3, 10, 20);
  };
  const hist = (normalize: "global" | "per-user") => {
    const p = new Phase1(handTrain(), "bpr", { ...OPTS, normalize }, new Rng(1));
    p.observe(matrixScorer(SCORES_3_OF_5, 6), raw);
    const h = p.lossHistogram;
    assert.ok(h !== null);
    const nz = (c: number[]) => c.flatMap((x, b) => (x > 0 ? [[b, x]] : []));
    return { clean: nz(h.clean), noisy: nz(h.noisy), total: h.clean.length };
  };
  // per-user: user 0 -> [0, 0.5, 1], user 1 -> [0, 1]; bin = floor(50 x), 1 in the last bin (49)
  // clean k0 = 0 (bin 0), k1 = 0.5 (bin 25), k3 = 0 (bin 0); noisy k2 = 1, k4 = 1 (bin 49)
  assert.deepEqual(hist("per-user"), { clean: [[0, 2], [25, 1]], noisy: [[49, 2]], total: FIGURE4_BINS });
  // global over [1, 20]: (x - 1) / 19 -> k0 0 (bin 0), k1 1/19 = .0526 (bin 2), k2 2/19 = .1053 (bin 5),
  // k3 9/19 = .4737 (bin 23), k4 1 (bin 49)
  assert.deepEqual(hist("global"), { clean: [[0, 1], [2, 1], [23, 1]], noisy: [[5, 1], [49, 1]], total: FIGURE4_BINS });
});

test("Figure 4 data: kept at t_m by default, at figure4Epoch when given, else the last epoch", () => {
  let epoch = 0;
  const byEpoch = (ex: Batch): Float32Array => {
    epoch++;
    return Float32Array.from({ length: ex.users.length }, (_, k) => (k === 0 ? epoch : 0)); // differs per epoch, not flat
  };
  // code rule h = 4 and threshold by the fitted GMM; here only the epoch the histogram comes from matters
  const at = (figure4Epoch: number, shift: number) => {
    epoch = 0;
    const p = new Phase1(handTrain(), "bpr", { ...OPTS, rule: "code", h: 4, figure4Epoch, shift }, new Rng(1));
    for (let e = 0; e < 4; e++) p.observe(matrixScorer(SCORES_3_OF_5, 6), byEpoch);
    return [p.memorizationPoint, p.lossHistogram?.epoch];
  };
  // shift +1: sigma' = 1, threshold 0: switches at the first epoch with a non-empty M (t = 2 for h = 4)
  assert.deepEqual(at(0, 1), [2, 2]);
  assert.deepEqual(at(3, 1), [2, 3]);
  // shift -1: sigma' = 0, threshold 1 > 3/5: never; the last epoch (4) is kept
  assert.deepEqual(at(0, -1), [null, 4]);
});

test("memorized set encoding: base64 bitmask over CSR order, bit k in byte k>>3 at k&7", () => {
  // n = 10, M = {0, 3, 8, 9}: byte 0 = 2^0 + 2^3 = 9, byte 1 = 2^0 + 2^1 = 3 -> bytes [0x09, 0x03]
  // base64: 00001001 00000011 -> 000010 010000 001100 (pad) -> C Q M = -> "CQM="
  assert.equal(encodeMemorizedSet([0, 3, 8, 9], 10), "CQM=");
  assert.deepEqual(Array.from(decodeMemorizedSet("CQM=", 10)), [0, 3, 8, 9]);
  assert.deepEqual(Array.from(decodeMemorizedFlags("CQM=", 10)), [1, 0, 0, 1, 0, 0, 0, 0, 1, 1]);
  assert.equal(encodeMemorizedSet([], 0), "");
  assert.deepEqual(Array.from(decodeMemorizedSet("", 0)), []);
  assert.throws(() => decodeMemorizedSet("CQM=", 17), /2 bytes .* need 3 bytes/);
  // bit 10 of a 10-interaction set: byte 1 = 3 + 4 = 7 -> "CQc="
  assert.throws(() => decodeMemorizedSet("CQc=", 10), /bits beyond interaction 9/);
  assert.throws(() => encodeMemorizedSet([10], 10), /outside \[0, 10\)/);
  assert.throws(() => decodeMemorizedSet("C$M=", 10), /base64/);
});

test("describe() round-trips through readPhase1Facts", () => {
  const { p } = runHand({ rule: "code", h: 4 }, 3);
  const facts = readPhase1Facts({ ...JSON.parse(JSON.stringify(p.describe())), switchEpoch: 2 });
  assert.deepEqual(Array.from(facts.memorized), [0, 1, 3]);
  assert.deepEqual([facts.switchEpoch, facts.memorizationPoint, facts.noiseRateAtPoint, facts.memorizedRatioAtPoint], [2, 2, 0.5, 0.6]);
  assert.ok(facts.figure4 !== null);
  assert.equal(facts.figure4.epoch, 2);
  // flat losses 0.3 normalise to 0 (max = min): all 5 in bin 0, 3 clean and 2 noisy
  assert.equal(facts.figure4.clean[0], 3);
  assert.equal(facts.figure4.noisy[0], 2);
  assert.deepEqual(facts.figure4.gmm.weights, [0.5, 0.5]);
  assert.throws(() => readPhase1Facts({ name: "normal" }), /memorizedSetLength/);
});

test("options: defaults are the paper, the code preset is the official code, bad values name the option", () => {
  assert.deepEqual(parseSgdlOptions({}), SGDL_DEFAULTS);
  assert.deepEqual(
    [SGDL_DEFAULTS.pool, SGDL_DEFAULTS.rule, SGDL_DEFAULTS.h, SGDL_DEFAULTS.normalize, SGDL_DEFAULTS.shift, SGDL_DEFAULTS.phase1LrScale],
    ["all", "paper", 10, "global", 0, 1],
  );
  const { pool, rule, normalize, phase1LrScale } = SGDL_OPTION_PRESETS.code;
  assert.deepEqual({ pool, rule, normalize, phase1LrScale }, { pool: "2n", rule: "code", normalize: "per-user", phase1LrScale: 0.2 });
  assert.throws(() => parseSgdlOptions({ pool: "3n" }), /option 'pool' must be one of "all", "2n"/);
  assert.throws(() => parseSgdlOptions({ h: 0 }), /option 'h' must be an integer in \[1, 32\]/);
  assert.throws(() => parseSgdlOptions({ phase1LrScale: 0 }), /option 'phase1LrScale' must be a positive number/);
  assert.throws(() => parseSgdlOptions({ history: 5 }), /option 'history' is unknown/);
  assert.throws(() => parseSgdlOptions({ trackOnly: "yes" }), /option 'trackOnly' must be a boolean/);
});

let data: Dataset;
before(async () => {
  await initBackend("wasm");
  data = loadDataset("synthetic", { preset: "quick" });
});

test("losses read off the scores equal the model's own losses (every model, BPR and BCE)", () => {
  const cases: Array<[string, Record<string, number | string | boolean>]> = [
    ["mf", {}],
    ["mf", { loss: "bce" }],
    ["lightgcn", {}],
    ["ngcf", {}],
    ["neumf", {}],
    ["cdae", {}],
  ];
  const mc = { nUsers: data.nUsers, nItems: data.nItems, train: data.train };
  for (const [name, cfg] of cases) {
    const { model, params } = createModel(name, mc, cfg, new Rng(7));
    // spread the scores: at init they all sit near 0 and every loss near ln 2
    for (const p of params.list()) for (let j = 0; j < p.data.length; j++) p.data[j] *= 3;
    const p1 = new Phase1(data.train, model.loss, OPTS, new Rng(3));
    const ex = p1.lossExamples();
    const want = perSampleLosses(model, params, ex, { training: false, rng: new Rng(1) });
    const got = new Float64Array(size(data.train)).fill(NaN);
    const scorer = model.scorer(params);
    const users = Int32Array.from({ length: data.nUsers }, (_, u) => u);
    lossRecordingScorer(scorer, data.train, ex, got)(users);
    if (scorer.dispose) scorer.dispose();
    let maxDiff = 0;
    let spread = 0;
    for (let k = 0; k < got.length; k++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[k] - want[k]));
      spread = Math.max(spread, Math.abs(want[k] - want[0]));
    }
    assert.ok(maxDiff < 1e-4 * Math.max(1, spread), `${name} ${JSON.stringify(cfg)}: max |scores - model| = ${maxDiff}`);
    assert.ok(spread > 0.1, `${name}: losses spread ${spread}, too flat to tell`);
  }
});

test("on data: the option gmmLosses 'model' path and the scores path give the same sigma_hat", () => {
  const mc = { nUsers: data.nUsers, nItems: data.nItems, train: data.train };
  const { model, params } = createModel("mf", mc, {}, new Rng(7));
  for (const p of params.list()) for (let j = 0; j < p.data.length; j++) p.data[j] *= 3;
  const a = new Phase1(data.train, model.loss, OPTS, new Rng(3));
  const b = new Phase1(data.train, model.loss, OPTS, new Rng(3));
  const oa = a.observe(model.scorer(params));
  const ob = b.observe(model.scorer(params), (ex) => perSampleLosses(model, params, ex, { training: false, rng: new Rng(1) }));
  close(oa.noiseRateEstimate, ob.noiseRateEstimate, 1e-5);
  assert.equal(oa.memorized, ob.memorized);
  assert.ok(oa.noiseRateEstimate > 0.01 && oa.noiseRateEstimate < 0.99);
});
