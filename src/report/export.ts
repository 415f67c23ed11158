/**
 * Figures to files: one headless chromium (playwright-core) for the whole
 * batch, plotly.js injected from node_modules (no CDN), Plotly.toImage for SVG
 * and PNG, and a vector PDF printed from a page that holds only the SVG.
 * Beside each figure goes <name>.json: the spec and the caller's provenance
 * (seed, config, environment), so every file in figures/ says how to redo it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromium, type Page } from "playwright-core";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic";
import type { PlotlyFigure } from "./figure";

export type ImageFormat = "svg" | "png" | "pdf";

export interface FigureToExport {
  /** File name without extension: letters, digits, '.', '_', '-'. */
  name: string;
  figure: PlotlyFigure;
  /** CSS pixels (default: the layout's width, else 700). */
  width?: number;
  /** CSS pixels (default: the layout's height, else 450). */
  height?: number;
  /** Merged over opts.provenance for this figure's .json. */
  provenance?: Record<string, unknown>;
}

export interface ExportOptions {
  /** Default "figures" (relative to the working directory). */
  outDir?: string;
  /** Default all three. */
  formats?: ImageFormat[];
  /** How to regenerate the figures: seed, config, environment, command. */
  provenance?: Record<string, unknown>;
  /** PNG pixels per CSS pixel (default 2). */
  pngScale?: number;
}

/** The flags the kit always starts chromium with (no GPU, no background traffic). */
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The chromium binary: $SGDL_CHROMIUM, else /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env.SGDL_CHROMIUM || "/usr/bin/chromium";
}

/** Whether the chromium binary is there (exportFigures needs it). */
export function chromiumAvailable(): boolean {
  return fs.existsSync(chromiumPath());
}

function missingChromiumMessage(exe: string): string {
  return (
    `exportFigures: chromium not found at ${exe}. Install it (as root) with ` +
    "`apt-get update && apt-get install -y --no-install-recommends chromium` or run scripts/install-chromium.sh, " +
    "or set SGDL_CHROMIUM to a chromium binary."
  );
}

/** The subset of the plotly.js browser API used here. */
interface PlotlyToImage {
  toImage(fig: unknown, opts: { format: "svg" | "png"; width: number; height: number; scale: number }): Promise<string>;
}

/** Renders one figure in the page; returns plotly's data URL. */
async function toImage(page: Page, fig: PlotlyFigure, format: "svg" | "png", width: number, height: number, scale: number): Promise<string> {
  return page.evaluate(
    (a) => (globalThis as unknown as { Plotly: PlotlyToImage }).Plotly.toImage(a.fig, { format: a.format, width: a.width, height: a.height, scale: a.scale }),
    { fig: { data: fig.data, layout: fig.layout }, format, width, height, scale },
  );
}

/** Decodes a data: URL (base64 or percent-encoded) into bytes. */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0) throw new Error(`exportFigures: plotly returned no data URL (got '${url.slice(0, 40)}...')`);
  const head = url.slice(0, comma);
  const body = url.slice(comma + 1);
  return head.endsWith(";base64") ? Buffer.from(body, "base64") : Buffer.from(decodeURIComponent(body), "utf8");
}

/** A vector PDF of the figure: print a page that holds only its SVG, at the figure's size. */
async function svgToPdf(page: Page, svg: string, width: number, height: number): Promise<Buffer> {
  const css = `@page{size:${width}px ${height}px;margin:0}html,body{margin:0;padding:0;overflow:hidden}svg{display:block}`;
  await page.setContent(`<!doctype html><html><head><style>${css}</style></head><body>${svg}</body></html>`);
  return page.pdf({ width: `${width}px`, height: `${height}px`, printBackground: true, pageRanges: "1" });
}

function checkBatch(figs: FigureToExport[], formats: ImageFormat[]): void {
  const seen = new Set<string>();
  for (const f of figs) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.name)) throw new Error(`exportFigures: figure name '${f.name}' must be a plain file name (letters, digits, '.', '_', '-')`);
    if (seen.has(f.name)) throw new Error(`exportFigures: figure name '${f.name}' appears twice in the batch`);
    seen.add(f.name);
  }
  for (const fmt of formats) if (fmt !== "svg" && fmt !== "png" && fmt !== "pdf") throw new Error(`exportFigures: unknown format '${String(fmt)}' (svg, png, pdf)`);
}

function sizeOf(f: FigureToExport): { width: number; height: number } {
  const width = f.width ?? f.figure.layout.width ?? 700;
  const height = f.height ?? f.figure.layout.height ?? 450;
  for (const [k, v] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`exportFigures: figure '${f.name}' ${k} must be a positive integer, got ${v}`);
  }
  return { width, height };
}

/** The browser's product string, e.g. "HeadlessChrome/156.0.8078.108". */
async function chromiumVersion(page: Page): Promise<string> {
  const cdp = await page.context().newCDPSession(page);
  try {
    return (await cdp.send("Browser.getVersion")).product;
  } finally {
    await cdp.detach();
  }
}

function plotlyVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(require.resolve("plotly.js-dist-min/package.json"), "utf8")) as { version: string };
  return pkg.version;
}

/** Writes each figure as SVG/PNG/PDF plus <name>.json (spec + provenance) into outDir with one chromium; returns the paths written. */
export async function exportFigures(figs: FigureToExport[], opts: ExportOptions = {}): Promise<string[]> {
  const outDir = opts.outDir ?? "figures";
  const formats = opts.formats ?? ["svg", "png", "pdf"];
  const scale = opts.pngScale ?? 2;
  checkBatch(figs, formats);
  const sizes = figs.map(sizeOf);
  if (figs.length === 0) return [];
  const exe = chromiumPath();
  if (!fs.existsSync(exe)) throw new Error(missingChromiumMessage(exe));

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-chromium-"));
  const written: string[] = [];
  try {
    let context;
    try {
      context = await chromium.launchPersistentContext(profile, { executablePath: exe, headless: true, args: CHROMIUM_FLAGS });
    } catch (err) {
      throw new Error(`exportFigures: chromium at ${exe} did not start: ${(err as Error).message}`);
    }
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.setContent("<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>");
      await page.addScriptTag({ path: require.resolve("plotly.js-dist-min") });
      const pdfPage = formats.includes("pdf") ? await context.newPage() : undefined;
      const renderer = { plotly: plotlyVersion(), chromium: await chromiumVersion(page), pngScale: scale };
      for (let i = 0; i < figs.length; i++) {
        const f = figs[i];
        const { width, height } = sizes[i];
        const files: string[] = [];
        const needSvg = formats.includes("svg") || pdfPage !== undefined;
        const svg = needSvg ? decodeDataUrl(await toImage(page, f.figure, "svg", width, height, 1)).toString("utf8") : "";
        for (const fmt of formats) {
          const file = path.join(outDir, `${f.name}.${fmt}`);
          const bytes =
            fmt === "svg" ? svg : fmt === "png" ? decodeDataUrl(await toImage(page, f.figure, "png", width, height, scale)) : await svgToPdf(pdfPage as Page, svg, width, height);
          writeFileAtomic(file, bytes);
          written.push(file);
          files.push(path.basename(file));
        }
        const meta = path.join(outDir, `${f.name}.json`);
        writeJsonAtomic(meta, {
          name: f.name,
          width,
          height,
          files,
          provenance: { ...(opts.provenance ?? {}), ...(f.provenance ?? {}) },
          renderer,
          figure: f.figure,
        });
        written.push(meta);
      }
    } finally {
      await context.close();
    }
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return written;
}
