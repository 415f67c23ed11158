/** Tables (arquero) rendered inline as HTML, with a caption and per-column number formats. */
import * as aq from "arquero";
import { displayBundle } from "./display";

export type Table = ReturnType<typeof aq.table>;
export type CellFormat = (value: unknown) => string;

export interface TableOptions {
  /** Shown above the table, e.g. "Table 1: dataset statistics". */
  caption?: string;
  /** Per-column formatter; numbers default to thousands separators and up to 4 decimals. */
  format?: Record<string, CellFormat>;
  /** Rows to show at most (default all). */
  limit?: number;
}

/** Formats a number as the paper prints it: thousands separators, at most `digits` decimals. */
export function formatNumber(v: unknown, digits = 4): string {
  if (typeof v !== "number") return v === null || v === undefined ? "" : String(v);
  if (!Number.isFinite(v)) return String(v);
  return v.toLocaleString("en-US", { maximumFractionDigits: digits });
}

function formats(t: Table, opts: TableOptions): Record<string, CellFormat> {
  const out: Record<string, CellFormat> = {};
  for (const name of t.columnNames()) out[name] = opts.format?.[name] ?? ((v: unknown) => formatNumber(v));
  return out;
}

/** The table as an HTML fragment (a figure with a caption). */
export function tableHtml(t: Table, opts: TableOptions = {}): string {
  const body = t.toHTML({ limit: opts.limit ?? Infinity, format: formats(t, opts) });
  const caption = opts.caption ? `<figcaption style="font-weight:bold;margin:4px 0">${escapeHtml(opts.caption)}</figcaption>` : "";
  return `<figure class="sgdl-table" style="margin:0">${caption}${body}</figure>`;
}

/** The table as aligned plain text, for terminals, logs and text/plain. */
export function tableText(t: Table, opts: TableOptions = {}): string {
  const names = t.columnNames();
  const f = formats(t, opts);
  const rows = t.objects({ limit: opts.limit ?? Infinity }).map((r) => names.map((n) => f[n]((r as Record<string, unknown>)[n])));
  const widths = names.map((n, j) => Math.max(n.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]): string => cells.map((c, j) => c.padStart(widths[j])).join("  ");
  return [opts.caption ?? "", line(names), ...rows.map(line)].filter((s) => s !== "").join("\n");
}

/** Displays the table inline in a notebook (HTML + plain text), or prints it outside one. */
export function showTable(t: Table, opts: TableOptions = {}): void {
  displayBundle({ "text/html": tableHtml(t, opts), "text/plain": tableText(t, opts) });
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
