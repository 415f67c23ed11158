import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import type { Dataset } from "../../src/data/dataset";
import { loadDataset } from "../../src/data/registry";
import { evaluateSplit } from "../../src/eval/evaluate";
import { normalMethod } from "../../src/methods/normal";
import { createMF } from "../../src/models/mf";
import type { ParamStore } from "../../src/models/ops/embedding-table";
import type { TrainEvent } from "../../src/training/events";
import type { Method, TrainSettings } from "../../src/training/method";
import { seedStreams, train, type ModelFactory } from "../../src/training/trainer";
import { Rng } from "../../src/util/rng";

const mf: ModelFactory = (mc, rng) => createMF(mc, { dim: 16 }, rng);
const QUICK: TrainSettings = { epochs: 12, batchSize: 256, lr: 1e-2, evalFreq: 2, stopStep: 3, ks: [5, 20] };

describe("trainer", () => {
  let data: Dataset;
  before(async () => {
    await initBackend("wasm");
    data = loadDataset("synthetic", { preset: "quick" });
  });

  it("MF learns: test recall@20 well above random scores on the same protocol", async () => {
    const res = await train({ dataset: data, createModel: mf, method: normalMethod(), settings: QUICK, seed: 1 });
    const rng = new Rng(99);
    const random = await evaluateSplit((users) => Float32Array.from({ length: users.length * data.nItems }, () => rng.next()), data, "test", { ks: [5, 20] });
    // random ranking: about 20 / (300 - ~35 masked) = 0.075 of a user's test items in the top 20
    assert.ok(random.mean["recall@20"] > 0.04 && random.mean["recall@20"] < 0.12, `random recall@20 ${random.mean["recall@20"]}`);
    assert.ok(res.test.mean["recall@20"] > 2 * random.mean["recall@20"], `trained ${res.test.mean["recall@20"]} vs random ${random.mean["recall@20"]}`);
    assert.ok(res.epochs[res.epochs.length - 1].loss < 0.5 * res.epochs[0].loss, "the BPR loss falls");
  });

  it("is deterministic: same seed, identical losses and test metrics; another seed differs", async () => {
    const s = { ...QUICK, epochs: 4 };
    const a = await train({ dataset: data, createModel: mf, method: normalMethod(), settings: s, seed: 5 });
    const tensors = tf.memory().numTensors;
    const b = await train({ dataset: data, createModel: mf, method: normalMethod(), settings: s, seed: 5 });
    assert.equal(tf.memory().numTensors, tensors, "a whole run leaves no tensors behind");
    const c = await train({ dataset: data, createModel: mf, method: normalMethod(), settings: s, seed: 6 });
    assert.deepEqual(a.epochs.map((e) => e.loss), b.epochs.map((e) => e.loss));
    assert.equal(JSON.stringify(a.test.mean), JSON.stringify(b.test.mean));
    assert.deepEqual(a.test.perUser, b.test.perUser);
    assert.notDeepEqual(a.epochs.map((e) => e.loss), c.epochs.map((e) => e.loss));
  });

  it("calls the method's hooks and reports events in order", async () => {
    const calls: string[] = [];
    let objectiveSizes = 0;
    const method: Method = {
      name: "scripted",
      init: () => void calls.push("init"),
      beforeEpoch: (ctx, epoch) => {
        ctx.phase = `p${epoch}`;
        calls.push(`before${epoch}`);
      },
      objective: (losses, batch) => {
        objectiveSizes += batch.users.length;
        assert.equal(losses.shape[0], batch.users.length);
        return tf.mean(losses) as tf.Scalar;
      },
      validates: (_ctx, epoch) => epoch >= 2,
      afterEpoch: (ctx, log) => {
        calls.push(`after${log.epoch}:${log.valid ? "v" : "-"}`);
        return { stop: ctx.epoch === 3, fields: { foo: log.epoch * 10 } };
      },
    };
    const events: TrainEvent[] = [];
    const res = await train({ dataset: data, createModel: mf, method, settings: { ...QUICK, epochs: 10 }, seed: 2, onEvent: (e) => events.push(e) });
    assert.deepEqual(calls, ["init", "before1", "after1:-", "before2", "after2:v", "before3", "after3:v"]);
    assert.deepEqual(res.epochs.map((e) => [e.epoch, e.phase, e.foo, e.valid !== undefined]), [
      [1, "p1", 10, false],
      [2, "p2", 20, true],
      [3, "p3", 30, true],
    ]);
    assert.equal(res.stoppedEarly, true);
    // each epoch sees every training positive once (BPR: one row per positive)
    assert.equal(objectiveSizes, 3 * data.train.items.length);
    const kinds = events.map((e) => (e.type === "eval" ? `eval-${e.split}` : e.type)).filter((t) => t !== "batch" && t !== "eval-progress");
    assert.deepEqual(kinds, ["epoch-start", "epoch-end", "epoch-start", "eval-valid", "epoch-end", "epoch-start", "eval-valid", "epoch-end", "eval-test", "done"]);
    const batches = events.filter((e) => e.type === "batch");
    assert.equal(batches.length, 3 * Math.ceil(data.train.items.length / QUICK.batchSize));
    const last = batches[batches.length - 1];
    assert.ok(last.type === "batch" && last.iteration === batches.length);
  });

  it("tests the best checkpoint (last of equals), not the last parameters", async () => {
    const snaps = new Map<number, ParamStore>();
    const method: Method = { name: "snap", afterEpoch: (ctx, log) => void snaps.set(log.epoch, ctx.params.clone()) };
    const settings = { ...QUICK, lr: 0.05, epochs: 12, evalFreq: 1, stopStep: 2 };
    const res = await train({ dataset: data, createModel: mf, method, settings, seed: 3 });
    assert.ok(res.best !== null);
    const valid = res.epochs.filter((e) => e.valid).map((e) => [e.epoch, e.valid?.["recall@5"] ?? NaN] as const);
    const bestValue = Math.max(...valid.map(([, v]) => v));
    const bestEpochs = valid.filter(([, v]) => v === bestValue).map(([e]) => e);
    assert.equal(res.best.epoch, bestEpochs[bestEpochs.length - 1]);
    assert.equal(res.best.value, bestValue);
    assert.ok(res.best.epoch < res.epochs.length, "this seed should stop after its best epoch, so last != best");
    const snap = snaps.get(res.best.epoch);
    assert.ok(snap);
    for (const p of snap.list()) assert.deepEqual(res.params.get(p.name).data, p.data);
    const again = await evaluateSplit(res.model.scorer(snap), data, "test", { ks: [5, 20] });
    assert.deepEqual(again.mean, res.test.mean);
  });

  it("with no validation tests the last parameters; a replaced step is used as given", async () => {
    let last: ParamStore | undefined;
    const frozen: Method = {
      name: "frozen",
      validates: () => false,
      step: (batch) => ({ loss: 1, size: batch.users.length }), // never updates
      afterEpoch: (ctx) => void (last = ctx.params.clone()),
    };
    const res = await train({ dataset: data, createModel: mf, method: frozen, settings: { ...QUICK, epochs: 2 }, seed: 4 });
    assert.equal(res.best, null);
    assert.deepEqual(res.epochs.map((e) => e.loss), [1, 1]);
    assert.ok(last);
    // the parameters are still the initial draw from the seed's model stream
    const init = createMF({ nUsers: data.nUsers, nItems: data.nItems, train: data.train }, { dim: 16 }, seedStreams(4).model);
    for (const p of init.params.list()) assert.deepEqual(res.params.get(p.name).data, p.data);
    for (const p of last.list()) assert.deepEqual(res.params.get(p.name).data, p.data);
  });

  it("resetModel starts a fresh model and forgets the earlier checkpoints; ctx.losses covers any examples", async () => {
    let before: ParamStore | undefined;
    let after: ParamStore | undefined;
    let lossCount = 0;
    const method: Method = {
      name: "rounds",
      beforeEpoch: (ctx, epoch) => {
        if (epoch === 3) {
          before = ctx.params;
          ctx.resetModel();
          after = ctx.params;
        }
      },
      afterEpoch: (ctx) => {
        const l = ctx.losses(ctx.defaultExamples());
        lossCount = l.length;
        assert.ok(l.every((x) => Number.isFinite(x) && x > 0));
      },
    };
    const res = await train({ dataset: data, createModel: mf, method, settings: { ...QUICK, epochs: 4, evalFreq: 1, stopStep: 10 }, seed: 9 });
    assert.ok(before && after && before !== after);
    assert.notDeepEqual(after.get("userEmb").data, before.get("userEmb").data);
    assert.equal(lossCount, data.train.items.length);
    // only validations after the reset (epochs 3, 4) can be the restored checkpoint
    assert.ok(res.best !== null && res.best.epoch >= 3);
    const v = (e: number) => res.epochs[e - 1].valid?.["recall@5"] ?? NaN;
    assert.equal(res.best.value, Math.max(v(3), v(4)));
  });

  it("rejects a method field that would overwrite the log's own", async () => {
    const bad: Method = { name: "bad", afterEpoch: () => ({ fields: { loss: 3 } }) };
    await assert.rejects(train({ dataset: data, createModel: mf, method: bad, settings: { ...QUICK, epochs: 1 }, seed: 1 }), /field 'loss'/);
  });
});
