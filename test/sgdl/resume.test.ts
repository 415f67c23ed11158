import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../src/backend";
import type { Dataset } from "../../src/data/dataset";
import { loadDataset } from "../../src/data/registry";
import { normalMethod } from "../../src/methods/normal";
import { createMethod } from "../../src/methods/registry";
import { SGDL_OPTION_PRESETS, type PlainOptions } from "../../src/methods/sgdl/options";
import { createModel } from "../../src/models/registry";
import { readCheckpoint, writeCheckpoint, type Checkpoint } from "../../src/training/checkpoint";
import type { EpochLog, TrainEvent } from "../../src/training/events";
import type { Method, TrainSettings } from "../../src/training/method";
import type { JsonValue } from "../../src/training/method-state";
import { train, type ModelFactory, type TrainResult } from "../../src/training/trainer";
import { DataError } from "../../src/util/errors";
import { dieAfter, paramsHex, started } from "../training/interrupted-run";

const mf: ModelFactory = (mc, rng) => createModel("mf", mc, { lr: 1e-2 }, rng);
const lightgcn: ModelFactory = (mc, rng) => createModel("lightgcn", mc, { lr: 1e-2 }, rng);
const settings = (epochs: number): TrainSettings => ({ epochs, batchSize: 256, lr: 1e-2, evalFreq: 2, stopStep: 3, ks: [5, 20] });

/**
 * The official code's options (lstm1 re-drawn each epoch, fresh Adams every
 * Phase II epoch, the "2n" pool's negatives, the code's history rule) with a
 * +30 point shift: on synthetic quick with MF the switch comes at epoch 5
 * (the code rule needs 2 sum >= h = 10 hits, so epoch 5 is its earliest).
 */
const CODE: PlainOptions = { ...(SGDL_OPTION_PRESETS.code as PlainOptions), shift: 0.3 };
/** The paper's options (lstm with its state carried per memorized sample, one Adam throughout), Phase II tracked; +40 points: switch at epoch 1. */
const PAPER: PlainOptions = { normalize: "per-user", shift: 0.4, trackPhase2: true };

/** An epoch log without wall-clock fields (seconds, ms per step part). */
function timeless(epochs: EpochLog[]): Record<string, unknown>[] {
  return epochs.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== "seconds" && !k.startsWith("ms"))));
}

interface Run {
  res: TrainResult;
  /** The method's record block (describe()). */
  d: Record<string, unknown>;
}

/** Everything but wall time identical: logs, best, test per user, parameters, and the method's record block. */
function assertSameRun(a: Run, b: Run): void {
  assert.deepStrictEqual(timeless(b.res.epochs), timeless(a.res.epochs));
  assert.deepStrictEqual(b.res.best, a.res.best);
  assert.equal(b.res.stoppedEarly, a.res.stoppedEarly);
  assert.deepStrictEqual(b.res.test.perUser, a.res.test.perUser);
  assert.deepStrictEqual(paramsHex(b.res), paramsHex(a.res));
  assert.deepStrictEqual(b.d, a.d);
}

/** A DataError naming the file and the field. */
const named = (file: string, field: string) => (err: unknown) => err instanceof DataError && err.message.includes(file) && err.message.includes(`field '${field}'`);

/** The method state's JSON at a path of keys. */
function at(json: JsonValue | undefined, ...keys: string[]): JsonValue | undefined {
  let v = json;
  for (const k of keys) v = typeof v === "object" && v !== null && !Array.isArray(v) ? v[k] : undefined;
  return v;
}

