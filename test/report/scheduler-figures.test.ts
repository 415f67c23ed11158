import { test } from "node:test";
import * as assert from "node:assert/strict";
import type { ScatterTrace } from "../../src/report/figure";
import type { Phase2Record } from "../../src/report/phase2-figures";
import { meanSelectedNoisyShare, memorizedNoisyShare, selectedNoisyShareFigure, selectedNoisyShareSeries } from "../../src/report/scheduler-figures";
import type { EpochLog } from "../../src/training/events";

/** Phase I epochs 1..t (MP of the last = mpAtSwitch), then Phase II epochs with the given selected noisy shares (null: not logged). */
function run(t: number, mpAtSwitch: number, shares: Array<number | null>): Phase2Record {
  const epochs: EpochLog[] = [];
  for (let e = 1; e <= t; e++) epochs.push({ epoch: e, phase: "memorization", loss: 0.5, seconds: 1, memorized: 10, mp: e === t ? mpAtSwitch : 0.9 });
  shares.forEach((s, j) => {
    const log: EpochLog = { epoch: t + 1 + j, phase: "self-guided", loss: 0.2, seconds: 1 };
    if (s !== null) log.selectedNoisyShare = s;
    epochs.push(log);
  });
  return { config: {} as Phase2Record["config"], method: { name: "sgdl", switchEpoch: t }, epochs };
}

test("the series counts Phase II epochs from the switch; the noisy share of M is 1 - MP at the switch", () => {
  const r = run(3, 0.8, [0.15, 0.1]);
  assert.deepEqual(selectedNoisyShareSeries(r), { x: [1, 2], y: [0.15, 0.1] });
  // MP 0.8 at epoch 3 -> noisy share of M 0.2 (the 0.9 of epochs 1-2 is not used)
  assert.ok(Math.abs((memorizedNoisyShare(r) as number) - 0.2) < 1e-12);
  assert.equal(memorizedNoisyShare({ ...r, method: { name: "sgdl", switchEpoch: null } }), null);
  // (0.15 + 0.1) / 2 = 0.125; epochs without a selection are left out: (0.3 + 0.1) / 2 = 0.2
  assert.ok(Math.abs((meanSelectedNoisyShare(r) as number) - 0.125) < 1e-12);
  assert.ok(Math.abs((meanSelectedNoisyShare(run(3, 0.8, [0.3, null, 0.1])) as number) - 0.2) < 1e-12);
  assert.equal(meanSelectedNoisyShare(run(3, 0.8, [null, null])), null);
});

test("one line per run with a scheduler, a dashed reference per distinct memorized set", () => {
  const fig = selectedNoisyShareFigure(
    [
      { name: "LSTM", record: run(3, 0.8, [0.15, 0.1, 0.05]) },
      { name: "top-F", record: run(3, 0.8, [0.2, 0.2, 0.2]) },
      { name: "w/o ADS", record: run(3, 0.8, [null, null, null]) },
    ],
    "t",
  );
  const traces = fig.data as ScatterTrace[];
  // w/o ADS has no selection: no line of its own; all three share M (switch 3, MP 0.8): one reference at 0.2 over Phase II epochs 1..3
  assert.deepEqual(traces.map((d) => d.name), ["LSTM", "top-F", "noisy share of M, switch at epoch 3"]);
  assert.deepEqual(traces[0].y, [0.15, 0.1, 0.05]);
  assert.deepEqual(traces[2].x, [1, 3]);
  assert.ok(Math.abs((traces[2].y[0] as number) - 0.2) < 1e-12);
  assert.equal(traces[2].line?.dash, "dash");
  // two memorized sets (switch 3 and 5) give two references, each naming its runs
  const two = selectedNoisyShareFigure([{ name: "+10 %", record: run(3, 0.8, [0.1]) }, { name: "-10 %", record: run(5, 0.7, [0.2]) }], "t");
  assert.deepEqual(
    (two.data as ScatterTrace[]).slice(2).map((d) => d.name),
    ["noisy share of M, switch at epoch 3 (+10 %)", "noisy share of M, switch at epoch 5 (-10 %)"],
  );
});
