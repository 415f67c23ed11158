import { describe, it, before, test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend";
import type { Dataset } from "../../src/data/dataset";
import { fromTriples, size } from "../../src/data/interactions";
import { loadDataset } from "../../src/data/registry";
import { NegativeSampler } from "../../src/data/sampler";
import { createMethod } from "../../src/methods/registry";
import { MemorizedBatches } from "../../src/methods/sgdl/memorized-batches";
import { Phase2EpochStats, rowNoise } from "../../src/methods/sgdl/phase2-stats";
import type { Batch } from "../../src/models/model";
import { createModel } from "../../src/models/registry";
import type { EpochLog, TrainEvent } from "../../src/training/events";
import type { TrainSettings } from "../../src/training/method";
import { train, type ModelFactory, type TrainResult } from "../../src/training/trainer";
import { Rng } from "../../src/util/rng";

// M: user 0 -> items 1 (noisy), 3; user 1 -> items 0, 2 (noisy), 4; 6 items
const M = fromTriples(2, 6, [0, 0, 1, 1, 1], [1, 3, 0, 2, 4], [1, 0, 0, 1, 0]);
const OWNER = [0, 0, 1, 1, 1];
const ITEM = [1, 3, 0, 2, 4];

test("memorized batches (BPR): one triple per interaction, fresh negatives, shuffled, taken in order with wrap-around", () => {
  const mb = new MemorizedBatches(M, "bpr", new NegativeSampler(M, 1), new Rng(2));
  mb.startEpoch();
  const a = mb.next(3);
  const b = mb.next(3); // 5 rows: b holds rows 3, 4 and then row 0 again
  const c = mb.next(3);
  const rows = (x: { batch: Batch; ids: Int32Array; noisy: Int8Array }) => Array.from(x.ids);
  const order = [...rows(a), ...rows(b).slice(0, 2)];
  assert.deepEqual([...order].sort(), [0, 1, 2, 3, 4], "every interaction once per pass");
  assert.deepEqual(rows(b)[2], order[0], "wraps to the start");
  assert.deepEqual(rows(c), order.slice(1, 4), "continues in order after the wrap");
  for (const x of [a, b, c]) {
    const batch = x.batch;
    assert.equal(batch.kind, "bpr");
    if (batch.kind !== "bpr") return;
    x.ids.forEach((id, n) => {
      assert.equal(batch.users[n], OWNER[id]);
      assert.equal(batch.pos[n], ITEM[id]);
      assert.equal(x.noisy[n], M.noisy[id]);
      const u = OWNER[id];
      assert.ok(!ITEM.filter((_, k) => OWNER[k] === u).includes(batch.neg[n]), "a negative is never one of the user's positives");
    });
  }
  // a new epoch: new negatives and order (with these seeds both differ), cursor back to the start
  const before = a.batch.kind === "bpr" ? Array.from(a.batch.neg) : [];
  mb.startEpoch();
  const d = mb.next(5);
  assert.deepEqual([...d.ids].sort(), [0, 1, 2, 3, 4]);
  assert.notDeepEqual(Array.from(d.ids.subarray(0, 3)).concat(d.batch.kind === "bpr" ? Array.from(d.batch.neg.subarray(0, 3)) : []), order.slice(0, 3).concat(before));
});

test("memorized batches (BCE): the positive and its negative are two rows; negatives carry the flag -1", () => {
  const mb = new MemorizedBatches(M, "bce", new NegativeSampler(M, 3), new Rng(4));
  const x = mb.next(10);
  const batch = x.batch;
  assert.equal(batch.kind, "bce");
  if (batch.kind !== "bce") return;
  assert.deepEqual([...x.ids].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  x.ids.forEach((id, n) => {
    const k = id >> 1;
    assert.equal(batch.users[n], OWNER[k]);
    if (id % 2 === 0) {
      assert.equal(batch.labels[n], 1);
      assert.equal(batch.items[n], ITEM[k]);
      assert.equal(x.noisy[n], M.noisy[k]);
    } else {
      assert.equal(batch.labels[n], 0);
      assert.equal(x.noisy[n], -1);
    }
  });
  assert.throws(() => new MemorizedBatches(fromTriples(2, 6, [], [], []), "bce", new NegativeSampler(M, 3), new Rng(4)), /memorized set is empty/);
});

test("rowNoise: the training flag of (user, positive), -1 for a negative row or a non-interaction", () => {
  const bpr: Batch = { kind: "bpr", users: Int32Array.from([0, 0, 1, 1]), pos: Int32Array.from([1, 3, 2, 5]), neg: Int32Array.from([0, 0, 1, 1]) };
  assert.deepEqual([0, 1, 2, 3].map((n) => rowNoise(M, bpr, n)), [1, 0, 1, -1]);
  const bce: Batch = { kind: "bce", users: Int32Array.from([1, 1, 0]), items: Int32Array.from([4, 2, 1]), labels: Float32Array.from([1, 0, 1]) };
  assert.deepEqual([0, 1, 2].map((n) => rowNoise(M, bce, n)), [0, -1, 1]);
});

test("epoch stats: mean weight per label, meta loss, selected noisy share, reservoir", () => {
  const s = new Phase2EpochStats(3, new Rng(5));
  s.addWeights(Float32Array.from([1, 2, 3, 4]), Float32Array.from([0.5, 0.25, 1, 0.75]), Int8Array.from([0, 1, 0, -1]));
  s.addWeights(Float32Array.from([5]), Float32Array.from([0.125]), Int8Array.from([1]));
  s.addMeta(0.5, null);
  s.addMeta(0.25, 2);
  s.addMeta(null, 4);
  // picked rows 0, 0, 2, 3 of a memorized batch flagged [1, 0, 0, -1]: 3 interactions picked, 2 of them noisy
  s.addSelection(Int32Array.from([0, 0, 2, 3]), Int8Array.from([1, 0, 0, -1]));
  s.addTiming({ metaStep: 10 });
  s.addTiming({ metaStep: 20 });
  assert.deepEqual(s.fields(), {
    metaLoss: 0.375, // (0.5 + 0.25) / 2
    weightClean: 0.75, // (0.5 + 1) / 2
    weightNoisy: 0.1875, // (0.25 + 0.125) / 2
    weightNegative: 0.75,
    psiGradNorm: 3, // (2 + 4) / 2
    selectedNoisyShare: 2 / 3,
    msMetaStep: 15,
  });
  const f = s.figure5(7);
  assert.equal(f.epoch, 7);
  assert.equal(f.loss.length, 3, "the reservoir keeps 3 of the 5 rows");
  f.loss.forEach((l, i) => {
    const k = l - 1; // loss k + 1 belongs to row k
    assert.equal(f.weight[i], [0.5, 0.25, 1, 0.75, 0.125][k]);
    assert.equal(f.noisy[i], [0, 1, 0, -1, 1][k]);
  });
});

describe("sgdl method with Phase II", () => {
  let data: Dataset;
  let switchAt = 0;
  const mf: ModelFactory = (mc, rng) => createModel("mf", mc, { lr: 1e-2 }, rng);
  const settings = (epochs: number): TrainSettings => ({ epochs, batchSize: 256, lr: 1e-2, evalFreq: 2, stopStep: 3, ks: [5, 20] });
  const run = async (options: Record<string, number | string | boolean>, epochs: number, events: TrainEvent[] = []): Promise<{ res: TrainResult; d: Record<string, unknown> }> => {
    const method = createMethod("sgdl", { normalize: "per-user", ...options });
    const res = await train({ dataset: data, createModel: mf, method, settings: settings(epochs), seed: 2020, onEvent: (e) => void events.push(e) });
    return { res, d: method.describe ? method.describe() : {} };
  };
  const phase2 = (res: TrainResult): EpochLog[] => res.epochs.filter((e) => e.phase === "self-guided");
  /** The log without wall-clock fields. */
  const timeless = (epochs: EpochLog[]) => epochs.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== "seconds" && !k.startsWith("ms"))));

  before(async () => {
    await initBackend("wasm");
    data = loadDataset("synthetic", { preset: "quick" });
    const { d } = await run({ stopAtSwitch: true }, 40);
    switchAt = d.switchEpoch as number;
    assert.ok(switchAt > 0 && switchAt < 30, `switch at ${switchAt}`);
  });

  it("switches, then runs self-guided epochs that validate and log the weight summary; deterministic per seed", async () => {
    const epochs = switchAt + 4;
    const a = await run({}, epochs);
    const b = await run({}, epochs);
    assert.equal(a.d.switchEpoch, switchAt, "Phase I is the same with or without Phase II");
    const p2 = phase2(a.res);
    assert.deepEqual(p2.map((e) => e.epoch), [1, 2, 3, 4].map((k) => switchAt + k));
    assert.ok(p2.some((e) => e.valid !== undefined), "Phase II validates");
    for (const e of p2) {
      for (const f of ["metaLoss", "weightClean", "weightNoisy", "psiGradNorm", "selectedNoisyShare", "msSchedulerInputs", "msMetaStep"]) {
        assert.equal(typeof e[f], "number", `epoch ${e.epoch} field ${f}`);
      }
      for (const f of ["weightClean", "weightNoisy", "selectedNoisyShare"]) assert.ok((e[f] as number) >= 0 && (e[f] as number) <= 1, `${f} in [0, 1]`);
    }
    assert.deepEqual(timeless(a.res.epochs), timeless(b.res.epochs));
    assert.equal(a.d.phase2Epochs, 4);
    assert.equal(a.d.memorizedSize, a.res.epochs[switchAt - 1].memorized);
    // Figure 5: the last epoch's samples and the weighting curve g(L) on a grid from 0
    const loss = a.d.figure5Loss as number[];
    assert.equal(a.d.figure5At, switchAt + 4);
    assert.equal(loss.length, Math.min(3000, size(data.train)));
    assert.equal((a.d.figure5Weight as number[]).length, loss.length);
    const curve = a.d.figure5CurveLoss as number[];
    assert.equal(curve.length, 101);
    assert.equal(curve[0], 0);
    assert.ok(Math.abs(curve[100] - Math.max(...loss)) < 1e-5 * Math.max(...loss));
  });

  it("trackPhase2: memorization is still tracked in Phase II (Figure 1's SGDL panels), without a second switch", async () => {
    const { res, d } = await run({ trackPhase2: true }, switchAt + 2);
    assert.equal(d.switchEpoch, switchAt);
    for (const e of phase2(res)) {
      for (const f of ["memorized", "memRateClean", "memRateNoisy", "mp", "mr", "metaLoss"]) assert.equal(typeof e[f], "number", `epoch ${e.epoch} field ${f}`);
    }
    const plain = phase2((await run({}, switchAt + 1)).res);
    assert.equal(plain[0].memRateClean, undefined, "not tracked by default");
  });

  it("frozen weighting takes no meta-gradient (no psiGradNorm); learned does", async () => {
    const frozen = phase2((await run({ weighting: "frozen" }, switchAt + 2)).res);
    for (const e of frozen) {
      assert.equal(e.psiGradNorm, undefined);
      assert.equal(typeof e.selectedNoisyShare, "number", "the scheduler still trains through S");
    }
    // the code's embedding-level selection trains the scheduler otherwise, but with psi frozen S cannot reach theta
    const rows = phase2((await run({ weighting: "frozen", selectionLevel: "embedding" }, switchAt + 2)).res);
    assert.deepEqual(rows.map((e) => [e.loss, e.valid]), frozen.map((e) => [e.loss, e.valid]));
    assert.notDeepEqual(rows.map((e) => e.selectedNoisyShare), frozen.map((e) => e.selectedNoisyShare));
    assert.equal(phase2((await run({ scheduler: "topf", selectionLevel: "embedding" }, switchAt + 1)).res).length, 1, "topf's [F x B] selection stays loss-level");
    const neumf: ModelFactory = (mc, rng) => createModel("neumf", mc, { lr: 1e-2 }, rng);
    await assert.rejects(
      train({ dataset: data, createModel: neumf, method: createMethod("sgdl", { selectionLevel: "embedding" }), settings: settings(2), seed: 2020 }),
      /'selectionLevel' "embedding" .* needs a BPR model; 'neumf' trains on 'bce'/,
    );
  });

  it("ablations: w/o ADS has no scheduler (no selection); w/o DLS trains plainly on the memorized set only", async () => {
    const noAds = phase2((await run({ ablation: "no-ads" }, switchAt + 2)).res);
    for (const e of noAds) {
      assert.equal(e.selectedNoisyShare, undefined);
      assert.equal(typeof e.metaLoss, "number");
    }
    const events: TrainEvent[] = [];
    const { res } = await run({ ablation: "no-dls" }, switchAt + 2, events);
    const memorized = res.epochs[switchAt - 1].memorized as number;
    const starts = events.filter((e): e is Extract<TrainEvent, { type: "epoch-start" }> => e.type === "epoch-start");
    for (const s of starts) {
      const expected = Math.ceil((s.epoch > switchAt ? memorized : size(data.train)) / 256);
      assert.equal(s.batches, expected, `epoch ${s.epoch}: ${s.batches} batches`);
    }
    for (const e of phase2(res)) assert.equal(e.metaLoss, undefined);
  });

  for (const scheduler of ["lstm1", "mlp", "topf"]) {
    it(`scheduler '${scheduler}' runs a Phase II epoch`, async () => {
      const p2 = phase2((await run({ scheduler, cosine: "group" }, switchAt + 1)).res);
      assert.equal(p2.length, 1);
      assert.equal(typeof p2[0].selectedNoisyShare, "number");
    });
  }
});
