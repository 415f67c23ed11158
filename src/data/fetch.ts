/**
 * `sgdl data fetch NAME`: downloads a dataset from its origin (or a mirror),
 * checks every file's sha256, and moves it into place atomically. Files whose
 * sha256 is not published get it recorded on first download (CHECKSUMS.local).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../util/atomic";
import { LocalRecords } from "./checksums-local";
import { download, isLfsPointer, lfsError, sha256File } from "./download";
import { SOURCES, type FetchFile, type FetchSource } from "./sources";
import { extractZipEntry, readZipEntries } from "./zip";

export { FETCH_NAMES, SOURCES, type FetchFile, type FetchSource } from "./sources";


/** Options of fetchDataset / fetchFromSource. */
export interface FetchOptions {
  dataDir: string;
  /** Mirror root: files are fetched from `<baseUrl>/<to>`, archives from `<baseUrl>/<archive name>`. */
  baseUrl?: string;
  force?: boolean;
  onProgress?: (received: number, total?: number) => void;
  /** One line per step: what is downloaded, skipped, verified, recorded. */
  onMessage?: (line: string) => void;
  /** Replaces the built-in table (tests, private mirrors). */
  sources?: readonly FetchSource[];
  /** Idle socket timeout per request, ms (default 60 s). */
  timeoutMs?: number;
}

/** What a fetch did: every file's path, whether nothing had to be downloaded, which hashes were trusted on first use. */
export interface FetchResult {
  files: string[];
  skipped: boolean;
  recorded: string[];
}


/** A downloaded or extracted file whose sha256 is not the expected one. */
export class ChecksumError extends Error {
  constructor(readonly file: string, readonly expected: string, readonly actual: string, detail: string) {
    super(`${file}: sha256 mismatch: expected ${expected}, got ${actual} (${detail}); the download was deleted`);
    this.name = "ChecksumError";
  }
}

/** Some downloads of a dataset failed; `errors` holds each one, the message lists them all. */
export class FetchError extends Error {
  constructor(readonly dataset: string, readonly errors: Error[], downloads: number, installed: number) {
    const ok = installed > 0 ? ` (${installed} other files are in place and verified)` : "";
    super(`fetch ${dataset}: ${errors.length} of ${downloads} downloads failed${ok}:\n  - ${errors.map((x) => x.message).join("\n  - ")}`);
    this.name = "FetchError";
  }
}

