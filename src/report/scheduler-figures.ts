/**
 * The denoising scheduler's selection over Phase II (paper 3.2.2, 4.3.3): per
 * Phase II epoch, the noisy share of the memorized samples the scheduler
 * selected (the epoch log's selectedNoisyShare, counted with multiplicity over
 * the Gumbel draws), one line per run, beside the noisy share of the memorized
 * set M at the switch: what sampling M uniformly would select (w/o ADS uses
 * all of it).
 */
import type { EpochLog } from "../training/events";
import { lineChart, type LineSeries, type PlotlyFigure } from "./figure";
import { selfGuidedEpochs, switchEpochOf, type Phase2Record } from "./phase2-figures";

/** A run of the figure and its legend name. */
export interface SchedulerRun {
  name: string;
  record: Phase2Record;
}

/** Noisy share of the memorized set at the switch, 1 - MP of the switch epoch; null when the run did not switch or has no MP there. */
export function memorizedNoisyShare(r: Phase2Record): number | null {
  const t = switchEpochOf(r);
  const e = t === null ? undefined : r.epochs.find((x) => x.epoch === t);
  return e !== undefined && typeof e.mp === "number" ? 1 - e.mp : null;
}

/** The selected noisy share per Phase II epoch, x counted from the switch (1 = the first Phase II epoch). */
export function selectedNoisyShareSeries(r: Phase2Record): { x: number[]; y: Array<number | null> } {
  const t = switchEpochOf(r) ?? 0;
  const p2: EpochLog[] = selfGuidedEpochs(r.epochs);
  return { x: p2.map((e) => e.epoch - t), y: p2.map((e) => (typeof e.selectedNoisyShare === "number" ? e.selectedNoisyShare : null)) };
}

/** Mean over the Phase II epochs of the selected noisy share; null when no epoch logged one (w/o ADS, w/o DLS). */
export function meanSelectedNoisyShare(r: Phase2Record): number | null {
  const y = selectedNoisyShareSeries(r).y.filter((v): v is number => v !== null);
  return y.length === 0 ? null : y.reduce((a, b) => a + b, 0) / y.length;
}

/** Selected noisy share per Phase II epoch, one line per run with a scheduler; dashed: the noisy share of M (one line per distinct switch). */
export function selectedNoisyShareFigure(runs: readonly SchedulerRun[], title: string): PlotlyFigure {
  const series: LineSeries[] = [];
  let last = 1;
  for (const run of runs) {
    const s = selectedNoisyShareSeries(run.record);
    if (s.x.length > 0) last = Math.max(last, s.x[s.x.length - 1]);
    if (s.y.some((v) => v !== null)) series.push({ name: run.name, x: s.x, y: s.y, markers: true });
  }
  const seen = new Map<string, string[]>();
  for (const run of runs) {
    const share = memorizedNoisyShare(run.record);
    if (share === null) continue;
    const key = `${switchEpochOf(run.record)}|${share.toFixed(9)}`;
    seen.set(key, [...(seen.get(key) ?? []), run.name]);
  }
  for (const [key, names] of seen) {
    const [t, share] = key.split("|");
    const v = Number(share);
    const who = seen.size > 1 ? ` (${names.join(", ")})` : "";
    series.push({ name: `noisy share of M, switch at epoch ${t}${who}`, x: [1, last], y: [v, v], dash: "dash" });
  }
  const fig = lineChart({ title, xTitle: "Phase II epoch (1 = first epoch after the switch)", yTitle: "noisy share of selected samples", series, height: 520 });
  fig.layout.legend = { orientation: "h", x: 0, y: -0.2, yanchor: "top" }; // below the plot: the run names are long
  return fig;
}
