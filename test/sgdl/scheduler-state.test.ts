/**
 * Scheduler.exportState/importState: k steps, export, import into a fresh
 * scheduler of the same config (drawn from another seed, so the import must
 * replace phi), then m more steps on both give bit-identical selections,
 * logits, phi and states, for every variant (lstm1 also through its
 * per-epoch re-draw); an export between a draw and its step continues that
 * step; the state is plain data and a copy; a mismatched or damaged state is
 * refused with the field named and leaves the scheduler as it was.
 */
import { before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { createScheduler, type Scheduler, type SchedulerConfig, type SchedulerDraw, type SchedulerKind, type SchedulerState } from "../../src/methods/sgdl/scheduler";
import { Rng } from "../../src/util/rng";

const B = 16;

/** Step k's features, upstream gradient and ids (ids overlap across steps). */
function inputs(f: number, k: number): { x: tf.Tensor2D; g: Float32Array; ids: Int32Array } {
  const rng = new Rng(500 + k);
  const x = tf.tensor2d(Float32Array.from({ length: B * f }, (_, j) => (j % f === 0 ? 2 * rng.next() : 2 * rng.next() - 1)), [B, f]);
  const g = Float32Array.from({ length: B * B }, () => rng.normal());
  const ids = rng.shuffle(Int32Array.from({ length: B }, (_, j) => 8 * k + j));
  return { x, g, ids };
}

/** A copy of an Rng at the same point of its stream. */
function cloneRng(r: Rng): Rng {
  const c = new Rng(0);
  c.setState(r.getState());
  return c;
}

/** One Phase II step of the scheduler: draw, step on dL/dS, advance; lstm1 starts an epoch every third step. */
function step(s: Scheduler, k: number, draws: Rng, epochs: Rng): SchedulerDraw {
  if (k % 3 === 2) s.startEpoch(epochs);
  const { x, g, ids } = inputs(s.config.features, k);
  const d = s.draw(x, { draws: B, tau: 0.3, rng: draws, ids });
  s.trainFromSelectionGrad(d, g.subarray(0, d.selection.shape[0] * B)); // topf: S is [F x B]
  s.advance();
  x.dispose();
  return d;
}

/** Whether v is plain data: numbers, strings, booleans, null, lists, plain objects, Float32Array / Int32Array. */
function plainData(v: unknown, path: string): void {
  if (v === null || typeof v === "number" || typeof v === "string" || typeof v === "boolean") return;
  if (v instanceof Float32Array || v instanceof Int32Array) return;
  if (Array.isArray(v)) return v.forEach((x, j) => plainData(x, `${path}[${j}]`));
  assert.ok(typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype, `${path} is not plain data`);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) plainData(x, `${path}.${k}`);
}

