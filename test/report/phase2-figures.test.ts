import { test } from "node:test";
import * as assert from "node:assert/strict";
import { resolveConfig } from "../../src/experiments/config";
import type { ResultRecord } from "../../src/experiments/record";
import type { EpochLog } from "../../src/training/events";
import type { BarTrace, PlotlyFigure, ScatterTrace } from "../../src/report/figure";
import { memoryRateFigure } from "../../src/report/memorization-figures";
import {
  figure5Summary,
  metaLossFigure,
  readFigure5,
  selfGuidedEpochs,
  switchEpochOf,
  weightDistributionFigure,
  weightingFunctionFigure,
  weightSummaryFigure,
} from "../../src/report/phase2-figures";

/** Memorization fields of a tracked epoch. */
const tracked = (memRateClean: number, memRateNoisy: number) => ({ memorized: 10, memorizedRatio: 0.5, memRateClean, memRateNoisy, mp: 0.8, mr: 0.4, noiseRateEstimate: 0.2 });

/**
 * A hand-made sgdl record of NeuMF (BCE: sampled negatives among the rows): Phase I epochs 1-2, the
 * switch at 2, Phase II epochs 3-4; Figure 5 samples of epoch 4:
 *   row     0     1     2     3     4     5     6     7
 *   loss    0.1   0.2   0.9   1.5   0.3   2.0   0.05  0.7
 *   weight  0.95  0.90  0.45  0.10  0.72  0.05  0.33  0.61
 *   flag    0     0     1     1     0     -1    -1    0     (0 clean, 1 noisy, -1 sampled negative)
 */
function tinyRecord(): ResultRecord {
  const epochs: EpochLog[] = [
    { epoch: 1, phase: "memorization", loss: 0.69, seconds: 1, ...tracked(0.1, 0.05) },
    { epoch: 2, phase: "memorization", loss: 0.5, seconds: 1, ...tracked(0.3, 0.1) },
    { epoch: 3, phase: "self-guided", loss: 0.3, seconds: 2, metaLoss: 0.25, weightClean: 0.8, weightNoisy: 0.4, weightNegative: 0.6, ...tracked(0.5, 0.12) },
    { epoch: 4, phase: "self-guided", loss: 0.2, seconds: 2, metaLoss: 0.15, weightClean: 0.85, weightNoisy: 0.3, ...tracked(0.6, 0.13) },
  ];
  return {
    schema: 1,
    key: "k",
    config: resolveConfig({ dataset: "synthetic", model: "neumf", method: "sgdl", preset: "quick", methodOptions: { pool: "2n", rule: "code", normalize: "per-user" } }),
    dataset: {
      name: "synthetic", fingerprint: "f", description: "d", users: 2, items: 3, interactions: 8, noisy: 2,
      split: { train: 6, valid: 1, test: 1 }, splitNoisy: { train: 2, valid: 0, test: 0 }, warnings: 0,
    },
    environment: {
      backend: "cpu", backendReason: "test", matmulPatch: false, tfjs: "4.22.0", node: "20", tslab: null, platform: "linux", cpu: "x", commit: null, dirty: null, optimizer: "adam",
    },
    seed: 1,
    startedAt: "2024-01-01T00:00:00Z",
    seconds: 6,
    epochs,
    best: null,
    stoppedEarly: false,
    test: { perUser: { users: [] } },
    model: {},
    method: {
      name: "sgdl", pool: "2n", rule: "code", normalize: "per-user", weighting: "learned",
      switchEpoch: 2, memorizationPoint: 2, memorizedSetLength: 0,
      figure5At: 4,
      figure5Loss: [0.1, 0.2, 0.9, 1.5, 0.3, 2.0, 0.05, 0.7],
      figure5Weight: [0.95, 0.9, 0.45, 0.1, 0.72, 0.05, 0.33, 0.61],
      figure5Noisy: [0, 0, 1, 1, 0, -1, -1, 0],
      figure5CurveLoss: [0, 1, 2],
      figure5CurveWeight: [0.9, 0.5, 0.1],
    },
  };
}

