import { test } from "node:test";
import * as assert from "node:assert/strict";
import { barChart, binCounts, equalBins, figureSummary, histogramOverlay, lineChart, type PlotlyFigure, type PlotlyTrace } from "../../src/report/figure";
import { figureBundle, newFigureSession, showFigure } from "../../src/report/plotly-display";

const PLOTLY_JSON = "application/vnd.plotly.v1+json";

/** The y values of a trace (histogram traces have none). */
function yOf(t: PlotlyTrace): Array<number | null> {
  return t.type === "histogram" ? [] : t.y;
}

test("lineChart: one scatter trace per series, dashes kept, a vline is a dotted full-height shape with its label", () => {
  const fig = lineChart({
    title: "Memorization",
    xTitle: "epoch",
    yTitle: "memorization rate",
    series: [
      { name: "clean", x: [1, 2, 3], y: [0.1, 0.4, 0.8] },
      { name: "noisy", x: [1, 2, 3], y: [0.0, 0.1, 0.6], dash: "dash" },
    ],
    vlines: [{ x: 2, label: "MP", dash: "dot" }],
  });
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[0], { type: "scatter", mode: "lines", name: "clean", x: [1, 2, 3], y: [0.1, 0.4, 0.8] });
  assert.deepEqual(fig.data[1], { type: "scatter", mode: "lines", name: "noisy", x: [1, 2, 3], y: [0.0, 0.1, 0.6], line: { dash: "dash" } });
  assert.equal(fig.layout.title?.text, "Memorization");
  assert.equal(fig.layout.xaxis?.title?.text, "epoch");
  assert.equal(fig.layout.yaxis?.title?.text, "memorization rate");
  const [shape] = fig.layout.shapes ?? [];
  assert.deepEqual(
    { xref: shape.xref, yref: shape.yref, x0: shape.x0, x1: shape.x1, y0: shape.y0, y1: shape.y1, dash: shape.line.dash },
    { xref: "x", yref: "paper", x0: 2, x1: 2, y0: 0, y1: 1, dash: "dot" },
  );
  assert.equal(fig.layout.annotations?.[0].text, "MP");
  assert.equal(fig.layout.annotations?.[0].x, 2);
});

test("lineChart rejects a series whose x and y lengths differ, naming the series", () => {
  assert.throws(() => lineChart({ title: "t", xTitle: "x", yTitle: "y", series: [{ name: "bad", x: [1, 2], y: [1] }] }), /series 'bad' has 2 x values but 1 y values/);
});

test("equal bins and counts: the top edge falls in the last bin (numpy convention)", () => {
  // [0, 4] in 4 bins of width 1: [0,1) [1,2) [2,3) [3,4]; 4 joins 3 in the last bin.
  const b = equalBins([[0, 1, 2, 3, 4]], 4);
  assert.deepEqual(b, { start: 0, size: 1, count: 4 });
  assert.deepEqual(binCounts([0, 1, 2, 3, 4], b), [1, 1, 1, 2]);
  // values outside an explicit range are left out: range [1, 3], 2 bins of width 1: [1,2) [2,3]
  const r = equalBins([], 2, [1, 3]);
  assert.deepEqual(binCounts([0, 1, 1.5, 2, 3, 3.5], r), [2, 2]);
  assert.throws(() => equalBins([[1]], 0), /positive integer/);
});

test("histogramOverlay bins all groups on shared bins; density makes each group's area 1", () => {
  const curve = { name: "fit", x: [0, 2, 4], y: [0.1, 0.25, 0.1] };
  const fig = histogramOverlay({
    title: "Loss",
    groups: [
      { name: "clean", values: [0, 1, 2, 3, 4] },
      { name: "noisy", values: [0, 0, 4] },
    ],
    bins: 2,
    overlayCurves: [curve],
  });
  // shared range [0, 4], 2 bins of width 2, centres 1 and 3.
  // clean: {0,1} | {2,3,4} -> counts [2, 3]; density = count / (n * width) = [2/10, 3/10]
  // noisy: {0,0} | {4}     -> counts [2, 1]; density = [2/6, 1/6]
  assert.equal(fig.data.length, 3);
  const [clean, noisy, fit] = fig.data;
  assert.equal(clean.type, "bar");
  assert.deepEqual(clean.x, [1, 3]);
  assert.equal(clean.type === "bar" && clean.width, 2);
  assert.deepEqual(yOf(clean), [0.2, 0.3]);
  assert.deepEqual(yOf(noisy), [2 / 6, 1 / 6]);
  assert.equal(2 * (0.2 + 0.3), 1); // area = width * sum(density)
  assert.deepEqual(fit, { type: "scatter", mode: "lines", name: "fit", x: curve.x, y: curve.y, line: { dash: "solid" } });
  assert.equal(fig.layout.barmode, "overlay");
  assert.equal(fig.layout.yaxis?.title?.text, "density");
});

