import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../src/backend";
import { runExperiment } from "../../src/experiments/runner";
import { lossDistributionFigure, memoryRateFigure, mpMrCrossing, mpMrFigure, noiseRateFigure } from "../../src/report/memorization-figures";
import type { BarTrace, ScatterTrace } from "../../src/report/figure";
import type { Dataset } from "../../src/data/dataset";
import { size, type Interactions } from "../../src/data/interactions";
import { loadDataset } from "../../src/data/registry";
import { ConfigError, resolveConfig } from "../../src/experiments/config";
import { parseTrainArgs } from "../../src/experiments/train-command";
import { createMethod, methodDefaults } from "../../src/methods/registry";
import { decodeMemorizedFlags } from "../../src/methods/sgdl/memorized-set";
import { SGDL_OPTION_PRESETS } from "../../src/methods/sgdl/options";
import { readPhase1Facts, switchEpochFromLog } from "../../src/methods/sgdl/phase1";
import { sgdlMethod, type Phase2 } from "../../src/methods/sgdl/sgdl";
import { createModel } from "../../src/models/registry";
import type { EpochLog, TrainEvent } from "../../src/training/events";
import type { Method, TrainSettings } from "../../src/training/method";
import { train, type ModelFactory } from "../../src/training/trainer";

const mf: ModelFactory = (mc, rng) => createModel("mf", mc, { lr: 1e-2 }, rng);
const QUICK: TrainSettings = { epochs: 40, batchSize: 256, lr: 1e-2, evalFreq: 2, stopStep: 3, ks: [5, 20] };
const FIELDS = ["memorized", "memorizedRatio", "memRateClean", "memRateNoisy", "mp", "mr", "noiseRateEstimate"];

/** Wraps a method so that the optimizer's lr is seen before and after each afterEpoch. */
function lrSpy(m: Method): { method: Method; seen: Array<{ epoch: number; before: number; after: number }> } {
  const seen: Array<{ epoch: number; before: number; after: number }> = [];
  const method: Method = {
    name: m.name,
    init: (ctx) => m.init?.(ctx),
    validates: m.validates ? (ctx, e) => (m.validates as NonNullable<Method["validates"]>)(ctx, e) : undefined,
    afterEpoch: async (ctx, log) => {
      const before = ctx.optimizer.lr;
      const v = m.afterEpoch ? await m.afterEpoch(ctx, log) : undefined;
      seen.push({ epoch: log.epoch, before, after: ctx.optimizer.lr });
      return v;
    },
    describe: () => (m.describe ? m.describe() : {}),
  };
  return { method, seen };
}

/** Noisy share of the interactions whose flag is set. */
function noisyShare(flags: Uint8Array, train: Interactions): { share: number; clean: number; noisy: number } {
  let clean = 0;
  let noisy = 0;
  for (let k = 0; k < flags.length; k++) {
    if (!flags[k]) continue;
    if (train.noisy[k]) noisy++;
    else clean++;
  }
  return { share: noisy / (clean + noisy), clean, noisy };
}

