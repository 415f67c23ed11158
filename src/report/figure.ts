/**
 * Figures as plain plotly specs: the small typed subset of plotly.js the kit
 * draws with (line, bar and histogram traces, dotted vertical lines, axis
 * titles, legend), and the builders the notebooks use. A spec is plain JSON:
 * shown inline by plotly-display.ts, written to files by export.ts.
 */

/** Line dash styles plotly knows. */
export type Dash = "solid" | "dot" | "dash" | "longdash" | "dashdot" | "longdashdot";

/** A coordinate on a numeric or categorical axis. */
export type Datum = number | string;

export interface LineStyle {
  dash?: Dash;
  color?: string;
  width?: number;
}

export interface MarkerStyle {
  color?: string;
  size?: number;
  opacity?: number;
}

/** Error bars given per point. */
export interface ErrorBars {
  type: "data";
  array: number[];
  visible: boolean;
}

/** A line and/or marker trace. `null` in y is a gap. */
export interface ScatterTrace {
  type: "scatter";
  x: Datum[];
  y: Array<number | null>;
  name?: string;
  mode?: "lines" | "markers" | "lines+markers";
  line?: LineStyle;
  marker?: MarkerStyle;
  showlegend?: boolean;
  error_y?: ErrorBars;
}

/** A histogram binned by plotly from raw values (fine for small samples; histogramOverlay bins itself). */
export interface HistogramTrace {
  type: "histogram";
  x: number[];
  name?: string;
  histnorm?: "" | "percent" | "probability" | "density" | "probability density";
  xbins?: { start: number; end: number; size: number };
  opacity?: number;
  marker?: MarkerStyle;
  showlegend?: boolean;
}

/** Bars at categories or numeric positions; `width` in x units (used for pre-binned histograms). */
export interface BarTrace {
  type: "bar";
  x: Datum[];
  y: number[];
  name?: string;
  width?: number;
  opacity?: number;
  marker?: MarkerStyle;
  text?: string[];
  textposition?: "inside" | "outside" | "auto" | "none";
  error_y?: ErrorBars;
  showlegend?: boolean;
}

export type PlotlyTrace = ScatterTrace | HistogramTrace | BarTrace;

export interface AxisTitle {
  text: string;
}

export interface Axis {
  title?: AxisTitle;
  range?: [number, number];
  type?: "linear" | "log" | "category";
  tickformat?: string;
  zeroline?: boolean;
}

/** A straight line; xref "x" + yref "paper" from 0 to 1 is a full-height vertical line at data x. */
export interface LineShape {
  type: "line";
  xref: "x" | "paper";
  yref: "y" | "paper";
  x0: Datum;
  x1: Datum;
  y0: number;
  y1: number;
  line: LineStyle;
}

export interface Annotation {
  x: Datum;
  y: number;
  xref: "x" | "paper";
  yref: "y" | "paper";
  text: string;
  showarrow: boolean;
  xanchor?: "auto" | "left" | "center" | "right";
  yanchor?: "auto" | "top" | "middle" | "bottom";
}

export interface Legend {
  x?: number;
  y?: number;
  xanchor?: "auto" | "left" | "center" | "right";
  yanchor?: "auto" | "top" | "middle" | "bottom";
  orientation?: "v" | "h";
}

export interface PlotlyLayout {
  title: { text: string };
  xaxis: Axis;
  yaxis: Axis;
  legend: Legend;
  showlegend: boolean;
  shapes: LineShape[];
  annotations: Annotation[];
  barmode: "group" | "overlay" | "stack" | "relative";
  bargap: number;
  width: number;
  height: number;
  margin: { l?: number; r?: number; t?: number; b?: number };
  font: { family?: string; size?: number };
}

export interface PlotlyConfig {
  responsive?: boolean;
  displaylogo?: boolean;
  staticPlot?: boolean;
}

/** A complete plotly figure: what Plotly.newPlot and the JupyterLab renderer take. */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Partial<PlotlyLayout>;
  config?: PlotlyConfig;
}

/** A dotted (or dashed) vertical marker, e.g. the memorization point. */
export interface VLine {
  x: number;
  label: string;
  dash?: Dash;
}

