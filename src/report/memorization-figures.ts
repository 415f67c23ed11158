/**
 * The figures of SGDL's Phase I from a run's result record (method `sgdl`):
 * Figure 1's memory rates of clean and noisy interactions with the estimated
 * memorization point, Figure 3's MP and MR with their crossing, Figure 4's
 * normalised-loss histogram with the fitted GMM components, and sigma_hat
 * against the true noise rate.
 */
import type { ResultRecord } from "../experiments/record";
import { readPhase1Facts } from "../methods/sgdl/phase1";
import { PHASE_SELF_GUIDED } from "../methods/sgdl/sgdl";
import type { EpochLog } from "../training/events";
import { lineChart, type Annotation, type BarTrace, type PlotlyFigure, type ScatterTrace, type VLine } from "./figure";

/** The epochs that carry Phase I tracking fields, with a number field read (null where absent). */
function series(epochs: EpochLog[], field: string): { x: number[]; y: Array<number | null> } {
  const tracked = epochs.filter((e) => typeof e.memorized === "number");
  return { x: tracked.map((e) => e.epoch), y: tracked.map((e) => (typeof e[field] === "number" ? (e[field] as number) : null)) };
}

/** A short label of a run: model, dataset, sgdl options that differ from the paper's. */
export function runLabel(r: ResultRecord): string {
  const o = r.config.methodOptions;
  const opts = Object.entries(o)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return `${r.config.model} on ${r.config.dataset}${opts ? ` (${opts})` : ""}`;
}

/** The estimated memorization point of a record (first epoch with Eq. 3), or null. */
export function memorizationPointOf(r: ResultRecord): number | null {
  return readPhase1Facts(r.method).memorizationPoint;
}

/** The first epoch with a non-empty memorized set at which MR >= MP (Figure 3's crossing), or null. */
export function mpMrCrossing(epochs: EpochLog[]): number | null {
  for (const e of epochs) {
    if (typeof e.memorized !== "number" || e.memorized === 0) continue;
    if ((e.mr as number) >= (e.mp as number)) return e.epoch;
  }
  return null;
}

/** Whose definitions a record's sgdl options are: "paper's" (the defaults), "code's" (the code preset's Phase I), else "mixed". */
export function definitionsOf(r: ResultRecord): string {
  const o = r.method;
  if (o.pool === "all" && o.rule === "paper" && o.normalize === "global") return "paper's";
  if (o.pool === "2n" && o.rule === "code" && o.normalize === "per-user") return "code's";
  return "mixed";
}

/** The dotted line at the estimated memorization point, if there is one. */
function pointLine(r: ResultRecord): VLine[] {
  const tm = memorizationPointOf(r);
  return tm === null ? [] : [{ x: tm, label: `t_m = ${tm} (${definitionsOf(r)} definitions)`, dash: "dot" }];
}

/** Figure 1 (one panel): memory rate of clean and noisy interactions per epoch, t_m dotted (named the switch when the run went on to Phase II), the two periods named; `more` adds labelled lines (e.g. t_m under other options). */
export function memoryRateFigure(r: ResultRecord, title?: string, more: VLine[] = []): PlotlyFigure {
  const selfGuided = r.epochs.some((e) => e.phase === PHASE_SELF_GUIDED);
  const clean = series(r.epochs, "memRateClean");
  const noisy = series(r.epochs, "memRateNoisy");
  const fig = lineChart({
    title: title ?? `Memory rate, ${runLabel(r)}`,
    xTitle: "epoch",
    yTitle: "memory rate",
    yRange: [0, 1.05],
    series: [
      { name: "clean interactions", x: clean.x, y: clean.y },
      { name: "noisy interactions", x: noisy.x, y: noisy.y, dash: "dash" },
    ],
    vlines: [...pointLine(r).map((v) => (selfGuided ? { ...v, label: `switch to Phase II at ${v.label}` } : v)), ...more],
  });
  const tm = memorizationPointOf(r);
  const last = clean.x.length > 0 ? clean.x[clean.x.length - 1] : 0;
  if (tm !== null) {
    const period = (x: number, text: string, xanchor: "left" | "right"): Annotation => ({ x, y: 0.02, xref: "x", yref: "paper", text, showarrow: false, xanchor, yanchor: "bottom" });
    const notes = [period(tm, "noise-resistant ", "right")];
    if (last > tm) notes.push(period(tm, " noise-sensitive", "left"));
    fig.layout.annotations = [...(fig.layout.annotations ?? []), ...notes];
  }
  return fig;
}

