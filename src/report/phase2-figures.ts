/**
 * The figures of SGDL's Phase II from a run's result record (method `sgdl`,
 * methods/sgdl/phase2.ts and phase2-stats.ts): Figure 5 (paper 4.4), the
 * distribution of the weights g(L; psi) of clean and noisy training
 * interactions and the learned weighting function over the loss with the
 * (loss, weight) samples; and the weight summary over the Phase II epochs
 * (mean weight of clean vs noisy interactions, the meta loss), the switch
 * epoch marked.
 */
import type { ResultRecord } from "../experiments/record";
import { PHASE_SELF_GUIDED } from "../methods/sgdl/sgdl";
import type { EpochLog } from "../training/events";
import { histogramOverlay, lineChart, type HistNorm, type LineSeries, type PlotlyFigure, type ScatterTrace, type VLine } from "./figure";

/** What the Phase II figures read from a record. */
export type Phase2Record = Pick<ResultRecord, "config" | "method" | "epochs">;

/** Figure 5's data of one Phase II epoch (the record's figure5* fields). */
export interface Figure5Data {
  /** The epoch the samples and the curve were taken at. */
  epoch: number;
  /** Sampled training rows: loss L, weight g(L; psi), 1 noisy / 0 clean / -1 sampled negative. */
  loss: number[];
  weight: number[];
  noisy: number[];
  /** The weighting function g(L; psi) on an even grid of losses. */
  curveLoss: number[];
  curveWeight: number[];
}

/** The colours of the three kinds of training rows. */
const COLORS = { clean: "#1f77b4", noisy: "#d62728", negative: "#7f7f7f" } as const;

/** Reads Figure 5's fields from a record's `method` block; throws naming a missing or malformed field. */
export function readFigure5(method: Phase2Record["method"]): Figure5Data {
  const list = (k: string): number[] => {
    const v = method[k];
    if (!Array.isArray(v)) throw new Error(`record method field '${k}' is missing or not a list of numbers: the run has no Phase II epoch with Figure 5 samples`);
    return v;
  };
  const epoch = method.figure5At;
  if (typeof epoch !== "number") throw new Error("record method field 'figure5At' is missing: the run has no Phase II epoch with Figure 5 samples");
  const d: Figure5Data = {
    epoch,
    loss: list("figure5Loss"),
    weight: list("figure5Weight"),
    noisy: list("figure5Noisy"),
    curveLoss: list("figure5CurveLoss"),
    curveWeight: list("figure5CurveWeight"),
  };
  if (d.weight.length !== d.loss.length || d.noisy.length !== d.loss.length) {
    throw new Error(`record method fields figure5Loss/Weight/Noisy differ in length (${d.loss.length}, ${d.weight.length}, ${d.noisy.length})`);
  }
  if (d.curveWeight.length !== d.curveLoss.length) throw new Error(`record method fields figure5CurveLoss/Weight differ in length (${d.curveLoss.length}, ${d.curveWeight.length})`);
  return d;
}

/** The epochs of Phase II (phase "self-guided"). */
export function selfGuidedEpochs(epochs: readonly EpochLog[]): EpochLog[] {
  return epochs.filter((e) => e.phase === PHASE_SELF_GUIDED);
}

/** The epoch at which a record switched to Phase II, or null. */
export function switchEpochOf(r: Phase2Record): number | null {
  const t = r.method.switchEpoch;
  return typeof t === "number" ? t : null;
}

/** The Figure 5 rows of one kind (flag 0 clean, 1 noisy, -1 sampled negative). */
export function figure5Rows(d: Figure5Data, flag: 0 | 1 | -1): { loss: number[]; weight: number[] } {
  const loss: number[] = [];
  const weight: number[] = [];
  d.noisy.forEach((f, n) => {
    if (f !== flag) return;
    loss.push(d.loss[n]);
    weight.push(d.weight[n]);
  });
  return { loss, weight };
}

