import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseTrainArgs, trainCommand } from "../../src/experiments/train-command";

/** Runs fn with process.stderr.write captured; returns what it wrote. */
async function captureStderr(fn: () => Promise<unknown>): Promise<string> {
  const original = process.stderr.write.bind(process.stderr);
  let text = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = original;
  }
  return text;
}

describe("sgdl train", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-train-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("parses the flags into a run config", () => {
    const a = parseTrainArgs(["--dataset", "yelp", "--model", "ngcf", "--method", "normal", "--seed", "3", "--epochs", "7", "--preset", "quick",
      "--batch-size", "64", "--lr", "0.005", "--eval-freq", "2", "--stop-step", "4", "--backend", "cpu", "--results", "out", "--no-reuse", "--json"]);
    assert.deepEqual(a.config, { dataset: "yelp", model: "ngcf", method: "normal", seed: 3, epochs: 7, preset: "quick", batchSize: 64, lr: 0.005, evalFreq: 2, stopStep: 4, backend: "cpu" });
    assert.deepEqual([a.resultsDir, a.reuse, a.json], ["out", false, true]);
    assert.equal(a.resume, true, "resuming from a checkpoint is on by default");
    assert.equal(parseTrainArgs(["--model", "mf", "--no-resume"]).resume, false);
    const b = parseTrainArgs(["--dataset", "synthetic", "--model", "mf", "--seed", "1"]);
    assert.deepEqual([b.config, b.reuse, b.json, b.resultsDir], [{ dataset: "synthetic", model: "mf", seed: 1 }, true, false, undefined]);
    assert.throws(() => parseTrainArgs(["--dataset", "synthetic", "--seed", "1"]), /--model is required/);
    // no --seed: the config's default (2020) applies; no --dataset: ml-100k-sgdl if present, else synthetic
    assert.deepEqual(parseTrainArgs(["--dataset", "synthetic", "--model", "mf"]).config, { dataset: "synthetic", model: "mf" });
    const saved = process.env.SGDL_DATA_DIR;
    process.env.SGDL_DATA_DIR = "/nonexistent-sgdl-data";
    try {
      assert.equal(parseTrainArgs(["--model", "mf"]).config.dataset, "synthetic");
    } finally {
      if (saved === undefined) delete process.env.SGDL_DATA_DIR;
      else process.env.SGDL_DATA_DIR = saved;
    }
    assert.throws(() => parseTrainArgs(["--dataset", "synthetic", "--model", "mf", "--seed", "1", "--lr", "fast"]), /--lr must be a number/);
    assert.throws(() => parseTrainArgs(["--dataset", "synthetic", "--model", "mf", "--seed", "1.5"]), /--seed must be an integer/);
    assert.throws(() => parseTrainArgs(["--dataset", "synthetic", "--model", "mf", "--seed", "1", "--gpu"]), /gpu/);
  });

  it("--json prints one JSON object with the record path and the test metrics", async () => {
    const lines: string[] = [];
    const argv = ["--dataset", "synthetic", "--model", "mf", "--method", "normal", "--seed", "1", "--preset", "quick", "--epochs", "2", "--backend", "wasm", "--results", dir, "--json"];
    const code = await trainCommand(argv, (l) => lines.push(l), () => undefined);
    assert.equal(code, 0);
    assert.equal(lines.length, 1);
    const o = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(o), ["record", "test"]);
    assert.deepEqual(Object.keys(o.test), ["recall@5", "recall@20", "ndcg@5", "ndcg@20"]);
    assert.ok(fs.existsSync(o.record));
    const rec = JSON.parse(fs.readFileSync(o.record, "utf8"));
    assert.equal(rec.test["ndcg@20"], o.test["ndcg@20"]);
  });

  it("a bad value exits 2 and names the flag", async () => {
    let code = -1;
    const err = await captureStderr(async () => {
      code = await trainCommand(["--dataset", "synthetic", "--model", "mf", "--seed", "1", "--batch-size", "0", "--results", dir], () => undefined, () => undefined);
    });
    assert.equal(code, 2);
    assert.match(err, /--batch-size: must be an integer >= 1, got 0/);
    const err2 = await captureStderr(async () => {
      code = await trainCommand(["--dataset", "synthetic", "--model", "bert", "--seed", "1", "--results", dir], () => undefined, () => undefined);
    });
    assert.equal(code, 2);
    assert.match(err2, /--model: unknown model 'bert'/);
  });
});