function bars(fig: PlotlyFigure): BarTrace[] {
  return fig.data.filter((t): t is BarTrace => t.type === "bar");
}

function close(a: ReadonlyArray<number | null | string>, b: readonly number[], what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  a.forEach((x, i) => assert.ok(typeof x === "number" && Math.abs(x - b[i]) < 1e-12, `${what}[${i}] = ${x}, expected ${b[i]}`));
}

test("readFigure5 reads the record's samples and curve; missing or mismatched fields are named", () => {
  const r = tinyRecord();
  const d = readFigure5(r.method);
  assert.equal(d.epoch, 4);
  assert.deepEqual(d.curveWeight, [0.9, 0.5, 0.1]);
  assert.equal(switchEpochOf(r), 2);
  assert.deepEqual(selfGuidedEpochs(r.epochs).map((e) => e.epoch), [3, 4]);
  const { figure5At: _drop, ...noEpoch } = r.method;
  assert.throws(() => readFigure5({ ...noEpoch, name: "sgdl" }), /'figure5At' is missing/);
  assert.throws(() => readFigure5({ ...r.method, figure5Weight: [0.5] }), /differ in length \(8, 1, 8\)/);
  assert.throws(() => readFigure5({ ...r.method, figure5CurveLoss: null }), /'figure5CurveLoss' is missing/);
});

test("figure5Summary: counts, means and the noisy share among the largest weights, by hand", () => {
  const s = figure5Summary(readFigure5(tinyRecord().method), 0.5);
  // clean rows 0, 1, 4, 7: weights 0.95 0.90 0.72 0.61 (mean 3.18 / 4 = 0.795), losses 0.1 0.2 0.3 0.7 (mean 1.3 / 4 = 0.325)
  // noisy rows 2, 3: weights 0.45 0.10 (mean 0.275), losses 0.9 1.5 (mean 1.2); negatives rows 5, 6 are left out
  assert.equal(s.clean, 4);
  assert.equal(s.noisy, 2);
  assert.equal(s.negatives, 2);
  assert.ok(Math.abs(s.meanWeightClean - 0.795) < 1e-12);
  assert.ok(Math.abs(s.meanWeightNoisy - 0.275) < 1e-12);
  assert.ok(Math.abs(s.meanLossClean - 0.325) < 1e-12);
  assert.ok(Math.abs(s.meanLossNoisy - 1.2) < 1e-12);
  assert.equal(s.noisyShare, 2 / 6);
  // top half of 6 = 3 rows: 0.95, 0.90, 0.72, all clean
  assert.equal(s.noisyShareTop, 0);
  // top 70 %: ceil(4.2) = 5 rows: 0.95, 0.90, 0.72, 0.61 (clean) and 0.45 (noisy) -> 1 / 5
  assert.equal(figure5Summary(readFigure5(tinyRecord().method), 0.7).noisyShareTop, 0.2);
  assert.throws(() => figure5Summary(readFigure5(tinyRecord().method), 0), /top must be in \(0, 1\]/);
});

test("Figure 5(a): clean and noisy weights binned on [0, 1], counts by hand; negatives only when asked", () => {
  const r = tinyRecord();
  // 5 bins of width 0.2: [0, .2) [.2, .4) [.4, .6) [.6, .8) [.8, 1]
  // clean 0.95 0.90 -> bin 4; 0.72 0.61 -> bin 3: counts [0, 0, 0, 2, 2]; noisy 0.45 -> bin 2, 0.10 -> bin 0: [1, 0, 1, 0, 0]
  const counts = weightDistributionFigure(r, { bins: 5, histnorm: "count" });
  const [clean, noisy] = bars(counts);
  assert.equal(counts.data.length, 2);
  assert.deepEqual(clean.y, [0, 0, 0, 2, 2]);
  assert.deepEqual(noisy.y, [1, 0, 1, 0, 0]);
  close(clean.x, [0.1, 0.3, 0.5, 0.7, 0.9], "bin centres");
  assert.equal(clean.width, 0.2);
  assert.equal(clean.name, "clean interactions (4)");
  assert.equal(noisy.name, "noisy interactions (2)");
  assert.equal(counts.layout.barmode, "overlay");
  // default: the share of each group (4 clean, 2 noisy)
  const shares = bars(weightDistributionFigure(r, { bins: 5 }));
  assert.deepEqual(shares[0].y, [0, 0, 0, 0.5, 0.5]);
  assert.deepEqual(shares[1].y, [0.5, 0, 0.5, 0, 0]);
  // negatives 0.05 -> bin 0, 0.33 -> bin 1
  const withNeg = bars(weightDistributionFigure(r, { bins: 5, histnorm: "count", negatives: true }));
  assert.equal(withNeg.length, 3);
  assert.deepEqual(withNeg[2].y, [1, 1, 0, 0, 0]);
  assert.match(weightDistributionFigure(r).layout.title?.text ?? "", /^Figure 5\(a\): weights at epoch 4, neumf, synthetic, learned$/);
});

