import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../src/backend";
import type { Dataset } from "../../src/data/dataset";
import { loadDataset } from "../../src/data/registry";
import { normalMethod } from "../../src/methods/normal";
import { createMF } from "../../src/models/mf";
import { CHECKPOINT_FORMAT, readCheckpoint, writeCheckpoint, type Checkpoint } from "../../src/training/checkpoint";
import { EarlyStopping } from "../../src/training/early-stopping";
import type { Method, TrainSettings } from "../../src/training/method";
import { MethodStateError, StateReader, StateWriter, type MethodState } from "../../src/training/method-state";
import { train, type ModelFactory, type TrainOptions, type TrainResult } from "../../src/training/trainer";
import { DataError } from "../../src/util/errors";
import { Rng } from "../../src/util/rng";
import { dieAfter, paramsHex, withoutSeconds } from "./interrupted-run";

const mf: ModelFactory = (mc, rng) => createMF(mc, { dim: 8 }, rng);
const SETTINGS: TrainSettings = { epochs: 6, batchSize: 512, lr: 1e-2, evalFreq: 2, stopStep: 50, ks: [5, 20] };

/** Everything but wall time must be identical, bit for bit. */
function assertSameRun(a: TrainResult, b: TrainResult): void {
  assert.deepStrictEqual(withoutSeconds(b.epochs), withoutSeconds(a.epochs));
  assert.deepStrictEqual(b.best, a.best);
  assert.deepStrictEqual(b.test.perUser, a.test.perUser);
  assert.deepStrictEqual(paramsHex(b), paramsHex(a));
}

/** A DataError naming the file and the field. */
const named = (file: string, field: string) => (err: unknown) => err instanceof DataError && err.message.includes(file) && err.message.includes(`field '${field}'`);

describe("method state: StateWriter / StateReader", () => {
  it("round-trips JSON, streams and typed arrays of every type, nested; arrays are named by path and copied", () => {
    const w = new StateWriter();
    const r0 = new Rng(5);
    r0.next();
    w.set("count", 3);
    w.set("rate", NaN);
    w.rng("stream", r0);
    const hist = Uint32Array.from([0xffffffff, 1, 0]);
    const child = w.child("phase1");
    child.array("hist", hist);
    child.pack("adam", { t: 2, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, moments: [{ name: "w", m: Float32Array.from([1, -0]), v: Float32Array.from([2, 3]) }] });
    w.pack("mixed", { a: [Int8Array.from([-1, 1]), Uint8Array.from([255])], b: Float64Array.from([Math.PI]), c: Int32Array.from([-(2 ** 31)]), d: null, e: undefined });
    hist[0] = 7; // the state holds a copy
    const s = w.state();
    assert.deepEqual([...s.arrays.keys()].sort(), ["mixed.a[0]", "mixed.a[1]", "mixed.b", "mixed.c", "phase1.adam.moments[0].m", "phase1.adam.moments[0].v", "phase1.hist"]);
    assert.deepEqual(s.json.phase1, { hist: { $array: "phase1.hist" }, adam: { t: 2, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, moments: [{ name: "w", m: { $array: "phase1.adam.moments[0].m" }, v: { $array: "phase1.adam.moments[0].v" } }] } });

    const r = new StateReader(s);
    assert.equal(r.int("count"), 3);
    assert.ok(Number.isNaN(r.num("rate")));
    const r1 = new Rng(99);
    r.rng("stream", r1);
    assert.equal(r1.next(), r0.next(), "the stream continues where it was");
    const p1 = r.child("phase1");
    assert.deepEqual(Array.from(p1.array("hist", Uint32Array, 3)), [0xffffffff, 1, 0]);
    const adam = p1.adam("adam");
    assert.ok(Object.is(adam.moments[0].m[1], -0));
    const mixed = r.unpack("mixed") as { a: [Int8Array, Uint8Array]; b: Float64Array; c: Int32Array; d: null };
    assert.deepStrictEqual(mixed, { a: [Int8Array.from([-1, 1]), Uint8Array.from([255])], b: Float64Array.from([Math.PI]), c: Int32Array.from([-(2 ** 31)]), d: null });
  });

  it("names the field of anything missing or of the wrong type", () => {
    const w = new StateWriter();
    w.set("n", "3");
    w.child("inner").array("a", Float32Array.from([1, 2]));
    const s = w.state();
    const r = new StateReader(s);
    const field = (f: string) => (err: unknown) => err instanceof MethodStateError && err.field === f;
    assert.throws(() => r.num("n"), field("methodState.n"));
    assert.throws(() => r.int("missing"), field("methodState.missing"));
    assert.throws(() => r.child("inner").array("a", Int32Array), field("methodState.inner.a"));
    assert.throws(() => r.child("inner").array("a", Float32Array, 3), field("methodState.inner.a"));
    s.arrays.delete("inner.a");
    assert.throws(() => r.child("inner").array("a", Float32Array), field("method/inner.a"));
    assert.throws(() => r.child("n"), field("methodState.n"));
    assert.throws(() => new StateWriter().pack("m", new Map()), /not plain data/);
    assert.throws(() => r.wrap("x", () => { throw new RangeError("bad value"); }), (err: unknown) => field("methodState.x")(err) && /bad value/.test((err as Error).message));
  });
});