/** Figure 5's samples in numbers (clean and noisy training interactions; sampled negatives apart). */
export interface Figure5Summary {
  clean: number;
  noisy: number;
  negatives: number;
  meanWeightClean: number;
  meanWeightNoisy: number;
  meanLossClean: number;
  meanLossNoisy: number;
  /** Noisy share of the sampled training interactions. */
  noisyShare: number;
  /** Noisy share among the interactions with the largest weights (the top `top` fraction, at least one). */
  noisyShareTop: number;
  top: number;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Counts, mean weights and losses of clean vs noisy samples, and the noisy share among the largest weights (paper 4.4: "almost all large weights belong to clean interactions"). */
export function figure5Summary(d: Figure5Data, top = 0.1): Figure5Summary {
  if (!(top > 0 && top <= 1)) throw new Error(`figure5Summary: top must be in (0, 1], got ${top}`);
  const clean = figure5Rows(d, 0);
  const noisy = figure5Rows(d, 1);
  const rows: Array<{ w: number; noisy: boolean }> = [];
  d.noisy.forEach((f, n) => {
    if (f === 0 || f === 1) rows.push({ w: d.weight[n], noisy: f === 1 });
  });
  rows.sort((a, b) => b.w - a.w); // stable: ties keep the sample order
  const k = Math.max(1, Math.ceil(top * rows.length));
  const head = rows.slice(0, k);
  return {
    clean: clean.weight.length,
    noisy: noisy.weight.length,
    negatives: d.noisy.filter((f) => f === -1).length,
    meanWeightClean: mean(clean.weight),
    meanWeightNoisy: mean(noisy.weight),
    meanLossClean: mean(clean.loss),
    meanLossNoisy: mean(noisy.loss),
    noisyShare: rows.length === 0 ? NaN : noisy.weight.length / rows.length,
    noisyShareTop: head.length === 0 ? NaN : head.filter((x) => x.noisy).length / head.length,
    top,
  };
}

/** A short label of a Phase II run: model, dataset, weighting. */
function label(r: Phase2Record): string {
  const w = typeof r.method.weighting === "string" ? r.method.weighting : "?";
  return `${r.config.model}, ${r.config.dataset}, ${w}`;
}

export interface WeightDistributionOptions {
  title?: string;
  /** Equal bins over [0, 1] (default 20). */
  bins?: number;
  /** Default "probability": each group's bars sum to 1, so groups of different sizes compare. */
  histnorm?: HistNorm;
  /** Draw the sampled negatives (BCE models) as a third group (default false: left out). */
  negatives?: boolean;
}

/** Figure 5(a): overlaid histograms of the weights g(L; psi) of clean and noisy training interactions at the kept Phase II epoch. */
export function weightDistributionFigure(r: Phase2Record, o: WeightDistributionOptions = {}): PlotlyFigure {
  const d = readFigure5(r.method);
  const groups: Array<{ name: string; values: number[]; color: string }> = [
    { name: `clean interactions (${figure5Rows(d, 0).weight.length})`, values: figure5Rows(d, 0).weight, color: COLORS.clean },
    { name: `noisy interactions (${figure5Rows(d, 1).weight.length})`, values: figure5Rows(d, 1).weight, color: COLORS.noisy },
  ];
  const neg = figure5Rows(d, -1).weight;
  if (o.negatives && neg.length > 0) groups.push({ name: `sampled negatives (${neg.length})`, values: neg, color: COLORS.negative });
  const fig = histogramOverlay({
    title: o.title ?? `Figure 5(a): weights at epoch ${d.epoch}, ${label(r)}`,
    xTitle: "weight g(L; psi)",
    groups: groups.map((g) => ({ name: g.name, values: g.values })),
    bins: o.bins ?? 20,
    range: [0, 1],
    histnorm: o.histnorm ?? "probability",
  });
  fig.data.forEach((t, i) => {
    if (t.type === "bar") t.marker = { color: groups[i].color };
  });
  return fig;
}

export interface WeightingFunctionOptions {
  title?: string;
  /** Draw the sampled negatives (BCE models) too (default false). */
  negatives?: boolean;
}

/** Figure 5(b): the weighting function g(L; psi) over the loss as a line, with the sampled (loss, weight) rows as clean / noisy points. */
export function weightingFunctionFigure(r: Phase2Record, o: WeightingFunctionOptions = {}): PlotlyFigure {
  const d = readFigure5(r.method);
  const points = (flag: 0 | 1 | -1, name: string, color: string): ScatterTrace => {
    const rows = figure5Rows(d, flag);
    return { type: "scatter", mode: "markers", name: `${name} (${rows.loss.length})`, x: rows.loss, y: rows.weight, marker: { color, size: 4, opacity: 0.5 } };
  };
  const data: ScatterTrace[] = [points(0, "clean interactions", COLORS.clean), points(1, "noisy interactions", COLORS.noisy)];
  if (o.negatives && d.noisy.includes(-1)) data.push(points(-1, "sampled negatives", COLORS.negative));
  data.push({ type: "scatter", mode: "lines", name: "g(L; psi)", x: d.curveLoss, y: d.curveWeight, line: { color: "#000000", width: 2 } });
  return {
    data,
    layout: {
      title: { text: o.title ?? `Figure 5(b): g(L; psi) at epoch ${d.epoch}, ${label(r)}` },
      xaxis: { title: { text: "loss L" } },
      yaxis: { title: { text: "weight g(L; psi)" }, range: [0, 1.02] },
      showlegend: true,
    },
  };
}

/** The labelled line at the switch epoch (none if the run never switched). */
function switchLine(r: Phase2Record): VLine[] {
  const t = switchEpochOf(r);
  return t === null ? [] : [{ x: t, label: `switch to Phase II (epoch ${t})`, dash: "dot" }];
}

/** A number field per epoch (null where absent). */
function field(epochs: readonly EpochLog[], key: string): Array<number | null> {
  return epochs.map((e) => (typeof e[key] === "number" ? (e[key] as number) : null));
}

/** Mean weight g(L; psi) of clean and noisy training interactions (and sampled negatives, when logged) per Phase II epoch; the switch dotted. */
export function weightSummaryFigure(r: Phase2Record, title?: string): PlotlyFigure {
  const p2 = selfGuidedEpochs(r.epochs);
  const x = p2.map((e) => e.epoch);
  const series: LineSeries[] = [
    { name: "clean interactions", x, y: field(p2, "weightClean"), markers: true },
    { name: "noisy interactions", x, y: field(p2, "weightNoisy"), dash: "dash", markers: true },
  ];
  const neg = field(p2, "weightNegative");
  if (neg.some((v) => v !== null)) series.push({ name: "sampled negatives", x, y: neg, dash: "dot", markers: true });
  return lineChart({
    title: title ?? `Mean weights in Phase II, ${label(r)}`,
    xTitle: "epoch",
    yTitle: "mean weight g(L; psi)",
    yRange: [0, 1.05],
    series,
    vlines: switchLine(r),
  });
}

/** The meta loss (Eq. 8's objective at theta_hat) and the weighted training loss (Eq. 9's objective) per Phase II epoch; the switch dotted. */
export function metaLossFigure(r: Phase2Record, title?: string): PlotlyFigure {
  const p2 = selfGuidedEpochs(r.epochs);
  const x = p2.map((e) => e.epoch);
  return lineChart({
    title: title ?? `Meta loss in Phase II, ${label(r)}`,
    xTitle: "epoch",
    yTitle: "loss (epoch mean)",
    series: [
      { name: "meta loss (Eq. 8, at theta_hat)", x, y: field(p2, "metaLoss"), markers: true },
      { name: "weighted training loss (Eq. 9)", x, y: p2.map((e) => e.loss), dash: "dash", markers: true },
    ],
    vlines: switchLine(r),
  });
}
