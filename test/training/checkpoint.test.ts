import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../src/backend";
import type { Dataset } from "../../src/data/dataset";
import { loadDataset } from "../../src/data/registry";
import { normalMethod } from "../../src/methods/normal";
import { createCDAE } from "../../src/models/cdae";
import { createMF } from "../../src/models/mf";
import { ParamStore } from "../../src/models/ops/embedding-table";
import { Adam } from "../../src/training/adam";
import { CHECKPOINT_FORMAT, readCheckpoint, writeCheckpoint, type Checkpoint, type CheckpointState } from "../../src/training/checkpoint";
import { EarlyStopping } from "../../src/training/early-stopping";
import type { TrainEvent } from "../../src/training/events";
import type { Method, TrainSettings } from "../../src/training/method";
import { seedStreams, train, type ModelFactory, type TrainOptions, type TrainResult } from "../../src/training/trainer";
import { DataError } from "../../src/util/errors";
import { Rng } from "../../src/util/rng";
import { dieAfter, paramsHex, started, withoutSeconds } from "./interrupted-run";

const mf: ModelFactory = (mc, rng) => createMF(mc, { dim: 8 }, rng);
// CDAE corrupts its input with q = 0.5 while training: draws from the forward stream every step
const cdae: ModelFactory = (mc, rng) => createCDAE(mc, { hidden: 8, dropout: 0.5 }, rng);
const SETTINGS: TrainSettings = { epochs: 6, batchSize: 512, lr: 1e-2, evalFreq: 2, stopStep: 50, ks: [5, 20] };

/** Everything but wall time must be identical, bit for bit. */
function assertSameRun(a: TrainResult, b: TrainResult): void {
  assert.deepStrictEqual(withoutSeconds(b.epochs), withoutSeconds(a.epochs));
  assert.deepStrictEqual(b.best, a.best);
  assert.equal(b.stoppedEarly, a.stoppedEarly);
  assert.deepStrictEqual(b.test.mean, a.test.mean);
  assert.deepStrictEqual(b.test.perUser, a.test.perUser);
  assert.deepStrictEqual(paramsHex(b), paramsHex(a));
}

describe("Rng state", () => {
  it("setState continues a stream exactly; forked streams are plain Rngs with a state too", () => {
    const a = new Rng(42);
    for (let k = 0; k < 5; k++) a.next();
    const s = a.getState();
    const saved = [...s];
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s, "the state is plain JSON");
    const ahead = [a.nextUint32(), a.nextUint32(), a.nextUint32()];
    const b = new Rng(7);
    b.setState(s);
    assert.deepEqual([b.nextUint32(), b.nextUint32(), b.nextUint32()], ahead);
    const f = new Rng(3).fork();
    assert.ok(f instanceof Rng);
    const fs0 = f.getState();
    const x = f.next();
    f.setState(fs0);
    assert.equal(f.next(), x);
    // getState is a copy: drawing does not change an earlier state
    assert.deepEqual(s, saved);
    assert.notDeepEqual(a.getState(), saved);
    assert.throws(() => b.setState([0, 0, 0, 0]), /all zero/);
    assert.throws(() => b.setState([1, 2, 3]), /four unsigned 32-bit/);
    assert.throws(() => b.setState([1, 2, 3, 2 ** 32]), /four unsigned 32-bit/);
  });
});

