import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RunConfigInput } from "../../src/experiments/config";
import { readRecord } from "../../src/experiments/record";
import { canonicalJson, runExperiment, type RunEvent } from "../../src/experiments/runner";
import { OPTIMIZER_SEMANTICS } from "../../src/training/adam";

const CONFIG: RunConfigInput = { dataset: "synthetic", model: "mf", method: "normal", preset: "quick", seed: 7, epochs: 4, backend: "wasm", modelConfig: { dim: 16 } };

describe("runExperiment", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-runner-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function counted() {
    const counts: Record<string, number> = {};
    return { counts, onEvent: (e: RunEvent) => void (counts[e.type] = (counts[e.type] ?? 0) + 1) };
  }

  it("writes one record with the schema's fields, atomically; reuses it by key; retrains identically", async () => {
    const c1 = counted();
    const first = await runExperiment(CONFIG, { resultsDir: dir, onEvent: c1.onEvent });
    assert.equal(first.cached, false);
    assert.equal(c1.counts["epoch-end"], 4);
    assert.equal(c1.counts["done"], 1);
    const r = first.record;
    assert.equal(r.schema, 1);
    assert.match(r.key, /^[0-9a-f]{64}$/);
    assert.equal(r.config.dataset, "synthetic");
    assert.equal(r.config.dataPreset, "quick");
    assert.equal(r.seed, 7);
    assert.equal(r.dataset.name, "synthetic");
    assert.match(r.dataset.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(r.dataset.split.train, r.dataset.split.train | 0);
    for (const f of ["backend", "backendReason", "tfjs", "node", "tslab", "platform", "cpu", "commit", "dirty", "optimizer"]) assert.ok(f in r.environment, f);
    assert.equal(r.environment.backend, "wasm");
    assert.equal(r.environment.optimizer, OPTIMIZER_SEMANTICS);
    assert.ok(!Number.isNaN(Date.parse(r.startedAt)));
    assert.ok(r.seconds > 0);
    assert.deepEqual(r.epochs.map((e) => [e.epoch, e.phase]), [[1, "normal"], [2, "normal"], [3, "normal"], [4, "normal"]]);
    for (const e of r.epochs) assert.ok(typeof e.loss === "number" && typeof e.seconds === "number");
    // quick preset validates every 2 epochs
    assert.deepEqual(r.epochs.map((e) => e.valid !== undefined), [false, true, false, true]);
    assert.ok(r.best !== null && (r.best.epoch === 2 || r.best.epoch === 4) && typeof r.best["recall@5"] === "number");
    for (const m of ["recall@5", "recall@20", "ndcg@5", "ndcg@20"]) {
      assert.equal(typeof r.test[m], "number", m);
      assert.equal(r.test.perUser[m].length, r.test.perUser.users.length, m);
    }
    assert.equal(r.model.model, "mf");
    assert.equal(r.method.name, "normal");

    // on disk: exactly one JSON file, no temp file left, read back equal
    assert.deepEqual(fs.readdirSync(dir), [path.basename(first.path)]);
    assert.deepEqual(readRecord(first.path), JSON.parse(JSON.stringify(r)));

    // same inputs: reused without training
    const c2 = counted();
    const second = await runExperiment(CONFIG, { resultsDir: dir, onEvent: c2.onEvent });
    assert.equal(second.cached, true);
    assert.deepEqual(c2.counts, { cached: 1 });
    assert.equal(second.path, first.path);
    assert.deepEqual(second.record, readRecord(first.path));

    // reuse off: trains again, byte-identical losses and test metrics
    const c3 = counted();
    const third = await runExperiment(CONFIG, { resultsDir: dir, reuse: false, onEvent: c3.onEvent });
    assert.equal(third.cached, false);
    assert.equal(c3.counts["epoch-end"], 4);
    assert.equal(third.record.key, r.key);
    assert.equal(JSON.stringify(third.record.epochs.map((e) => e.loss)), JSON.stringify(r.epochs.map((e) => e.loss)));
    assert.equal(JSON.stringify(third.record.test), JSON.stringify(r.test));
    assert.equal(JSON.stringify(third.record.best), JSON.stringify(r.best));
  });

  it("an interrupted run resumes from its checkpoint: the same record, resumedFrom set, checkpoint deleted; resume off starts over", async () => {
    const cfg: RunConfigInput = { ...CONFIG, seed: 17, epochs: 5 };
    const ckDir = path.join(dir, "ckpt");
    const whole = await runExperiment(cfg, { resultsDir: path.join(dir, "whole"), checkpointDir: ckDir });
    assert.equal(whole.record.resumedFrom, undefined);
    assert.deepEqual(fs.readdirSync(ckDir), [], "the checkpoint is deleted once the record is written");
    const kill = (k: number) => (e: RunEvent) => {
      if (e.type === "epoch-end" && e.epoch === k) throw new Error(`killed after epoch ${k}`);
    };
    const split = path.join(dir, "split");
    // killed during epoch 5's end: checkpoints were saved after epochs 2 and 4 (quick preset: evalFreq 2)
    await assert.rejects(runExperiment(cfg, { resultsDir: split, checkpointDir: ckDir, onEvent: kill(5) }), /killed after epoch 5/);
    assert.deepEqual(fs.readdirSync(ckDir), [`${whole.record.key}.ckpt`]);
    assert.equal(fs.existsSync(split), false, "no record for an interrupted run");
    const events: string[] = [];
    const resumed = await runExperiment(cfg, { resultsDir: split, checkpointDir: ckDir, onEvent: (e) => void (e.type === "resume" && events.push(`resume ${e.epoch}`)) });
    assert.deepEqual(events, ["resume 4"]);
    assert.deepEqual(resumed.record.resumedFrom, [4]);
    assert.deepEqual(readRecord(resumed.path).resumedFrom, [4]);
    assert.deepEqual(fs.readdirSync(ckDir), []);
    const strip = (r: typeof whole.record) => r.epochs.map(({ seconds: _s, ...rest }) => rest);
    assert.deepStrictEqual(strip(resumed.record), strip(whole.record));
    assert.deepStrictEqual(resumed.record.test, whole.record.test);
    assert.deepStrictEqual(resumed.record.best, whole.record.best);
    assert.ok(resumed.record.seconds > 0);

    // resume off: the checkpoint is deleted before training, the run starts at epoch 1
    await assert.rejects(runExperiment(cfg, { resultsDir: split, reuse: false, checkpointDir: ckDir, onEvent: kill(3) }), /killed/);
    const starts: number[] = [];
    const fresh = await runExperiment(cfg, { resultsDir: split, reuse: false, resume: false, checkpointDir: ckDir, onEvent: (e) => void (e.type === "epoch-start" && starts.push(e.epoch)) });
    assert.deepEqual(starts, [1, 2, 3, 4, 5]);
    assert.equal(fresh.record.resumedFrom, undefined);
    assert.deepStrictEqual(strip(fresh.record), strip(whole.record));
  });

  it("another seed or setting is another key", async () => {
    const a = await runExperiment({ ...CONFIG, epochs: 1 }, { resultsDir: dir });
    const b = await runExperiment({ ...CONFIG, epochs: 1, seed: 8 }, { resultsDir: dir });
    const c = await runExperiment({ ...CONFIG, epochs: 1, lr: 0.02 }, { resultsDir: dir });
    assert.equal(new Set([a.record.key, b.record.key, c.record.key]).size, 3);
    assert.notEqual(a.path, b.path);
  });

  it("canonicalJson sorts keys at every level", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: "x" } }), '{"a":{"c":"x","d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it("readRecord names the file and the missing field", () => {
    const file = path.join(dir, "broken.json");
    fs.writeFileSync(file, JSON.stringify({ schema: 1, key: "k", startedAt: "t", seed: 1, seconds: 1, config: {}, dataset: {}, environment: {}, model: {}, method: {}, epochs: [] }));
    assert.throws(() => readRecord(file), (err: Error) => err.message.includes(file) && err.message.includes("field 'test'"));
    fs.writeFileSync(file, JSON.stringify({ schema: 2 }));
    assert.throws(() => readRecord(file), /field 'schema'/);
  });
});
