/**
 * Inline plotly figures in a tslab notebook: one display_data bundle with
 *  - application/vnd.plotly.v1+json: the figure itself, drawn offline by
 *    JupyterLab's plotly renderer (also from a saved, untrusted notebook);
 *  - text/html: a div and a Plotly.newPlot script, for classic Notebook and
 *    nbconvert HTML export; plotly.js (node_modules/plotly.js-dist-min) is
 *    embedded once per kernel session, in the first figure's output;
 *  - text/plain: a one-line summary.
 * Outside a kernel (node, tests, CLI) it prints the summary instead.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { displayBundle, inNotebook } from "./display";
import { figureSummary, type PlotlyFigure } from "./figure";

/** What a kernel session remembers between figures. */
export interface FigureSessionState {
  /** plotly.js was already sent in an earlier output of this session. */
  plotlyIncluded: boolean;
  /** Figures shown so far (numbers the div ids). */
  shown: number;
  /** Random per-session token, so div ids never clash across sessions in one page. */
  session: string;
}

export interface ShowFigureOptions {
  /** The div id (default: sgdl-figure-<session>-<n>). */
  id?: string;
  /** Height in pixels (default: the layout's height, else 450). */
  height?: number;
}

/** A fresh session state: nothing sent yet. */
export function newFigureSession(): FigureSessionState {
  return { plotlyIncluded: false, shown: 0, session: crypto.randomBytes(4).toString("hex") };
}

const session: FigureSessionState = newFigureSession();

let plotlySource: string | undefined;

/** plotly.js from node_modules, made safe to sit inside an inline <script> element. */
export function plotlyJsForInlineScript(): string {
  if (plotlySource === undefined) {
    const raw = fs.readFileSync(require.resolve("plotly.js-dist-min"), "utf8");
    // "\x3C!--" and "\x3C/script" mean the same inside JS strings and regexes, but cannot end or confuse the HTML script element.
    plotlySource = raw.replace(/<!--/g, "\\x3C!--").replace(/<\/script/gi, "\\x3C/script");
  }
  return plotlySource;
}

/** JSON that can be placed inside an inline script (no "<", no line separators). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** The script element that defines window.Plotly, unless something already did. */
function plotlyLibraryScript(): string {
  // module/exports/define are shadowed so the bundle sets window.Plotly even beside require.js.
  return (
    '<script type="text/javascript">if (typeof window.Plotly === "undefined") {(function (module, exports, define) {\n' +
    plotlyJsForInlineScript() +
    "\n}).call(window);}</script>"
  );
}

/** The figure as plain JSON (NaN becomes null, as plotly expects for gaps), with the height applied. */
function figureJson(fig: PlotlyFigure, height?: number): PlotlyFigure {
  const copy = JSON.parse(JSON.stringify(fig)) as PlotlyFigure;
  if (height !== undefined) copy.layout.height = height;
  return copy;
}

/** The MIME bundle for one figure; embeds plotly.js when the state says it was not sent yet. Does not change the state. */
export function figureBundle(fig: PlotlyFigure, state: FigureSessionState, opts: ShowFigureOptions = {}): Record<string, unknown> {
  const json = figureJson(fig, opts.height);
  const id = opts.id ?? `sgdl-figure-${state.session}-${state.shown + 1}`;
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(id)) throw new Error(`showFigure: id '${id}' must start with a letter and use only letters, digits, '_' and '-'`);
  const height = opts.height ?? fig.layout.height ?? 450;
  const config = json.config ?? { responsive: true, displaylogo: false };
  const draw =
    `<script type="text/javascript">(function () {` +
    `var el = document.getElementById(${scriptJson(id)}); var fig = ${scriptJson({ data: json.data, layout: json.layout, config })};` +
    `if (window.Plotly) { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); }` +
    ` else { el.textContent = "plotly.js is not loaded here: rerun the notebook from its first figure."; }` +
    `})();</script>`;
  const div = `<div id="${id}" class="sgdl-figure" style="width:100%;height:${height}px"></div>`;
  const lib = state.plotlyIncluded ? "" : plotlyLibraryScript();
  return {
    "application/vnd.plotly.v1+json": json,
    "text/html": lib + div + draw,
    "text/plain": figureSummary(fig),
  };
}

/** Shows a figure inline in tslab (one display_data, three MIME types); prints its summary outside a kernel. */
export function showFigure(fig: PlotlyFigure, opts: ShowFigureOptions = {}): void {
  if (!inNotebook()) {
    console.log(`${figureSummary(fig)} (not in a tslab kernel, so not drawn; exportFigures writes it to files)`);
    return;
  }
  displayBundle(figureBundle(fig, session, opts));
  session.plotlyIncluded = true;
  session.shown++;
}
