import { test } from "node:test";
import * as assert from "node:assert/strict";
import type { ProgressEvent } from "../../src/report/progress";
import { runProgress } from "../../src/report/run-progress";

function recorder() {
  const log: string[] = [];
  const reporter = {
    update: (e: ProgressEvent) => void log.push(`bar ${e.label} ${e.done}/${e.total}`),
    end: () => void log.push("end"),
  };
  return { log, p: runProgress(reporter, (line) => void log.push(line)) };
}

test("batches drive the bar; validation is shown on its epoch's summary line; test gets its own line", () => {
  const { log, p } = recorder();
  p({ type: "epoch-start", epoch: 1, maxEpochs: 2, batches: 2, phase: "normal" });
  p({ type: "batch", epoch: 1, batch: 1, batches: 2, iteration: 1, loss: 0.7 });
  p({ type: "eval", epoch: 1, split: "valid", metrics: { "recall@5": 0.1 }, checkpoint: true, stop: false, seconds: 0.1 });
  p({ type: "epoch-end", epoch: 1, maxEpochs: 2, log: { epoch: 1, phase: "normal", loss: 0.69, seconds: 0.5 } });
  p({ type: "epoch-end", epoch: 2, maxEpochs: 2, log: { epoch: 2, phase: "normal", loss: 0.6, seconds: 0.5 } });
  p({ type: "eval", epoch: 2, split: "test", metrics: { "recall@5": 0.2 }, seconds: 0.1 });
  assert.deepEqual(log, [
    "bar epoch 1 1/2",
    "end",
    "epoch 1/2 normal loss 0.69000 (0.5 s) | valid recall@5 0.1000 (checkpoint)",
    "end",
    "epoch 2/2 normal loss 0.60000 (0.5 s)",
    "end",
    "test: recall@5 0.2000",
  ]);
});

test("a resumed run says where it continues from", () => {
  const { log, p } = recorder();
  p({ type: "resume", epoch: 10, path: ".cache/checkpoints/abc.ckpt" });
  assert.deepEqual(log, ["end", "resuming after epoch 10 from checkpoint .cache/checkpoints/abc.ckpt"]);
});