describe("checkpoint format 2: typed arrays and the method state", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-mstate-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function sample(): Checkpoint {
    return {
      state: {
        runKey: "k".repeat(64),
        seed: 3,
        method: "m",
        settings: SETTINGS,
        epoch: 1,
        iteration: 2,
        phase: "normal",
        stopped: false,
        epochs: [{ epoch: 1, phase: "normal", loss: 1, seconds: 1 }],
        stopper: new EarlyStopping(50).exportState(),
        best: null,
        rng: { model: new Rng(1).getState() },
        adam: { t: 2, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, moments: [] },
        seconds: 1,
        resumedFrom: [],
        methodState: { x: { $array: "x" }, inf: -Infinity },
      },
      arrays: new Map<string, Float32Array | Float64Array | Int32Array | Uint32Array | Int8Array | Uint8Array>([
        ["param/a", Float32Array.from([1.5])],
        ["method/u8", Uint8Array.from([1, 2, 3])], // 3 bytes: the next array starts unaligned
        ["method/i32", Int32Array.from([-5, 2 ** 31 - 1])],
        ["method/u32", Uint32Array.from([2 ** 32 - 1])],
        ["method/f64", Float64Array.from([1 / 3])],
        ["method/i8", Int8Array.from([-128])],
      ]),
    };
  }

  it("keeps each array's type and bits and the method state's JSON (-Infinity included)", () => {
    const file = path.join(dir, "typed.ckpt");
    const c = sample();
    writeCheckpoint(file, c);
    const back = readCheckpoint(file, c.state.runKey);
    assert.deepStrictEqual(back.state, c.state);
    assert.deepStrictEqual(back.arrays, c.arrays);
    // payload: 4 + 3 + 8 + 4 + 8 + 1 = 28 bytes
    const buf = fs.readFileSync(file);
    assert.equal(buf.length - 12 - buf.readUInt32LE(8), 28);
    assert.equal(CHECKPOINT_FORMAT, 2);
  });

  it("refuses an unknown array type, naming the field", () => {
    const file = path.join(dir, "dtype.ckpt");
    writeCheckpoint(file, sample());
    const text = fs.readFileSync(file).toString("latin1");
    // "int8" -> "int9": same length
    fs.writeFileSync(file, Buffer.from(text.replace(`"dtype":"int8"`, `"dtype":"int9"`), "latin1"));
    assert.throws(() => readCheckpoint(file, "k".repeat(64)), named(file, "arrays[5].dtype"));
  });
});