describe("scheduler state export/import (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  const cases: Array<Partial<SchedulerConfig> & { kind: SchedulerKind }> = [
    { kind: "lstm", hidden: 8 },
    { kind: "lstm", hidden: 8, stateKey: "position" },
    { kind: "lstm1" },
    { kind: "mlp", hidden: 8, lr: 1e-2 },
    { kind: "topf" },
  ];
  for (const cfg of cases) {
    test(`${cfg.kind}${cfg.stateKey === "position" ? " (position)" : ""}: 4 steps, export, import into a fresh one, 5 more steps on both: bit-identical`, () => {
      const a = createScheduler(cfg, new Rng(1));
      const draws = new Rng(2);
      const epochs = new Rng(3);
      for (let k = 0; k < 4; k++) step(a, k, draws, epochs).selection.dispose();
      const state = a.exportState();
      plainData(state, "state");
      const b = createScheduler(cfg, new Rng(99));
      if (cfg.kind !== "topf") {
        assert.notDeepEqual(b.params.list()[0].data, a.params.list()[0].data, "the fresh scheduler starts elsewhere");
      }
      b.importState(state);
      assert.deepEqual(b.exportState(), state, "the import holds the exported state");
      const drawsB = cloneRng(draws);
      const epochsB = cloneRng(epochs);
      const frozen = state.params.map((p) => p.data.slice());
      for (let k = 4; k < 9; k++) {
        const da = step(a, k, draws, epochs);
        const db = step(b, k, drawsB, epochsB);
        assert.deepEqual(Array.from(db.picks), Array.from(da.picks), `step ${k}: picks`);
        assert.deepEqual(db.selection.arraySync(), da.selection.arraySync(), `step ${k}: S`);
        assert.deepEqual(Array.from(db.logits), Array.from(da.logits), `step ${k}: logits`);
        for (const p of a.params.list()) assert.deepEqual(b.params.get(p.name).data, p.data, `step ${k}: ${p.name}`);
        tf.dispose([da.selection, db.selection]);
      }
      assert.deepEqual(b.exportState(), a.exportState(), "the whole state after the 5 steps");
      if (cfg.kind !== "topf") {
        assert.ok(a.params.list().some((p) => p.data.some((v, j) => v !== state.params.find((q) => q.name === p.name)?.data[j])), "phi moved after the export");
        state.params.forEach((p, j) => assert.deepEqual(p.data, frozen[j], `the exported ${p.name} is a copy`));
      }
      if (cfg.kind === "lstm") {
        const rows = cfg.stateKey === "position" ? B : 8 * 3 + B; // ids of steps 0..3 reach 8 * 3 + 15
        assert.ok(state.carried !== null && state.carried.rows === rows && state.carried.h.some((v) => v !== 0), "the carried state is in the export");
        assert.equal(state.pending, null, "between steps nothing is pending");
      }
    });
  }

  test("lstm: an export between a draw and its step continues that step (the uncommitted state and the draw's replay)", () => {
    const a = createScheduler({ kind: "lstm", hidden: 8 }, new Rng(1));
    const draws = new Rng(2);
    const epochs = new Rng(3);
    for (let k = 0; k < 2; k++) step(a, k, draws, epochs).selection.dispose();
    const { x, g, ids } = inputs(2, 2);
    const d = a.draw(x, { draws: B, tau: 0.3, rng: draws, ids });
    const state = a.exportState();
    assert.ok(state.pending !== null && state.pending.keys.length === B, "the draw's next state is pending");
    const b = createScheduler({ kind: "lstm", hidden: 8 }, new Rng(7));
    b.importState(state);
    a.trainFromSelectionGrad(d, g);
    b.trainFromSelectionGrad(d, g); // b recomputes the draw's forward pass at the same phi and state
    a.advance();
    b.advance();
    assert.deepEqual(b.exportState(), a.exportState());
    tf.dispose([x, d.selection]);
  });

  test("a mismatched or damaged state is refused, naming the field, and changes nothing", () => {
    const a = createScheduler({ kind: "lstm", hidden: 8 }, new Rng(1));
    const draws = new Rng(2);
    for (let k = 0; k < 2; k++) step(a, k, draws, new Rng(3)).selection.dispose();
    const good = a.exportState();
    const target = createScheduler({ kind: "lstm", hidden: 8 }, new Rng(5));
    const before = target.exportState();
    const refuse = (s: SchedulerState, into: Scheduler, pattern: RegExp): void => {
      const was = into.exportState();
      assert.throws(() => into.importState(s), pattern);
      assert.deepEqual(into.exportState(), was, `unchanged after refusing ${pattern}`);
    };
    refuse(good, createScheduler({ kind: "lstm", hidden: 9 }, new Rng(5)), /scheduler.importState: config.hidden is 8 in the state, 9 in this scheduler/);
    refuse(good, createScheduler({ kind: "lstm", hidden: 8, lr: 5e-3 }, new Rng(5)), /config.lr is 0.001 in the state, 0.005/);
    refuse(good, createScheduler({ kind: "lstm", hidden: 8, stateKey: "position" }, new Rng(5)), /config.stateKey is "sample" in the state, "position"/);
    refuse(good, createScheduler({ kind: "mlp", hidden: 8 }, new Rng(5)), /config.kind is "lstm" in the state, "mlp"/);
    refuse({ ...good, format: "sgdl-scheduler/0" as SchedulerState["format"] }, target, /format is 'sgdl-scheduler\/0', expected 'sgdl-scheduler\/1'/);
    const params = good.params.map((p) => ({ ...p }));
    params[2] = { ...params[2], data: params[2].data.slice(1) };
    refuse({ ...good, params }, target, /params\[2\].data \('lstm.b'\) has 31 values, the parameter has 32/);
    refuse({ ...good, params: good.params.map((p, j) => (j === 1 ? { ...p, name: "lstm.wq" } : p)) }, target, /params\[1\].name is 'lstm.wq', expected 'lstm.wh'/);
    refuse({ ...good, params: good.params.slice(1) }, target, /params has 4 entries, this scheduler 5/);
    refuse({ ...good, carried: good.carried === null ? null : { ...good.carried, h: good.carried.h.slice(1) } }, target, /carried.h has \d+ values, expected \d+ x 8/);
    refuse({ ...good, carried: null }, target, /carried is missing \(kind 'lstm'\)/);
    refuse({ ...good, pending: { keys: Int32Array.of(-1), h: new Float32Array(8), c: new Float32Array(8) } }, target, /pending.keys holds the negative key -1/);
    refuse({ ...good, adam: { ...good.adam, beta1: 0.5 } }, target, /scheduler.importState: adam: Adam.importState: beta1 is 0.5 in the state, 0.9/);
    const mlp = createScheduler({ kind: "mlp", hidden: 8 }, new Rng(5));
    refuse({ ...mlp.exportState(), carried: good.carried }, mlp, /carried must be null for kind 'mlp'/);
    assert.deepEqual(target.exportState(), before);
    target.importState(good);
    assert.deepEqual(target.exportState(), good, "the good state imports");
  });
});