describe("sgdl method (Phase I)", () => {
  let data: Dataset;
  let trainNoisy = 0;
  before(async () => {
    await initBackend("wasm");
    data = loadDataset("synthetic", { preset: "quick" });
    for (let k = 0; k < size(data.train); k++) trainNoisy += data.train.noisy[k];
  });

  it("runs Phase I, logs the fields, switches at Eq. 3 and stops; M at the switch is cleaner than D", async () => {
    const method = sgdlMethod({ normalize: "per-user" });
    const notes: string[] = [];
    const res = await train({
      dataset: data, createModel: mf, method, settings: QUICK, seed: 2020,
      onEvent: (e: TrainEvent) => void (e.type === "note" && notes.push(e.text)),
    });
    const last = res.epochs[res.epochs.length - 1];
    for (const e of res.epochs) {
      assert.equal(e.phase, "memorization");
      assert.equal(e.valid, undefined, "Phase I does not validate");
      for (const f of FIELDS) assert.equal(typeof e[f], "number", `epoch ${e.epoch} field ${f}`);
    }
    const d = method.describe ? method.describe() : {};
    assert.equal(d.switchEpoch, last.epoch);
    assert.equal(method.switchEpoch, last.epoch);
    assert.ok(last.epoch < QUICK.epochs && res.stoppedEarly, "stopped at the switch, before the cap");
    assert.equal(d.noiseRateAtSwitch, last.noiseRateEstimate);
    assert.equal(notes.length, 1);
    // Eq. 3 holds at the switch and at no epoch before
    const ok = (e: EpochLog) => (e.memorizedRatio as number) >= 1 - (e.noiseRateEstimate as number);
    assert.ok(ok(last));
    assert.ok(res.epochs.slice(0, -1).every((e) => !ok(e) || e.memorized === 0));
    // the memorized set in the record: as many as logged, MP and MR recomputed from the flags and the labels
    const flags = decodeMemorizedFlags(d.memorizedSet as string, d.memorizedSetLength as number);
    const m = noisyShare(flags, data.train);
    assert.equal(m.clean + m.noisy, last.memorized);
    const nTrain = size(data.train);
    assert.ok(Math.abs(1 - m.share - (last.mp as number)) < 1e-12, "MP = clean share of M");
    assert.ok(Math.abs(m.clean / (nTrain - trainNoisy) - (last.mr as number)) < 1e-12, "MR = memorized clean / all clean");
    assert.ok(m.share < trainNoisy / nTrain, `noisy share of M ${m.share} vs of D ${trainNoisy / nTrain}`);
    assert.deepEqual(Array.from(readPhase1Facts(d).memorized), Array.from(method.phase1?.tracker.memorizedSet() ?? []));
    assert.equal(d.figure4Epoch, last.epoch, "Figure 4 data from the switch epoch by default");
    const f4 = readPhase1Facts(d).figure4;
    assert.ok(f4 !== null);
    assert.equal(f4.clean.reduce((a, b) => a + b, 0), nTrain - trainNoisy);
    assert.equal(f4.noisy.reduce((a, b) => a + b, 0), trainNoisy);
  });

  it("Phase I runs at lr * phase1LrScale and the lr is restored at the switch", async () => {
    const { method, seen } = lrSpy(sgdlMethod({ pool: "2n", rule: "code", normalize: "per-user", phase1LrScale: 0.2 }));
    const res = await train({ dataset: data, createModel: mf, method, settings: QUICK, seed: 2020 });
    const n = res.epochs.length;
    assert.ok(n >= 5 && n < QUICK.epochs, `switch after ${n} epochs`); // rule code, h = 10: nothing memorized before epoch 5
    for (const s of seen.slice(0, -1)) assert.deepEqual([s.before, s.after], [0.002, 0.002]); // 1e-2 x 0.2
    assert.deepEqual([seen[n - 1].before, seen[n - 1].after], [0.002, 0.01]);
  });

  it("is deterministic per seed (logs and memorized set); another seed differs", async () => {
    const run = async (seed: number) => {
      const method = sgdlMethod({ pool: "2n", normalize: "per-user" });
      const res = await train({ dataset: data, createModel: mf, method, settings: { ...QUICK, epochs: 8 }, seed });
      const d = method.describe ? method.describe() : {};
      return { logs: res.epochs.map((e) => FIELDS.map((f) => e[f])), set: d.memorizedSet, f4: d.figure4Clean };
    };
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.logs, c.logs);
  });

  it("no switch before the epoch cap: switchEpoch null, training not stopped", async () => {
    // rule code, h = 10: |M| = 0 until epoch 5, and Eq. 3 never holds for an empty M
    const method = sgdlMethod({ rule: "code" });
    const res = await train({ dataset: data, createModel: mf, method, settings: { ...QUICK, epochs: 3 }, seed: 1 });
    assert.equal(res.epochs.length, 3);
    assert.equal(res.stoppedEarly, false);
    const d = method.describe ? method.describe() : {};
    assert.deepEqual([d.switchEpoch, d.memorizationPoint, d.memorizedSet, d.stoppedAtSwitch], [null, null, null, false]);
    assert.ok(res.epochs.every((e) => e.memorized === 0));
  });

  it("trackOnly: training goes on (phase, validation) with memorization tracked and t_m recorded; same trajectory as the switching run", async () => {
    const { method, seen } = lrSpy(sgdlMethod({ trackOnly: true, normalize: "per-user" }));
    const res = await train({ dataset: data, createModel: mf, method, settings: { ...QUICK, epochs: 20, stopStep: 100 }, seed: 2020 });
    assert.equal(res.epochs.length, 20, "never stops at the memorization point");
    for (const e of res.epochs) {
      assert.equal(e.phase, "normal");
      assert.equal(e.valid !== undefined, e.epoch % 2 === 0, "validation every evalFreq epochs");
      for (const f of FIELDS) assert.equal(typeof e[f], "number");
    }
    assert.ok(seen.every((s) => s.before === 0.01 && s.after === 0.01), "default scale 1: the normal lr");
    const d = method.describe ? method.describe() : {};
    assert.equal(d.switchEpoch, null);
    const tm = d.memorizationPoint as number;
    assert.ok(Number.isInteger(tm) && tm < 20);
    assert.equal(switchEpochFromLog(res.epochs), tm);
    // the same seed without trackOnly switches at the same epoch: Phase I is plain training at the same lr
    const plain = sgdlMethod({ normalize: "per-user" });
    const r2 = await train({ dataset: data, createModel: mf, method: plain, settings: QUICK, seed: 2020 });
    assert.equal(r2.epochs.length, tm);
    assert.deepEqual(r2.epochs.map((e) => e.noiseRateEstimate), res.epochs.slice(0, tm).map((e) => e.noiseRateEstimate));
    assert.equal(d.memorizedSet, (plain.describe ? plain.describe() : {}).memorizedSet);
  });

  it("trackOnly keeps the Phase I lr scale; its log gives the switch epoch of a run with a Table 4 shift", async () => {
    const code = { pool: "2n", rule: "code", normalize: "per-user", phase1LrScale: 0.2 } as const;
    const { method, seen } = lrSpy(sgdlMethod({ ...code, trackOnly: true }));
    const res = await train({ dataset: data, createModel: mf, method, settings: { ...QUICK, epochs: 25, stopStep: 100 }, seed: 3 });
    assert.ok(seen.every((s) => s.before === 0.002 && s.after === 0.002), "lr x 0.2 throughout, never restored");
    for (const shift of [0.1, -0.1]) {
      const expected = switchEpochFromLog(res.epochs, shift);
      assert.ok(expected !== null && expected < 25, `shift ${shift}: switch within the log`);
      const m = sgdlMethod({ ...code, shift });
      const r = await train({ dataset: data, createModel: mf, method: m, settings: QUICK, seed: 3 });
      assert.equal(m.switchEpoch, expected, `shift ${shift}`);
      assert.equal(r.epochs.length, expected);
    }
    // +0.1 switches no later than -0.1 (a lower threshold 1 - sigma')
    assert.ok((switchEpochFromLog(res.epochs, 0.1) as number) <= (switchEpochFromLog(res.epochs, -0.1) as number));
  });

  it("the Phase II seam: start gets M at the switch, then Phase II answers the hooks", async () => {
    const calls: string[] = [];
    let memorized: Interactions | null = null;
    const phase2: Phase2 = {
      start: (ctx, m) => {
        memorized = m;
        calls.push(`start@${ctx.epoch}`);
      },
      step: (batch, ctx, plainStep) => {
        if (calls[calls.length - 1] !== `step@${ctx.epoch}`) calls.push(`step@${ctx.epoch}`);
        return plainStep(batch);
      },
      validates: () => true,
      afterEpoch: (ctx) => ({ stop: ctx.epoch >= 2 + (method.switchEpoch ?? 0), fields: { weightMean: 0.5 } }),
    };
    const method = sgdlMethod({ normalize: "per-user", phase1LrScale: 0.5 }, phase2);
    const spy = lrSpy(method);
    const res = await train({ dataset: data, createModel: mf, method: { ...spy.method, step: method.step }, settings: QUICK, seed: 2020 });
    const t = method.switchEpoch as number;
    assert.ok(t >= 1);
    assert.deepEqual(calls.slice(0, 1), [`start@${t}`], "no Phase II step before the switch");
    assert.ok(memorized !== null);
    assert.equal(size(memorized as Interactions), res.epochs[t - 1].memorized);
    const after = res.epochs.slice(t);
    assert.ok(after.length >= 1);
    for (const e of after) {
      assert.equal(e.phase, "self-guided");
      assert.ok(e.valid !== undefined);
      assert.equal(e.weightMean, 0.5);
      assert.equal(e.memorized, undefined, "tracking stops at the switch");
    }
    assert.equal(spy.seen[t].before, 0.01, "Phase II at the full lr");
  });

  it("is registered as `sgdl`: defaults = the paper, bad options are config errors, flags map to methodOptions", () => {
    assert.equal(createMethod("sgdl").name, "sgdl");
    const d = methodDefaults("sgdl");
    assert.deepEqual([d.pool, d.rule, d.h, d.normalize, d.shift, d.phase1LrScale, d.trackOnly], ["all", "paper", 10, "global", 0, 1, false]);
    assert.throws(
      () => resolveConfig({ dataset: "synthetic", model: "mf", method: "sgdl", methodOptions: { pool: "3n" } }),
      (e: unknown) => e instanceof ConfigError && e.field === "methodOptions" && /pool/.test(e.message),
    );
    assert.throws(() => resolveConfig({ dataset: "synthetic", model: "mf", method: "sgdl", methodOptions: { h: 40 } }), /option 'h'/);
    const base = ["--dataset", "synthetic", "--model", "lightgcn", "--method", "sgdl", "--seed", "1"];
    assert.deepEqual(parseTrainArgs([...base, "--sgdl-options", "code"]).config.methodOptions, { ...SGDL_OPTION_PRESETS.code });
    assert.deepEqual(parseTrainArgs([...base, "--sgdl-options", "code", "--pool", "all", "--history", "5", "--shift", "0.05"]).config.methodOptions, {
      ...SGDL_OPTION_PRESETS.code, pool: "all", h: 5, shift: 0.05,
    });
    const published = parseTrainArgs([...base, "--sgdl-options", "published", "--scheduler", "mlp", "--tau", "0.5", "--ablation", "no-ads", "--weighting", "learned", "--stop-at-switch"]).config.methodOptions;
    assert.deepEqual(published, { ...SGDL_OPTION_PRESETS.published, scheduler: "mlp", tau: 0.5, ablation: "no-ads", weighting: "learned", stopAtSwitch: true });
    assert.equal(SGDL_OPTION_PRESETS.published.weighting, "frozen");
    assert.throws(() => parseTrainArgs([...base, "--scheduler", "gru"]), /--scheduler must be one of lstm, lstm1, mlp, topf/);
    assert.throws(() => parseTrainArgs([...base, "--ablation", "dls"]), /--ablation must be one of none, no-dls, no-ads/);
    assert.deepEqual(parseTrainArgs([...base, "--selection-level", "embedding"]).config.methodOptions, { selectionLevel: "embedding" });
    assert.throws(() => parseTrainArgs([...base, "--selection-level", "rows"]), /--selection-level must be one of loss, embedding/);
    assert.equal(d.selectionLevel, "loss");
    assert.deepEqual(parseTrainArgs([...base, "--normalize", "per-user", "--phase1-lr-scale", "0.5", "--rule", "code", "--track-only"]).config.methodOptions, {
      rule: "code", normalize: "per-user", phase1LrScale: 0.5, trackOnly: true,
    });
    assert.equal(parseTrainArgs(base).config.methodOptions, undefined);
    assert.throws(() => parseTrainArgs([...base, "--pool", "3n"]), /--pool must be one of all, 2n/);
    assert.throws(() => parseTrainArgs([...base, "--sgdl-options", "official"]), /--sgdl-options must be one of paper, code, published/);
    assert.throws(() => parseTrainArgs([...base, "--history", "ten"]), /--history must be an integer/);
  });

  it("a run record carries what Figures 1, 3 and 4 need, and the figures draw from it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-phase1-"));
    try {
      const run = await runExperiment(
        { dataset: "synthetic", dataPreset: "quick", model: "mf", method: "sgdl", seed: 2020, preset: "quick", epochs: 40, methodOptions: { normalize: "per-user", stopAtSwitch: true } },
        { resultsDir: dir },
      );
      const r = JSON.parse(fs.readFileSync(run.path, "utf8"));
      assert.equal(r.method.name, "sgdl");
      const t = r.method.switchEpoch as number;
      assert.equal(r.epochs.length, t);
      // Figure 1: two series over the tracked epochs, the dotted t_m line
      const f1 = memoryRateFigure(r);
      assert.deepEqual((f1.data[0] as ScatterTrace).x, r.epochs.map((e: EpochLog) => e.epoch));
      assert.deepEqual((f1.data[1] as ScatterTrace).y, r.epochs.map((e: EpochLog) => e.memRateNoisy));
      assert.deepEqual(f1.layout.shapes?.map((s) => [s.x0, s.line.dash]), [[t, "dot"]]);
      // Figure 3: the crossing is the first epoch with M non-empty and MR >= MP, found by scanning the log
      const cross = mpMrCrossing(r.epochs);
      const scan = r.epochs.find((e: EpochLog) => (e.memorized as number) > 0 && (e.mr as number) >= (e.mp as number));
      assert.equal(cross, scan ? scan.epoch : null);
      assert.equal(mpMrFigure(r).layout.shapes?.length, cross === null ? 1 : 2);
      assert.equal(noiseRateFigure(r).data.length, 2);
      // Figure 4: the bars are shares of one density (area 1); the components integrate to their weights
      const f4 = lossDistributionFigure(r);
      const bars = f4.data.filter((d): d is BarTrace => d.type === "bar");
      const area = bars.reduce((a, b) => a + b.y.reduce((x, y) => x + y * (b.width as number), 0), 0);
      assert.ok(Math.abs(area - 1) < 1e-9, `histogram area ${area}`);
      const curves = f4.data.filter((d): d is ScatterTrace => d.type === "scatter");
      const w = r.method.figure4Gmm as number[];
      // trapezoid rule on [0, 1]; the components may spill beyond [0, 1], so the integral is at most the weight
      curves.forEach((c, k) => {
        let integral = 0;
        for (let j = 1; j < c.x.length; j++) integral += (((c.y[j - 1] as number) + (c.y[j] as number)) / 2) * ((c.x[j] as number) - (c.x[j - 1] as number));
        assert.ok(integral <= w[k] + 1e-3 && integral > 0.3 * w[k], `component ${k}: integral ${integral} vs weight ${w[k]}`);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