/** Writes a checkpoint as format 1 did: no array types (all float32), no method state. */
function writeFormat1(file: string, ckpt: Checkpoint): void {
  const arrays = [...ckpt.arrays];
  for (const [name, a] of arrays) assert.ok(a instanceof Float32Array, name);
  const payload = Buffer.concat(arrays.map(([, a]) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  const { methodState: _m, ...state } = ckpt.state;
  const header = {
    format: 1,
    endianness: os.endianness(),
    ...state,
    arrays: arrays.map(([name, a]) => ({ name, length: a.length })),
    payload: { bytes: payload.length, sha256: createHash("sha256").update(payload).digest("hex") },
  };
  // the state holds -Infinity (early stopping before a validation): as the writer encodes it
  let text = JSON.stringify(header, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v));
  while (text.length % 4 !== 0) text += " ";
  const len = Buffer.alloc(4);
  len.writeUInt32LE(text.length, 0);
  fs.writeFileSync(file, Buffer.concat([Buffer.from("SGDLCKPT", "ascii"), len, Buffer.from(text, "utf8"), payload]));
}

describe("resuming with the method's own state", () => {
  let data: Dataset;
  let dir: string;
  before(async () => {
    await initBackend("wasm");
    data = loadDataset("synthetic", { preset: "quick" });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-mresume-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * A method with state of its own: it counts the batches it has seen and
   * keeps a running sum of the epoch losses in a Float64Array, both written
   * into every epoch's log, and a draw of ctx.rng per epoch; checkpoints after
   * every epoch (no validation needed).
   */
  function counter(): Method & { batches(): number } {
    let batches = 0;
    let sums = new Float64Array(1);
    return {
      name: "counter",
      resumable: true,
      batches: () => batches,
      step: (batch, _ctx, plainStep) => {
        batches++;
        return plainStep(batch);
      },
      afterEpoch: (ctx, log) => {
        sums[0] += log.loss;
        return { fields: { batchesSoFar: batches, lossSum: sums[0], draw: ctx.rng.next() } };
      },
      checkpointAfter: () => true,
      exportState: () => {
        const w = new StateWriter();
        w.set("batches", batches);
        w.array("sums", sums);
        return w.state();
      },
      importState: (state: MethodState) => {
        const r = new StateReader(state);
        batches = r.int("batches");
        sums = r.array("sums", Float64Array, 1);
      },
    };
  }

  function opts(method: Method, extra: Partial<TrainOptions> = {}): TrainOptions {
    return { dataset: data, createModel: mf, method, settings: SETTINGS, seed: 9, ...extra };
  }

  it("a stateful method killed after an unvalidated epoch resumes from it with the same result", async () => {
    const whole = await train(opts(counter()));
    const file = path.join(dir, "counter.ckpt");
    const checkpoint = { path: file, runKey: "counter-run" };
    await assert.rejects(train(opts(counter(), { checkpoint, onEvent: dieAfter(3) })), /killed after epoch 3/);
    const saved = readCheckpoint(file, "counter-run");
    assert.equal(saved.state.epoch, 3, "checkpointAfter: saved after epoch 3 although only 2, 4, 6 validate");
    const batchesPerEpoch = Math.ceil(6598 / 512); // 6,598 training positives (synthetic quick), batch 512 -> 13
    assert.equal(saved.state.methodState?.batches, 3 * batchesPerEpoch);
    assert.deepEqual([...saved.arrays.keys()].filter((k) => k.startsWith("method/")), ["method/sums"]);
    const m = counter();
    const resumed = await train(opts(m, { checkpoint }));
    assert.deepEqual(resumed.resumedFrom, [3]);
    assert.equal(m.batches(), 6 * batchesPerEpoch, "the count went on from the checkpoint's");
    assertSameRun(whole, resumed);
  });

  it("a checkpoint without the method's state, or with state for a method that keeps none, is refused naming 'methodState'", async () => {
    const file = path.join(dir, "mismatch.ckpt");
    // written by a resumable method without state under the same name
    const plain: Method = { name: "counter", resumable: true, checkpointAfter: () => true };
    await assert.rejects(train(opts(plain, { checkpoint: { path: file, runKey: "mm" }, onEvent: dieAfter(1) })), /killed/);
    await assert.rejects(train(opts(counter(), { checkpoint: { path: file, runKey: "mm" } })), named(file, "methodState"));
    fs.rmSync(file);
    await assert.rejects(train(opts(counter(), { checkpoint: { path: file, runKey: "mm" }, onEvent: dieAfter(1) })), /killed/);
    await assert.rejects(train(opts(plain, { checkpoint: { path: file, runKey: "mm" } })), named(file, "methodState"));
    // a bad value inside the method's state: the reader's field
    const c = readCheckpoint(file, "mm");
    writeCheckpoint(file, { ...c, state: { ...c.state, methodState: { ...c.state.methodState, batches: -1 } } });
    await assert.rejects(train(opts(counter(), { checkpoint: { path: file, runKey: "mm" } })), named(file, "methodState.batches"));
  });

  it("a method with exportState but no importState is a programming error", async () => {
    const half: Method = { name: "half", resumable: true, exportState: () => new StateWriter().state() };
    await assert.rejects(train(opts(half, { checkpoint: { path: path.join(dir, "half.ckpt"), runKey: "h" } })), /needs both exportState and importState/);
  });

  it("a format 1 checkpoint of a normal run still resumes, with the same result", async () => {
    const whole = await train(opts(normalMethod()));
    const file = path.join(dir, "v1.ckpt");
    const checkpoint = { path: file, runKey: "v1-run" };
    await assert.rejects(train(opts(normalMethod(), { checkpoint, onEvent: dieAfter(4) })), /killed/);
    writeFormat1(file, readCheckpoint(file, "v1-run"));
    assert.equal(JSON.parse(fs.readFileSync(file).toString("utf8", 12, 12 + fs.readFileSync(file).readUInt32LE(8))).format, 1);
    const resumed = await train(opts(normalMethod(), { checkpoint }));
    assert.deepEqual(resumed.resumedFrom, [4]);
    assertSameRun(whole, resumed);
  });
});
