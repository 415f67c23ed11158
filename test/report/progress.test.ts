import { test } from "node:test";
import * as assert from "node:assert/strict";
import { formatInfo, formatProgress, fractionDone, notebookProgress, progressBundle, terminalProgress, type ProgressStream } from "../../src/report/progress";

function sink(isTTY: boolean): ProgressStream & { out: string[] } {
  const out: string[] = [];
  return { isTTY, out, write: (s: string) => out.push(s) > 0 };
}

test("the progress line: bar, counts, percent and info", () => {
  // 45/100 with width 20: floor(0.45 * 20) = 9 filled; loss 0.69314718 to 4 significant digits = 0.6931
  assert.equal(
    formatProgress({ label: "epoch 3", done: 45, total: 100, info: { loss: 0.69314718, phase: "memorization", batch: 45 } }, 20),
    "epoch 3 [#########-----------] 45/100 45% loss=0.6931 phase=memorization batch=45",
  );
  // 2/3 with width 10: floor(6.67) = 6 filled, floor(66.7) = 66 %
  assert.equal(formatProgress({ label: "eval", done: 2, total: 3 }, 10), "eval [######----] 2/3 66%");
  assert.equal(formatInfo({ r: 1234.5678, s: 0.000012345 }), "r=1235 s=0.00001234");
  assert.equal(fractionDone({ label: "", done: 0, total: 0 }), 1);
  assert.equal(fractionDone({ label: "", done: 5, total: 4 }), 1);
});

test("off a TTY: one plain line per 10 % and at each new label", () => {
  const s = sink(false);
  const p = terminalProgress(s, { width: 10 });
  for (let i = 0; i <= 100; i++) p.update({ label: "train", done: i, total: 100 });
  p.update({ label: "test", done: 0, total: 4 });
  p.update({ label: "test", done: 1, total: 4 }); // 25 %: crosses 10 % and 20 %, one line
  p.end();
  // 0 %, 10 %, ..., 100 % = 11 lines for "train", then 2 for "test"
  assert.equal(s.out.length, 13);
  assert.equal(s.out[3], "train [###-------] 30/100 30%\n");
  assert.equal(s.out[10], "train [##########] 100/100 100%\n");
  assert.equal(s.out[12], "test [##--------] 1/4 25%\n");
});

test("on a TTY: redrawn in place with \\r at most once per interval, last state flushed at the end", () => {
  const s = sink(true);
  let clock = 0;
  const p = terminalProgress(s, { width: 4, interval: 100, now: () => clock });
  p.update({ label: "a", done: 1, total: 4 }); // drawn (first)
  clock = 50;
  p.update({ label: "a", done: 2, total: 4 }); // within 100 ms: held back
  clock = 120;
  p.update({ label: "a", done: 3, total: 4 }); // drawn
  clock = 130;
  p.update({ label: "a", done: 4, total: 4 }); // complete: always drawn
  p.end();
  assert.deepEqual(s.out, ["\ra [#---] 1/4 25%\x1b[K", "\ra [###-] 3/4 75%\x1b[K", "\ra [####] 4/4 100%\x1b[K", "\n"]);

  const s2 = sink(true);
  const q = terminalProgress(s2, { width: 4, interval: 100, now: () => 0 });
  q.update({ label: "b", done: 1, total: 4 });
  q.update({ label: "b", done: 2, total: 4 }); // held back, then flushed by end()
  q.end();
  assert.deepEqual(s2.out, ["\rb [#---] 1/4 25%\x1b[K", "\rb [##--] 2/4 50%\x1b[K", "\n"]);
});

test("notebook bundle: an HTML <progress> bar and the plain line", () => {
  const b = progressBundle({ label: "epoch <1>", done: 1, total: 4 }, 4);
  assert.equal(b["text/plain"], "epoch <1> [#---] 1/4 25%");
  assert.match(b["text/html"], /^<div class="sgdl-progress"[^>]*>epoch &lt;1&gt; <progress value="0\.2500" max="1"/);
});

interface DisplayMessage {
  data: Record<string, unknown>;
  transient: { display_id?: string };
}
interface TslabHook {
  lastWriteDisplayData: ((msg: DisplayMessage, update: boolean) => void) | null;
}

test("in a (simulated) tslab kernel: one display with an id, then update_display_data for it", () => {
  const hook = require("tslab/dist/jupyter") as TslabHook;
  const sent: Array<{ msg: DisplayMessage; update: boolean }> = [];
  hook.lastWriteDisplayData = (msg, update) => sent.push({ msg, update });
  let clock = 0;
  try {
    const p = notebookProgress({ width: 4, interval: 250, now: () => clock });
    p.update({ label: "x", done: 0, total: 4 }); // creates the line
    clock = 10;
    p.update({ label: "x", done: 1, total: 4 }); // throttled
    clock = 300;
    p.update({ label: "x", done: 2, total: 4 }); // update
    clock = 310;
    p.update({ label: "x", done: 3, total: 4 }); // throttled, flushed by end()
    p.end();
  } finally {
    hook.lastWriteDisplayData = null;
  }
  assert.deepEqual(
    sent.map((s) => [s.update, s.msg.data["text/plain"]]),
    [
      [false, "x [----] 0/4 0%"],
      [true, "x [##--] 2/4 50%"],
      [true, "x [###-] 3/4 75%"],
    ],
  );
  const ids = new Set(sent.map((s) => s.msg.transient.display_id));
  assert.equal(ids.size, 1);
  assert.match([...ids][0] ?? "", /^sgdl-progress-[0-9a-f]{12}$/);
});