export interface LineSeries {
  name: string;
  x: Datum[];
  y: Array<number | null>;
  dash?: Dash;
  markers?: boolean;
}

export interface LineChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  series: LineSeries[];
  vlines?: VLine[];
  yRange?: [number, number];
  width?: number;
  height?: number;
}

function axis(title: string, range?: [number, number]): Axis {
  return range ? { title: { text: title }, range } : { title: { text: title } };
}

function sizeOf(o: { width?: number; height?: number }): Partial<PlotlyLayout> {
  const out: Partial<PlotlyLayout> = {};
  if (o.width !== undefined) out.width = o.width;
  if (o.height !== undefined) out.height = o.height;
  return out;
}

/** Full-height vertical lines at data x, each with its label on top. */
export function verticalLines(vlines: VLine[]): { shapes: LineShape[]; annotations: Annotation[] } {
  const shapes = vlines.map(
    (v): LineShape => ({ type: "line", xref: "x", yref: "paper", x0: v.x, x1: v.x, y0: 0, y1: 1, line: { dash: v.dash ?? "dot", width: 1.5, color: "#444" } }),
  );
  const annotations = vlines.map(
    (v): Annotation => ({ x: v.x, y: 1, xref: "x", yref: "paper", text: v.label, showarrow: false, xanchor: "left", yanchor: "bottom" }),
  );
  return { shapes, annotations };
}

/** Line chart of several series over a shared x axis, with optional labelled vertical lines. */
export function lineChart(o: LineChartOptions): PlotlyFigure {
  const data = o.series.map((s): ScatterTrace => {
    if (s.x.length !== s.y.length) throw new Error(`lineChart '${o.title}': series '${s.name}' has ${s.x.length} x values but ${s.y.length} y values`);
    const t: ScatterTrace = { type: "scatter", mode: s.markers ? "lines+markers" : "lines", name: s.name, x: s.x, y: s.y };
    if (s.dash) t.line = { dash: s.dash };
    return t;
  });
  const { shapes, annotations } = verticalLines(o.vlines ?? []);
  return {
    data,
    layout: { title: { text: o.title }, xaxis: axis(o.xTitle), yaxis: axis(o.yTitle, o.yRange), shapes, annotations, showlegend: true, ...sizeOf(o) },
  };
}

/** Shared equal-width bins: `bins` bins from lo to hi (hi included in the last bin, as numpy does). */
export interface Bins {
  start: number;
  size: number;
  count: number;
}