describe("resuming an sgdl run", () => {
  let data: Dataset;
  let dir: string;
  before(async () => {
    await initBackend("wasm");
    data = loadDataset("synthetic", { preset: "quick" });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-resume-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = async (options: PlainOptions, model: ModelFactory, epochs: number, extra: { checkpoint?: { path: string; runKey: string }; onEvent?: (e: TrainEvent) => void; method?: Method } = {}): Promise<Run> => {
    const method = extra.method ?? createMethod("sgdl", options);
    const res = await train({ dataset: data, createModel: model, method, settings: settings(epochs), seed: 2020, checkpoint: extra.checkpoint, onEvent: extra.onEvent });
    return { res, d: method.describe ? method.describe() : {} };
  };

  it("is resumable and checkpoints after every epoch, Phase I included", () => {
    const m = createMethod("sgdl", CODE);
    assert.equal(m.resumable, true);
    assert.equal(m.checkpointAfter?.({} as never, 1), true);
    assert.equal(createMethod("sgdl", { stopAtSwitch: true }).resumable, true);
  });

  it("code options, MF: killed in Phase I and in Phase II, resumed twice, the same record as one run", async () => {
    const whole = await run(CODE, mf, 8);
    const s = whole.d.switchEpoch as number;
    assert.equal(s, 5, "switch at epoch 5 (see CODE)");
    assert.equal(whole.res.epochs.filter((e) => e.phase === "self-guided").length, 3);
    const file = path.join(dir, "code.ckpt");
    const checkpoint = { path: file, runKey: "code-run" };

    // killed after Phase I's epoch 3 (no validation in Phase I: saved anyway)
    await assert.rejects(run(CODE, mf, 8, { checkpoint, onEvent: dieAfter(3) }), /killed after epoch 3/);
    let c = readCheckpoint(file, "code-run");
    assert.equal(c.state.epoch, 3);
    assert.equal(c.state.phase, "memorization");
    assert.equal(at(c.state.methodState, "inPhase2"), false);
    assert.equal(at(c.state.methodState, "phase1", "tracker", "epochs"), 3);
    assert.ok(c.arrays.get("method/phase1.tracker.history") instanceof Uint32Array);

    // resumed at 4, through the switch at 5, killed after the first Phase II epoch 6
    const second: TrainEvent[] = [];
    await assert.rejects(run(CODE, mf, 8, { checkpoint, onEvent: dieAfter(s + 1, second) }), /killed/);
    assert.deepEqual(started(second), [4, 5, 6]);
    c = readCheckpoint(file, "code-run");
    assert.equal(c.state.epoch, s + 1);
    assert.equal(c.state.phase, "self-guided");
    assert.equal(at(c.state.methodState, "inPhase2"), true);
    assert.equal(at(c.state.methodState, "phase2", "epochs"), 1);
    assert.deepEqual(c.state.resumedFrom, [3]);
    // freshOptimizers: the saved model Adam is the one re-created for epoch 6, so its t is that epoch's steps
    assert.equal(c.state.adam.t, Math.ceil(6598 / 256), "6,598 training positives / batch 256 = 26 steps since the re-creation");
    assert.equal(at(c.state.methodState, "phase2", "scheduler", "config", "kind"), "lstm1");

    const third: TrainEvent[] = [];
    const resumed = await run(CODE, mf, 8, { checkpoint, onEvent: (e) => void third.push(e) });
    assert.deepEqual(started(third), [7, 8]);
    assert.deepEqual(resumed.res.resumedFrom, [3, s + 1]);
    assertSameRun(whole, resumed);
  });

  it("paper options (lstm state per memorized sample, one Adam), LightGCN, Phase II tracked: killed in Phase II, resumed, the same record", async () => {
    const whole = await run(PAPER, lightgcn, 4);
    assert.equal(whole.d.switchEpoch, 1);
    const file = path.join(dir, "paper.ckpt");
    const checkpoint = { path: file, runKey: "paper-run" };
    await assert.rejects(run(PAPER, lightgcn, 4, { checkpoint, onEvent: dieAfter(2) }), /killed/);
    const c = readCheckpoint(file, "paper-run");
    assert.equal(c.state.adam.t, 2 * Math.ceil(6598 / 256), "one model Adam over both epochs");
    const carried = at(c.state.methodState, "phase2", "scheduler", "carried");
    assert.ok(carried !== null && carried !== undefined, "the lstm's carried state is saved");
    const resumed = await run(PAPER, lightgcn, 4, { checkpoint });
    assert.deepEqual(resumed.res.resumedFrom, [2]);
    assertSameRun(whole, resumed);
  });

  it("stopAtSwitch: a run that stopped at the switch resumes straight to the test", async () => {
    const opts = { ...CODE, stopAtSwitch: true };
    const whole = await run(opts, mf, 8);
    assert.equal(whole.res.epochs.length, 5);
    const file = path.join(dir, "stop.ckpt");
    const checkpoint = { path: file, runKey: "stop-run" };
    await assert.rejects(run(opts, mf, 8, { checkpoint, onEvent: dieAfter(5) }), /killed/);
    const events: TrainEvent[] = [];
    const resumed = await run(opts, mf, 8, { checkpoint, onEvent: (e) => void events.push(e) });
    assert.deepEqual(started(events), []);
    assertSameRun(whole, resumed);
  });

  it("a mismatched or corrupted method state is a DataError naming the field", async () => {
    const file = path.join(dir, "bad.ckpt");
    const key = "bad-run";
    const checkpoint = { path: file, runKey: key };
    await assert.rejects(run(CODE, mf, 8, { checkpoint, onEvent: dieAfter(6) }), /killed/);
    const good = readCheckpoint(file, key);
    const resume = (options: PlainOptions = CODE, method?: Method) => run(options, mf, 8, { checkpoint, method });
    /** Writes a changed copy of the good checkpoint and expects the resume to fail naming `field`. */
    const refuses = async (change: (c: Checkpoint) => void, field: string, options?: PlainOptions, method?: Method) => {
      const c: Checkpoint = { state: structuredClone(good.state), arrays: new Map(good.arrays) };
      change(c);
      writeCheckpoint(file, c);
      await assert.rejects(resume(options, method), named(file, field));
    };
    const ms = (c: Checkpoint, ...keys: string[]): Record<string, JsonValue> => at(c.state.methodState, ...keys) as Record<string, JsonValue>;

    // other sgdl options under the same run key (a hand-made mix-up: the runner's key covers the options)
    await refuses(() => undefined, "methodState.options.tau", { ...CODE, tau: 0.5 });
    // a normal run cannot take an sgdl checkpoint
    await refuses(() => undefined, "method", CODE, normalMethod());
    // no method state at all
    await refuses((c) => delete c.state.methodState, "methodState");
    await refuses((c) => (ms(c, "phase2").epochs = -1), "methodState.phase2.epochs");
    await refuses((c) => (ms(c).switchEpoch = 4), "methodState.switchEpoch");
    await refuses((c) => (ms(c, "phase2", "scheduler").format = "sgdl-scheduler/0"), "methodState.phase2.scheduler");
    await refuses((c) => (ms(c, "phase2").gumbelRng = [0, 0, 0, 0]), "methodState.phase2.gumbelRng");
    await refuses((c) => c.arrays.delete("method/phase1.tracker.history"), "method/phase1.tracker.history");
    // the history as float32: the tracker names its field
    await refuses((c) => c.arrays.set("method/phase1.tracker.history", new Float32Array(6598)), "methodState.phase1.tracker");
    // one memorized flag flipped: it no longer agrees with its history (Eq. 1)
    await refuses((c) => {
      const m = (c.arrays.get("method/phase1.tracker.memorized") as Uint8Array).slice();
      m[0] ^= 1;
      c.arrays.set("method/phase1.tracker.memorized", m);
    }, "methodState.phase1.tracker");
    // psi of another size (weightingHidden 100 in the code options)
    await refuses((c) => c.arrays.set("method/phase2.psi.w1", new Float32Array(64)), "methodState.phase2.psi.w1");
    // the good file still resumes
    writeCheckpoint(file, good);
    const ok = await resume();
    assert.deepEqual(ok.res.resumedFrom, [6]);
  });
});