describe("Adam state", () => {
  it("lazy row state round-trips: export -> import -> the next step is bit-identical", () => {
    const rng = new Rng(11);
    const store = new ParamStore();
    store.add("emb", "table", [6, 3], { kind: "normal", std: 0.1 }, rng);
    store.add("w", "dense", [4], { kind: "normal", std: 0.1 }, rng);
    const grad = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const opt = new Adam({ lr: 0.05 });
    const emb = store.get("emb");
    const w = store.get("w");
    opt.step([[emb, { kind: "rows", rows: Int32Array.from([0, 2]), grad: grad(6) }], [w, { kind: "dense", grad: grad(4) }]]);
    opt.step([[emb, { kind: "rows", rows: Int32Array.from([2, 5]), grad: grad(6) }]]);
    opt.lr = 0.02; // a method may change lr: it is part of the state

    const state = opt.exportState(store);
    assert.equal(state.t, 2);
    assert.equal(state.lr, 0.02);
    assert.deepEqual(state.moments.map((m) => m.name), ["emb", "w"]);
    // rows 1, 3, 4 were never touched: lazy Adam leaves their moments at zero
    assert.deepEqual(Array.from(state.moments[0].m.subarray(3, 6)), [0, 0, 0]);

    const copy = store.clone();
    const opt2 = new Adam({ lr: 1 });
    opt2.importState(state, copy);
    assert.equal(opt2.iterations, 2);
    assert.equal(opt2.lr, 0.02);
    const g = grad(9);
    const rows = Int32Array.from([1, 2, 2]); // a repeated row: folded before the update
    opt.step([[emb, { kind: "rows", rows, grad: g }], [w, { kind: "dense", grad: g.subarray(0, 4) }]]);
    opt2.step([[copy.get("emb"), { kind: "rows", rows, grad: g }], [copy.get("w"), { kind: "dense", grad: g.subarray(0, 4) }]]);
    assert.deepStrictEqual(copy.get("emb").data, emb.data);
    assert.deepStrictEqual(copy.get("w").data, w.data);
    assert.deepStrictEqual(opt2.moments(copy.get("emb")), opt.moments(emb));
    // the export is a copy: later steps do not change it
    assert.equal(state.t, 2);
    assert.throws(() => new Adam({ lr: 1, beta1: 0.5 }).importState(state, copy), /beta1/);
    assert.throws(() => opt2.exportState(store), /not the store's parameter/);
  });
});

describe("EarlyStopping state", () => {
  it("a restored rule gives the same verdicts as the original", () => {
    const a = new EarlyStopping(2);
    a.update(0.1, 2);
    a.update(0.3, 4);
    a.update(0.3, 6); // tie: checkpoint, first best stays at validation 1
    const b = new EarlyStopping(2);
    b.importState(a.exportState());
    assert.deepEqual(b.exportState(), { stopStep: 2, validations: 3, bestValue: 0.3, firstBest: 1, bestEpoch: 6 });
    // validation 3: 3 - 1 = 2 >= stopStep -> stop, on both
    assert.deepEqual(b.update(0.2, 8), a.update(0.2, 8));
    assert.deepEqual(a.update(0.2, 10), { checkpoint: false, improved: false, stop: true });
    assert.throws(() => new EarlyStopping(3).importState(a.exportState()), /stopStep/);
    assert.throws(() => new EarlyStopping(2).importState({ ...a.exportState(), firstBest: 9 }), /firstBest/);
  });
});

describe("checkpoint file", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-ckpt-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function sample(): Checkpoint {
    const state: CheckpointState = {
      runKey: "k".repeat(64),
      seed: 3,
      method: "normal",
      settings: SETTINGS,
      epoch: 2,
      iteration: 40,
      phase: "normal",
      stopped: false,
      // a NaN loss (no batches) and a -0 must come back as themselves
      epochs: [
        { epoch: 1, phase: "normal", loss: NaN, seconds: 0.5 },
        { epoch: 2, phase: "normal", loss: 0.25, seconds: 0.5, valid: { "recall@5": 0.1, "recall@20": -0 }, foo: [1, 2] },
      ],
      stopper: new EarlyStopping(50).exportState(), // bestValue -Infinity
      best: null,
      rng: { model: new Rng(1).getState() },
      adam: { t: 40, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, moments: [] },
      seconds: 1.5,
      resumedFrom: [],
    };
    const arrays = new Map<string, Float32Array>([
      ["param/a", Float32Array.from([1.5, -2, 3e-8, NaN])],
      ["param/b", new Float32Array(0)],
      ["param/c", Float32Array.from([0.1])],
    ]);
    return { state, arrays };
  }

  it("round-trips the header (NaN, -Infinity, -0 included) and the arrays bit for bit", () => {
    const file = path.join(dir, "a.ckpt");
    const c = sample();
    writeCheckpoint(file, c);
    assert.deepEqual(fs.readdirSync(dir), ["a.ckpt"], "no temp file left behind");
    const back = readCheckpoint(file, c.state.runKey);
    assert.deepStrictEqual(back.state, c.state);
    assert.ok(Object.is(back.state.stopper.bestValue, -Infinity));
    assert.ok(Object.is((back.state.epochs[1].valid as Record<string, number>)["recall@20"], -0));
    assert.deepStrictEqual([...back.arrays.keys()], ["param/a", "param/b", "param/c"]);
    for (const [k, v] of c.arrays) assert.deepStrictEqual(Buffer.from(back.arrays.get(k)!.buffer), Buffer.from(v.buffer), k);
    // header 12 bytes + padded JSON + payload of 4 + 0 + 1 float32 values
    const size = fs.statSync(file).size;
    assert.equal(size % 4, 0);
    assert.equal(size - 12 - fs.readFileSync(file).readUInt32LE(8), 5 * 4);
  });

  it("names the file and the field when the checkpoint is foreign, old, truncated or corrupt", () => {
    const file = path.join(dir, "b.ckpt");
    const c = sample();
    writeCheckpoint(file, c);
    const good = fs.readFileSync(file);
    const named = (field: string) => (err: unknown) => err instanceof DataError && err.message.includes(file) && err.message.includes(`field '${field}'`);

    assert.throws(() => readCheckpoint(file, "x".repeat(64)), named("runKey"));

    const text = good.toString("latin1");
    fs.writeFileSync(file, Buffer.from(text.replace(`"format":${CHECKPOINT_FORMAT}`, `"format":9`), "latin1"));
    assert.throws(() => readCheckpoint(file, c.state.runKey), named("format"));

    // same length, so the header length stays right: only the field is wrong
    fs.writeFileSync(file, Buffer.from(text.replace(`"iteration":40`, `"iteration":-4`), "latin1"));
    assert.throws(() => readCheckpoint(file, c.state.runKey), named("iteration"));

    fs.writeFileSync(file, good.subarray(0, good.length - 4));
    assert.throws(() => readCheckpoint(file, c.state.runKey), named("payload"));

    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] ^= 0x01;
    fs.writeFileSync(file, flipped);
    assert.throws(() => readCheckpoint(file, c.state.runKey), named("payload.sha256"));

    fs.writeFileSync(file, "{}");
    assert.throws(() => readCheckpoint(file, c.state.runKey), named("(magic)"));
  });
});