/** Figure 3: MP and MR per epoch (Eq. 2 against the true labels), their crossing dashed, t_m dotted. */
export function mpMrFigure(r: ResultRecord, title?: string): PlotlyFigure {
  const mp = series(r.epochs, "mp");
  const mr = series(r.epochs, "mr");
  const cross = mpMrCrossing(r.epochs);
  const vlines: VLine[] = [...pointLine(r)];
  if (cross !== null) vlines.push({ x: cross, label: `MR >= MP from ${cross}`, dash: "dash" });
  return lineChart({
    title: title ?? `MP and MR, ${runLabel(r)}`,
    xTitle: "epoch",
    yTitle: "value",
    yRange: [0, 1.05],
    series: [
      { name: "MP (memorization precision)", x: mp.x, y: mp.y, markers: true },
      { name: "MR (memorization recall)", x: mr.x, y: mr.y, markers: true, dash: "dash" },
    ],
    vlines,
  });
}

/** sigma_hat per epoch against the true noise rate of the training split. */
export function noiseRateFigure(r: ResultRecord, title?: string): PlotlyFigure {
  const est = series(r.epochs, "noiseRateEstimate");
  const truth = r.dataset.splitNoisy.train / r.dataset.split.train;
  return lineChart({
    title: title ?? `Estimated noise rate, ${runLabel(r)}`,
    xTitle: "epoch",
    yTitle: "noise rate",
    yRange: [0, 1],
    series: [
      { name: "sigma_hat (GMM, Eq. 4)", x: est.x, y: est.y, markers: true },
      { name: "true noise rate of the training split", x: est.x, y: est.x.map(() => truth), dash: "dot" },
    ],
    vlines: pointLine(r),
  });
}

/** N(x; mu, var). */
function normalPdf(x: number, mu: number, variance: number): number {
  return Math.exp((-0.5 * (x - mu) * (x - mu)) / variance) / Math.sqrt(2 * Math.PI * variance);
}

/**
 * Figure 4: the normalised losses of clean and noisy interactions at the kept
 * epoch (the memorization point by default), each bar its group's share of the
 * density of all interactions (so clean + noisy = the whole histogram, area 1),
 * with the two fitted components w_k N(x; mu_k, var_k) on the same scale.
 */
export function lossDistributionFigure(r: ResultRecord, title?: string): PlotlyFigure {
  const f4 = readPhase1Facts(r.method).figure4;
  if (f4 === null) throw new Error(`lossDistributionFigure: the record of ${runLabel(r)} holds no Figure 4 data (no tracked epoch)`);
  const bins = f4.clean.length;
  const width = 1 / bins;
  const n = f4.clean.reduce((a, b) => a + b, 0) + f4.noisy.reduce((a, b) => a + b, 0);
  const centers = Array.from({ length: bins }, (_, b) => (b + 0.5) * width);
  const bar = (name: string, counts: number[], color: string): BarTrace => ({
    type: "bar",
    name,
    x: centers,
    y: counts.map((c) => c / (n * width)),
    width,
    opacity: 0.55,
    marker: { color },
  });
  const grid = Array.from({ length: 201 }, (_, j) => j / 200);
  const g = f4.gmm;
  const curve = (k: 0 | 1, name: string, color: string): ScatterTrace => ({
    type: "scatter",
    mode: "lines",
    name,
    x: grid,
    y: grid.map((x) => g.weights[k] * normalPdf(x, g.means[k], g.variances[k])),
    line: { color, width: 2 },
  });
  return {
    data: [
      bar("clean interactions", f4.clean, "#1f77b4"),
      bar("noisy interactions", f4.noisy, "#d62728"),
      curve(0, `GMM small-mean component (w ${g.weights[0].toFixed(2)})`, "#1f3f77"),
      curve(1, `GMM large-mean component (w ${g.weights[1].toFixed(2)}) = "noisy"`, "#8b0000"),
    ],
    layout: {
      title: { text: title ?? `Normalised losses at epoch ${f4.epoch}, ${runLabel(r)} (sigma_hat ${f4.noiseRate.toFixed(3)})` },
      xaxis: { title: { text: `normalised loss (${String(r.method.normalize ?? "global")})` }, range: [0, 1] },
      yaxis: { title: { text: "density (share of all interactions)" } },
      barmode: "overlay",
      bargap: 0,
      showlegend: true,
    },
  };
}