test("Figure 5(b): the samples as clean / noisy points and the curve as a line, exactly the record's numbers", () => {
  const r = tinyRecord();
  const fig = weightingFunctionFigure(r);
  const t = fig.data as ScatterTrace[];
  assert.deepEqual(t.map((x) => x.name), ["clean interactions (4)", "noisy interactions (2)", "g(L; psi)"]);
  assert.deepEqual(t[0].x, [0.1, 0.2, 0.3, 0.7]);
  assert.deepEqual(t[0].y, [0.95, 0.9, 0.72, 0.61]);
  assert.deepEqual(t[1].x, [0.9, 1.5]);
  assert.deepEqual(t[1].y, [0.45, 0.1]);
  assert.deepEqual([t[2].mode, t[2].x, t[2].y], ["lines", [0, 1, 2], [0.9, 0.5, 0.1]]);
  const withNeg = weightingFunctionFigure(r, { negatives: true }).data as ScatterTrace[];
  assert.deepEqual([withNeg[2].name, withNeg[2].x, withNeg[2].y], ["sampled negatives (2)", [2.0, 0.05], [0.05, 0.33]]);
});

test("weight summary and meta loss over the Phase II epochs, the switch epoch dotted", () => {
  const r = tinyRecord();
  const w = weightSummaryFigure(r);
  const t = w.data as ScatterTrace[];
  assert.deepEqual(t.map((x) => [x.name, x.x, x.y]), [
    ["clean interactions", [3, 4], [0.8, 0.85]],
    ["noisy interactions", [3, 4], [0.4, 0.3]],
    ["sampled negatives", [3, 4], [0.6, null]],
  ]);
  assert.deepEqual(w.layout.shapes?.map((s) => [s.x0, s.line.dash]), [[2, "dot"]]);
  assert.equal(w.layout.annotations?.[0].text, "switch to Phase II (epoch 2)");
  // a BPR record logs no weightNegative: two traces
  const bpr = tinyRecord();
  bpr.epochs.forEach((e) => delete e.weightNegative);
  assert.equal(weightSummaryFigure(bpr).data.length, 2);
  const m = metaLossFigure(r).data as ScatterTrace[];
  assert.deepEqual(m.map((x) => [x.x, x.y]), [[[3, 4], [0.25, 0.15]], [[3, 4], [0.3, 0.2]]]);
  // no switch: no line
  const never = tinyRecord();
  never.method.switchEpoch = null;
  assert.deepEqual(metaLossFigure(never).layout.shapes, []);
});

test("Figure 1's SGDL panel: memoryRateFigure names the dotted t_m the switch when the run went on to Phase II", () => {
  const r = tinyRecord();
  const f = memoryRateFigure(r);
  assert.deepEqual((f.data[1] as ScatterTrace).y, [0.05, 0.1, 0.12, 0.13]);
  assert.equal(f.layout.annotations?.[0].text, "switch to Phase II at t_m = 2 (code's definitions)");
  // the same log without Phase II (a trackOnly run): the label stays t_m
  const normal = tinyRecord();
  normal.epochs.forEach((e) => (e.phase = "normal"));
  assert.equal(memoryRateFigure(normal).layout.annotations?.[0].text, "t_m = 2 (code's definitions)");
});