describe("resuming a training run", () => {
  let data: Dataset;
  let dir: string;
  before(async () => {
    await initBackend("wasm");
    data = loadDataset("synthetic", { preset: "quick" });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-resume-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function opts(createModel: ModelFactory, extra: Partial<TrainOptions> = {}): TrainOptions {
    return { dataset: data, createModel, method: normalMethod(), settings: SETTINGS, seed: 9, ...extra };
  }

  it("MF (BPR): killed twice, resumed twice, the same result as one uninterrupted run", async () => {
    const whole = await train(opts(mf));
    const file = path.join(dir, "mf.ckpt");
    const checkpoint = { path: file, runKey: "mf-run" };
    // killed at the end of epoch 3: the last checkpoint is from epoch 2 (validations after 2, 4, 6)
    await assert.rejects(train(opts(mf, { checkpoint, onEvent: dieAfter(3) })), /killed after epoch 3/);
    assert.equal(readCheckpoint(file, "mf-run").state.epoch, 2);
    // the second segment replays epoch 3, saves after 4, and is killed at its end
    const second: TrainEvent[] = [];
    await assert.rejects(train(opts(mf, { checkpoint, onEvent: dieAfter(4, second) })), /killed after epoch 4/);
    assert.deepEqual(second.filter((e) => e.type === "resume"), [{ type: "resume", epoch: 2, path: file }]);
    assert.equal(started(second)[0], 3);
    assert.deepEqual(readCheckpoint(file, "mf-run").state.resumedFrom, [2]);
    const third: TrainEvent[] = [];
    const resumed = await train(opts(mf, { checkpoint, onEvent: (e) => void third.push(e) }));
    assert.deepEqual(resumed.resumedFrom, [2, 4]);
    assert.deepEqual(whole.resumedFrom, []);
    assert.deepEqual(started(third), [5, 6]);
    assert.ok(whole.best !== null);
    assertSameRun(whole, resumed);
    // the checkpoint after the last epoch says where the run ended
    assert.equal(readCheckpoint(file, "mf-run").state.epoch, 6);
  });

  it("CDAE (BCE, input corruption from the forward stream): resumed mid-run, the same result", async () => {
    const whole = await train(opts(cdae));
    const checkpoint = { path: path.join(dir, "cdae.ckpt"), runKey: "cdae-run" };
    await assert.rejects(train(opts(cdae, { checkpoint, onEvent: dieAfter(4) })), /killed/);
    // the forward stream has moved (corruption masks were drawn), so restoring it matters here
    assert.notDeepEqual(readCheckpoint(checkpoint.path, "cdae-run").state.rng.forward, seedStreams(9).forward.getState());
    const resumed = await train(opts(cdae, { checkpoint }));
    assert.deepEqual(resumed.resumedFrom, [4]);
    assertSameRun(whole, resumed);
  });

  it("a run that stopped at its last checkpoint resumes straight to the test", async () => {
    const stopAt4: Method = { name: "stop-at-4", resumable: true, afterEpoch: (_ctx, log) => ({ stop: log.epoch === 4, fields: { seen: log.epoch } }) };
    const whole = await train(opts(mf, { method: stopAt4 }));
    assert.equal(whole.stoppedEarly, true);
    assert.equal(whole.epochs.length, 4);
    const checkpoint = { path: path.join(dir, "stop.ckpt"), runKey: "stop-run" };
    await assert.rejects(train(opts(mf, { method: stopAt4, checkpoint, onEvent: dieAfter(4) })), /killed/);
    const events: TrainEvent[] = [];
    const resumed = await train(opts(mf, { method: stopAt4, checkpoint, onEvent: (e) => void events.push(e) }));
    assert.deepEqual(started(events), []);
    assertSameRun(whole, resumed);
  });

  it("a method that is not resumable gets no checkpoint, and one note saying why", async () => {
    const file = path.join(dir, "stateful.ckpt");
    const stateful: Method = { name: "stateful" };
    const events: TrainEvent[] = [];
    await train(opts(mf, { method: stateful, settings: { ...SETTINGS, epochs: 2 }, checkpoint: { path: file, runKey: "s" }, onEvent: (e) => void events.push(e) }));
    assert.equal(fs.existsSync(file), false);
    const notes = events.filter((e): e is Extract<TrainEvent, { type: "note" }> => e.type === "note");
    assert.equal(notes.length, 1);
    assert.match(notes[0].text, /'stateful' is not resumable/);
  });

  it("a checkpoint of another run, or of other settings, is refused naming the field", async () => {
    const file = path.join(dir, "other.ckpt");
    await assert.rejects(train(opts(mf, { settings: { ...SETTINGS, epochs: 3 }, checkpoint: { path: file, runKey: "one" }, onEvent: dieAfter(3) })), /killed/);
    const named = (field: string) => (err: unknown) => err instanceof DataError && err.message.includes(file) && err.message.includes(`field '${field}'`);
    await assert.rejects(train(opts(mf, { settings: { ...SETTINGS, epochs: 3 }, checkpoint: { path: file, runKey: "two" } })), named("runKey"));
    await assert.rejects(train(opts(mf, { settings: { ...SETTINGS, epochs: 3, lr: 0.02 }, checkpoint: { path: file, runKey: "one" } })), named("settings.lr"));
    await assert.rejects(train(opts(mf, { settings: { ...SETTINGS, epochs: 3 }, seed: 10, checkpoint: { path: file, runKey: "one" } })), named("seed"));
    // another model (other parameter sizes) under the same key
    const wide: ModelFactory = (mc, rng) => createMF(mc, { dim: 4 }, rng);
    await assert.rejects(train(opts(wide, { settings: { ...SETTINGS, epochs: 3 }, checkpoint: { path: file, runKey: "one" } })), named("arrays"));
  });

  it("seedStreams lists every stream the checkpoint must carry", () => {
    // the checkpoint saves the streams by these names; a new stream must be added here on purpose
    assert.deepEqual(Object.keys(seedStreams(1)), ["model", "sampler", "shuffle", "forward", "method", "reset"]);
  });
});
