/**
 * Progress of long work, driven by events: a bar redrawn in place on a
 * terminal (plain lines every 10 % when the output is a file or pipe), and one
 * output line that updates itself in a tslab notebook (display_data with a
 * display_id, then update_display_data, both supported by tslab 1.0.22).
 */
import * as crypto from "node:crypto";
import { displayBundle, inNotebook } from "./display";

/** One step of some task: `done` of `total` units, plus numbers worth showing (loss, recall, ...). */
export interface ProgressEvent {
  label: string;
  done: number;
  total: number;
  info?: Record<string, number | string>;
}

/** Receives progress events; `end` finishes the output (newline, last update). */
export interface ProgressReporter {
  update(e: ProgressEvent): void;
  end(): void;
}

/** What terminalProgress writes to: process.stdout/stderr or anything with write (and maybe isTTY). */
export interface ProgressStream {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Bar width in characters (default 30). */
  width?: number;
  /** Non-TTY only: print a line each time progress crosses this fraction (default 0.1). */
  every?: number;
  /** Least milliseconds between redraws (default 100 on a TTY, 250 in a notebook). */
  interval?: number;
  /** Clock in ms, replaceable for tests (default Date.now). */
  now?: () => number;
}

/** done/total clamped to [0, 1]; an empty task (total <= 0) counts as complete. */
export function fractionDone(e: ProgressEvent): number {
  if (!(e.total > 0)) return 1;
  return Math.min(1, Math.max(0, e.done / e.total));
}

/** Formats info values: integers as they are, other numbers to 4 significant digits. */
export function formatInfo(info: Record<string, number | string> | undefined): string {
  if (!info) return "";
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? String(Number(v.toPrecision(4))) : String(v)}`)
    .join(" ");
}

/** The progress line: `label [#####-----] done/total pct% key=value ...`. */
export function formatProgress(e: ProgressEvent, width = 30): string {
  const f = fractionDone(e);
  const filled = Math.floor(f * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  const info = formatInfo(e.info);
  return `${e.label} [${bar}] ${e.done}/${e.total} ${Math.floor(f * 100)}%${info ? " " + info : ""}`;
}

/** A bar redrawn with \r on a TTY; otherwise one plain line per `every` of progress (and at each new label). */
export function terminalProgress(stream: ProgressStream, opts: ProgressOptions = {}): ProgressReporter {
  const width = opts.width ?? 30;
  const now = opts.now ?? Date.now;
  if (stream.isTTY) {
    const interval = opts.interval ?? 100;
    let last = -Infinity;
    let pending: ProgressEvent | undefined;
    let drawn = false;
    const draw = (e: ProgressEvent): void => {
      let line = formatProgress(e, width);
      if (stream.columns && line.length >= stream.columns) line = line.slice(0, stream.columns - 1);
      stream.write(`\r${line}\x1b[K`);
      drawn = true;
      pending = undefined;
      last = now();
    };
    return {
      update(e) {
        if (e.done >= e.total || now() - last >= interval) draw(e);
        else pending = e;
      },
      end() {
        if (pending) draw(pending);
        if (drawn) stream.write("\n");
        drawn = false;
      },
    };
  }
  const every = opts.every ?? 0.1;
  if (!(every > 0 && every <= 1)) throw new Error(`terminalProgress: every must be in (0, 1], got ${every}`);
  let label: string | undefined;
  let step = -1;
  return {
    update(e) {
      const s = Math.floor(fractionDone(e) / every + 1e-9);
      if (e.label !== label || s > step) {
        stream.write(formatProgress(e, width) + "\n");
        label = e.label;
        step = s;
      }
    },
    end() {},
  };
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The notebook line as a MIME bundle: an HTML <progress> bar and the plain-text line. */
export function progressBundle(e: ProgressEvent, width = 30): Record<string, string> {
  const f = fractionDone(e);
  const info = formatInfo(e.info);
  const html =
    `<div class="sgdl-progress" style="font-family:monospace">${escapeHtml(e.label)} ` +
    `<progress value="${f.toFixed(4)}" max="1" style="width:16em;vertical-align:middle"></progress> ` +
    `${e.done}/${e.total} ${Math.floor(f * 100)}%${info ? " " + escapeHtml(info) : ""}</div>`;
  return { "text/html": html, "text/plain": formatProgress(e, width) };
}

/**
 * One output line that updates in place in a tslab notebook (the first event
 * creates it with a display_id, later ones send update_display_data). Outside a
 * notebook it falls back to terminalProgress(process.stdout).
 */
export function notebookProgress(opts: ProgressOptions = {}): ProgressReporter {
  if (!inNotebook()) return terminalProgress(process.stdout, opts);
  const id = `sgdl-progress-${crypto.randomBytes(6).toString("hex")}`;
  const now = opts.now ?? Date.now;
  const interval = opts.interval ?? 250;
  let shown = false;
  let last = -Infinity;
  let pending: ProgressEvent | undefined;
  const send = (e: ProgressEvent): void => {
    displayBundle(progressBundle(e, opts.width), id, shown);
    shown = true;
    pending = undefined;
    last = now();
  };
  return {
    update(e) {
      if (!shown || e.done >= e.total || now() - last >= interval) send(e);
      else pending = e;
    },
    end() {
      if (pending) send(pending);
    },
  };
}

/** The reporter that fits where the code runs: a notebook line in tslab, else a bar on stderr. */
export function autoProgress(opts: ProgressOptions = {}): ProgressReporter {
  return inNotebook() ? notebookProgress(opts) : terminalProgress(process.stderr, opts);
}