/** Equal-width bins covering all values (or the given range). */
export function equalBins(values: number[][], bins: number, range?: [number, number]): Bins {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be a positive integer, got ${bins}`);
  let [lo, hi] = range ?? [Infinity, -Infinity];
  if (!range) {
    for (const vs of values) {
      for (const v of vs) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error("equalBins: no values to bin");
  if (hi < lo) throw new Error(`equalBins: range end ${hi} is below its start ${lo}`);
  if (hi === lo) return { start: lo - 0.5, size: 1 / bins, count: bins };
  return { start: lo, size: (hi - lo) / bins, count: bins };
}

/** Counts per bin; values outside the bins are left out. */
export function binCounts(values: number[], b: Bins): number[] {
  const counts = new Array<number>(b.count).fill(0);
  const end = b.start + b.size * b.count;
  for (const v of values) {
    if (v < b.start || v > end) continue;
    counts[Math.min(b.count - 1, Math.floor((v - b.start) / b.size))]++;
  }
  return counts;
}

/** How histogram heights are scaled: raw counts, fraction of the group, or density (area 1, comparable to a pdf). */
export type HistNorm = "count" | "probability" | "density";

export interface HistogramOverlayOptions {
  title: string;
  xTitle?: string;
  yTitle?: string;
  groups: Array<{ name: string; values: number[] }>;
  bins: number;
  range?: [number, number];
  /** Default "density" when overlayCurves are given (so a pdf lines up), else "count". */
  histnorm?: HistNorm;
  overlayCurves?: Array<{ name: string; x: number[]; y: number[]; dash?: Dash }>;
  vlines?: VLine[];
  width?: number;
  height?: number;
}

/**
 * Overlaid histograms of several groups on shared bins, with optional curves
 * (e.g. fitted densities). Binned here, not by plotly, so a figure of a
 * million losses stays a few kilobytes in the notebook.
 */
export function histogramOverlay(o: HistogramOverlayOptions): PlotlyFigure {
  for (const g of o.groups) {
    const bad = g.values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`histogramOverlay '${o.title}': group '${g.name}' value #${bad} is ${g.values[bad]}`);
  }
  const norm: HistNorm = o.histnorm ?? (o.overlayCurves && o.overlayCurves.length > 0 ? "density" : "count");
  const b = equalBins(o.groups.map((g) => g.values), o.bins, o.range);
  const centers = Array.from({ length: b.count }, (_, i) => b.start + (i + 0.5) * b.size);
  const data: PlotlyTrace[] = o.groups.map((g): BarTrace => {
    const counts = binCounts(g.values, b);
    const n = g.values.length;
    const divisor = norm === "count" || n === 0 ? 1 : norm === "probability" ? n : n * b.size;
    return { type: "bar", name: g.name, x: centers, y: counts.map((c) => c / divisor), width: b.size, opacity: 0.6 };
  });
  for (const c of o.overlayCurves ?? []) {
    if (c.x.length !== c.y.length) throw new Error(`histogramOverlay '${o.title}': curve '${c.name}' has ${c.x.length} x values but ${c.y.length} y values`);
    data.push({ type: "scatter", mode: "lines", name: c.name, x: c.x, y: c.y, line: { dash: c.dash ?? "solid" } });
  }
  const yTitle = o.yTitle ?? { count: "count", probability: "fraction", density: "density" }[norm];
  const { shapes, annotations } = verticalLines(o.vlines ?? []);
  return {
    data,
    layout: {
      title: { text: o.title },
      xaxis: axis(o.xTitle ?? ""),
      yaxis: axis(yTitle),
      barmode: "overlay",
      bargap: 0,
      shapes,
      annotations,
      showlegend: true,
      ...sizeOf(o),
    },
  };
}

export interface BarChartOptions {
  title: string;
  xTitle?: string;
  yTitle?: string;
  categories: string[];
  /** One bar per category per series; `errors` draws error bars. */
  series: Array<{ name: string; values: number[]; errors?: number[] }>;
  barmode?: "group" | "stack";
  yRange?: [number, number];
  width?: number;
  height?: number;
}

/** Grouped (or stacked) bar chart: categories on x, one trace per series. */
export function barChart(o: BarChartOptions): PlotlyFigure {
  const data = o.series.map((s): BarTrace => {
    if (s.values.length !== o.categories.length) {
      throw new Error(`barChart '${o.title}': series '${s.name}' has ${s.values.length} values for ${o.categories.length} categories`);
    }
    const t: BarTrace = { type: "bar", name: s.name, x: o.categories, y: s.values };
    if (s.errors) {
      if (s.errors.length !== s.values.length) throw new Error(`barChart '${o.title}': series '${s.name}' has ${s.errors.length} errors for ${s.values.length} values`);
      t.error_y = { type: "data", array: s.errors, visible: true };
    }
    return t;
  });
  return {
    data,
    layout: {
      title: { text: o.title },
      xaxis: { title: { text: o.xTitle ?? "" }, type: "category" },
      yaxis: axis(o.yTitle ?? "", o.yRange),
      barmode: o.barmode ?? "group",
      showlegend: o.series.length > 1,
      ...sizeOf(o),
    },
  };
}

/** A one-line description of a figure: title, traces by type, size. */
export function figureSummary(fig: PlotlyFigure): string {
  const byType = new Map<string, number>();
  for (const t of fig.data) byType.set(t.type, (byType.get(t.type) ?? 0) + 1);
  const traces = [...byType].map(([t, n]) => `${n} ${t}`).join(", ");
  const names = fig.data.map((t) => t.name).filter((n): n is string => n !== undefined);
  const title = fig.layout.title?.text ?? "(untitled)";
  const shapes = fig.layout.shapes?.length ? `, ${fig.layout.shapes.length} marker line(s)` : "";
  return `Figure: ${title} [${traces || "no traces"}${shapes}]${names.length ? ` series: ${names.join(", ")}` : ""}`;
}