/** Downloads, verifies and installs every file of a dataset; on failures the rest is still fetched, then one error lists them. */
export async function fetchDataset(name: string, opts: FetchOptions): Promise<FetchResult> {
  const table = opts.sources ?? SOURCES;
  const sources = table.filter((s) => s.dataset === name);
  if (sources.length === 0) {
    const names = [...new Set(table.map((s) => s.dataset))];
    throw new Error(`unknown dataset '${name}' for fetch; known: ${names.join(", ")}`);
  }
  const result: FetchResult = { files: [], skipped: true, recorded: [] };
  const errors: Error[] = [];
  for (const source of sources) {
    try {
      const r = await fetchFromSource(source, opts);
      result.files.push(...r.files);
      result.recorded.push(...r.recorded);
      result.skipped = result.skipped && r.skipped;
    } catch (err) {
      errors.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  if (errors.length > 0) {
    throw new FetchError(name, errors, sources.length, result.files.length);
  }
  return result;
}

/** Fetches one source: skips files already present with the right sha256 (unless force), else downloads, verifies, installs. */
export async function fetchFromSource(source: FetchSource, opts: FetchOptions): Promise<FetchResult> {
  if (source.kind === "file" && source.files.length !== 1) throw new Error(`source ${source.url}: a 'file' source must list exactly one file`);
  const say = opts.onMessage ?? ((): void => undefined);
  const records = new LocalRecords(opts.dataDir);
  const targets = source.files.map((f) => path.join(opts.dataDir, f.to));
  const recorded: string[] = [];
  const expectedOf = (f: FetchFile): string | null => f.sha256 ?? records.get(f.to);

  const todo: FetchFile[] = [];
  for (const f of source.files) {
    const target = path.join(opts.dataDir, f.to);
    if (opts.force || !fs.existsSync(target)) {
      todo.push(f);
      continue;
    }
    const actual = await sha256File(target);
    const expected = expectedOf(f);
    if (expected === null) {
      records.set(f.to, actual);
      recorded.push(target);
      say(`${f.to}: present; no published sha256, recorded ${actual} in ${records.fileFor(f.to)} (trust on first use)`);
    } else if (actual === expected) {
      say(`${f.to}: present, sha256 verified, skipped`);
    } else {
      say(`${f.to}: present but its sha256 is ${actual}, expected ${expected}: downloading again`);
      todo.push(f);
    }
  }
  if (todo.length === 0) return { files: targets, skipped: true, recorded };

  const url = opts.baseUrl ? joinUrl(opts.baseUrl, mirrorPath(source)) : source.url;
  const label = source.kind === "zip" ? path.basename(new URL(url).pathname) : source.files[0].to;
  const tmp = tempPath(source.kind === "zip" ? path.join(opts.dataDir, label) : targets[0]);
  say(`downloading ${url}`);
  try {
    const got = await download(url, tmp, source.bytes, opts);
    if (isLfsPointer(got.head)) throw lfsError(label, url, got.head);
    if (source.kind === "file") {
      const f = source.files[0];
      installFile(f, tmp, got.sha256, expectedOf(f) ?? source.sha256, url, opts, records, recorded);
    } else {
      if (source.sha256 !== null && got.sha256 !== source.sha256) throw new ChecksumError(label, source.sha256, got.sha256, `downloaded from ${url}`);
      if (source.md5 !== undefined) {
        say(got.md5 === source.md5
          ? `${label}: md5 ${got.md5} matches the published one`
          : `${label}: warning: md5 ${got.md5} differs from the published ${source.md5}; the extracted files' sha256 decide`);
      }
      const archive = fs.readFileSync(tmp);
      fs.rmSync(tmp, { force: true });
      extractAndInstall(archive, label, todo, opts.dataDir, expectedOf, records, recorded, say);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return { files: targets, skipped: false, recorded };
}

/** Runs fetchDataset for the CLI: one line per step and download progress every 10 % (or 4 MiB) to `out`. */
export async function fetchDatasetVerbose(name: string, opts: FetchOptions, out: (line: string) => void): Promise<FetchResult> {
  let step = -1;
  const onProgress = (received: number, total?: number): void => {
    const s = total ? Math.floor((10 * received) / total) : Math.floor(received / (4 << 20));
    if (s === step) return;
    step = s;
    out(total ? `  ${mib(received)} / ${mib(total)} (${Math.floor((100 * received) / total)} %)` : `  ${mib(received)}`);
  };
  const onMessage = (line: string): void => {
    step = -1;
    out(line);
  };
  const result = await fetchDataset(name, { onProgress, onMessage, ...opts });
  for (const f of result.recorded) {
    out(`note: ${path.relative(opts.dataDir, f)} has no published sha256; it was checked only against the hash recorded on first use`);
  }
  return result;
}

function installFile(f: FetchFile, tmp: string, actual: string, expected: string | null, url: string, opts: FetchOptions,
  records: LocalRecords, recorded: string[]): void {
  const target = path.join(opts.dataDir, f.to);
  if (expected !== null && actual !== expected) {
    const where = f.sha256 === null ? `downloaded from ${url}; expected is the hash recorded in ${records.fileFor(f.to)}: delete that line to accept the new file` : `downloaded from ${url}`;
    throw new ChecksumError(f.to, expected, actual, where);
  }
  fs.renameSync(tmp, target);
  if (expected === null) {
    records.set(f.to, actual);
    recorded.push(target);
    opts.onMessage?.(`${f.to}: no published sha256; recorded ${actual} in ${records.fileFor(f.to)} (trust on first use: later runs detect changes)`);
  } else {
    opts.onMessage?.(`${f.to}: sha256 verified`);
  }
}

function extractAndInstall(archive: Buffer, label: string, todo: FetchFile[], dataDir: string, expectedOf: (f: FetchFile) => string | null,
  records: LocalRecords, recorded: string[], say: (line: string) => void): void {
  const entries = new Map(readZipEntries(archive, label).map((e) => [e.name, e]));
  const errors: string[] = [];
  for (const f of todo) {
    const entry = entries.get(f.from);
    if (entry === undefined) {
      errors.push(`${label}: no entry '${f.from}' in the archive`);
      continue;
    }
    const data = extractZipEntry(archive, entry, label);
    const actual = crypto.createHash("sha256").update(data).digest("hex");
    const expected = expectedOf(f);
    if (expected !== null && actual !== expected) {
      errors.push(new ChecksumError(f.to, expected, actual, `entry '${f.from}' of ${label}`).message);
      continue;
    }
    writeFileAtomic(path.join(dataDir, f.to), data);
    if (expected === null) {
      records.set(f.to, actual);
      recorded.push(path.join(dataDir, f.to));
      say(`${f.to}: no published sha256; recorded ${actual} in ${records.fileFor(f.to)} (trust on first use)`);
    } else {
      say(`${f.to}: extracted, sha256 verified`);
    }
  }
  if (errors.length > 0) throw new Error(errors.join("\n  - "));
}


function mirrorPath(source: FetchSource): string {
  return source.kind === "file" ? source.files[0].to : path.posix.basename(new URL(source.url).pathname);
}

function joinUrl(base: string, rel: string): string {
  return `${base.replace(/\/+$/, "")}/${rel.split("/").map(encodeURIComponent).join("/")}`;
}

function tempPath(beside: string): string {
  return `${beside}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}