test("histogramOverlay without curves shows counts; probability divides by the group size", () => {
  const groups = [{ name: "g", values: [0, 1, 2, 3, 4] }];
  assert.deepEqual(yOf(histogramOverlay({ title: "t", groups, bins: 2 }).data[0]), [2, 3]);
  assert.deepEqual(yOf(histogramOverlay({ title: "t", groups, bins: 2, histnorm: "probability" }).data[0]), [2 / 5, 3 / 5]);
  assert.throws(() => histogramOverlay({ title: "t", groups: [{ name: "noisy", values: [1, NaN] }], bins: 2 }), /group 'noisy' value #1 is NaN/);
});

test("barChart: a trace per series over the categories, with error bars", () => {
  const fig = barChart({
    title: "Recall@20",
    categories: ["NeuMF", "CDAE"],
    series: [
      { name: "normal", values: [0.1, 0.2] },
      { name: "SGDL", values: [0.15, 0.25], errors: [0.01, 0.02] },
    ],
  });
  assert.deepEqual(fig.data[0], { type: "bar", name: "normal", x: ["NeuMF", "CDAE"], y: [0.1, 0.2] });
  assert.deepEqual(fig.data[1].type === "bar" && fig.data[1].error_y, { type: "data", array: [0.01, 0.02], visible: true });
  assert.equal(fig.layout.barmode, "group");
  assert.throws(() => barChart({ title: "t", categories: ["a"], series: [{ name: "s", values: [1, 2] }] }), /series 's' has 2 values for 1 categories/);
});

const small: PlotlyFigure = lineChart({ title: "Small </script><b>x</b>", xTitle: "x", yTitle: "y", series: [{ name: "s", x: [1, 2], y: [1, NaN] }] });

test("figureSummary is one line naming title, traces and series", () => {
  assert.equal(figureSummary(small), "Figure: Small </script><b>x</b> [1 scatter] series: s");
});

test("figure bundle: three MIME types; plotly.js embedded when the session has not sent it", () => {
  const b = figureBundle(small, newFigureSession(), { id: "fig1", height: 300 });
  assert.deepEqual(Object.keys(b).sort(), [PLOTLY_JSON, "text/html", "text/plain"]);
  const json = b[PLOTLY_JSON] as PlotlyFigure;
  assert.deepEqual(yOf(json.data[0]), [1, null]); // NaN is a gap (null) in JSON
  assert.equal(json.layout.height, 300);
  const html = b["text/html"] as string;
  assert.ok(html.length > 1_000_000, "plotly.js (about 4.8 MB) is inline");
  assert.match(html, /plotly\.js v\d/);
  assert.match(html, /if \(typeof window\.Plotly === "undefined"\)/);
  assert.match(html, /<div id="fig1" class="sgdl-figure" style="width:100%;height:300px"><\/div>/);
  assert.match(html, /Plotly\.newPlot\(el, fig\.data, fig\.layout, fig\.config\)/);
  // two script elements (library, newPlot), so exactly two closing tags and no HTML comment opener
  assert.equal(html.split("</script>").length - 1, 2);
  assert.equal(html.indexOf("<!--"), -1);
  assert.equal(html.indexOf("<b>x</b>"), -1, "the title's markup is escaped inside the script");
  assert.equal(b["text/plain"], figureSummary(small));
});

test("figure bundle: without plotly.js once the session has sent it", () => {
  const state = { ...newFigureSession(), plotlyIncluded: true };
  const html = figureBundle(small, state, { id: "fig2" })["text/html"] as string;
  assert.ok(html.length < 5000);
  assert.doesNotMatch(html, /plotly\.js v\d/);
  assert.match(html, /Plotly\.newPlot/);
  assert.throws(() => figureBundle(small, state, { id: "bad id" }), /id 'bad id'/);
});

interface DisplayMessage {
  data: Record<string, unknown>;
  transient: Record<string, unknown>;
}
interface TslabHook {
  lastWriteDisplayData: ((msg: DisplayMessage, update: boolean) => void) | null;
}

test("showFigure in a (simulated) tslab kernel: one display_data per figure, plotly.js only in the first", () => {
  const hook = require("tslab/dist/jupyter") as TslabHook;
  const sent: Array<{ msg: DisplayMessage; update: boolean }> = [];
  hook.lastWriteDisplayData = (msg, update) => sent.push({ msg, update });
  try {
    showFigure(small);
    showFigure(small);
  } finally {
    hook.lastWriteDisplayData = null;
  }
  assert.equal(sent.length, 2);
  assert.ok(sent.every((s) => !s.update && PLOTLY_JSON in s.msg.data));
  const [first, second] = sent.map((s) => s.msg.data["text/html"] as string);
  assert.ok(first.length > 1_000_000);
  assert.ok(second.length < 5000);
  const ids = sent.map((s) => /<div id="([^"]+)"/.exec(s.msg.data["text/html"] as string)?.[1]);
  assert.notEqual(ids[0], ids[1]);
});
