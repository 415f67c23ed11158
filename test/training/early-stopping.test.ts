import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EarlyStopping } from "../../src/training/early-stopping";

/** Feeds validation values (one per evalFreq epochs) until the rule stops; returns the stop epoch and the checkpoint epoch. */
function run(values: number[], stopStep: number, evalFreq: number) {
  const es = new EarlyStopping(stopStep);
  const checkpoints: number[] = [];
  for (let j = 0; j < values.length; j++) {
    const epoch = (j + 1) * evalFreq;
    const v = es.update(values[j], epoch);
    if (v.checkpoint) checkpoints.push(epoch);
    if (v.stop) return { stoppedAt: epoch, best: es.bestEpoch, checkpoints };
  }
  return { stoppedAt: null, best: es.bestEpoch, checkpoints };
}

describe("early stopping (official EarlyStop: >= saves, stop when j - firstBest >= stopStep)", () => {
  it("a strict improvement resets the count; a tie saves a checkpoint but does not reset it", () => {
    // evalFreq 5, stopStep 3. Validations j=0..: epochs 5, 10, 15, ...
    // j0 .10 best (b=0) ckpt@5; j1 .20 best (b=1) ckpt@10; j2 .20 tie ckpt@15 (b stays 1);
    // j3 .15: 3-1=2 < 3; j4 .20 tie ckpt@25, 4-1=3 >= 3 -> stop at epoch 25, restored checkpoint epoch 25.
    const r = run([0.1, 0.2, 0.2, 0.15, 0.2, 0.3], 3, 5);
    assert.deepEqual(r, { stoppedAt: 25, best: 25, checkpoints: [5, 10, 15, 25] });
  });

  it("stops stopStep validations after the last strict improvement", () => {
    // stopStep 2, evalFreq 10: j0 .1 (b=0), j1 .3 (b=1), j2 .2 (2-1=1), j3 .25 (3-1=2 -> stop at epoch 40); best epoch 20
    const r = run([0.1, 0.3, 0.2, 0.25, 0.9], 2, 10);
    assert.deepEqual(r, { stoppedAt: 40, best: 20, checkpoints: [10, 20] });
  });

  it("ML-100K setting (5, 8): 40 epochs without improvement after the best", () => {
    // best at j=0 (epoch 5), then 8 worse validations: stop at j=8, epoch 45 = 5 + 40
    const r = run([0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4], 8, 5);
    assert.deepEqual(r, { stoppedAt: 45, best: 5, checkpoints: [5] });
  });

  it("never stops while every value improves; rejects a non-positive stopStep", () => {
    const r = run([0.1, 0.2, 0.3, 0.4], 1, 1);
    assert.deepEqual(r, { stoppedAt: null, best: 4, checkpoints: [1, 2, 3, 4] });
    assert.throws(() => new EarlyStopping(0), /stopStep/);
  });
});
