/**
 * `sgdl data fetch NAME`: downloads a dataset from its origin (or a mirror),
 * checks every file's sha256, and moves it into place atomically. Files whose
 * sha256 is not published get it recorded on first download (CHECKSUMS.local).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { writeFileAtomic } from "../util/atomic";
import { extractZipEntry, readZipEntries } from "./zip";

/** One file a source yields: `from` is the archive entry (zip) or the URL's file name; `to` is relative to the data dir. */
export interface FetchFile {
  from: string;
  to: string;
  /** Published sha256 of the file; null when none is known (then trust on first use). */
  sha256: string | null;
}

/** One download: a ZIP archive to extract or a single file. */
export interface FetchSource {
  dataset: string;
  url: string;
  /** sha256 of the downloaded bytes; null when not known (a zip's files are still checked one by one). */
  sha256: string | null;
  /** MD5 of the archive as its origin publishes it: a cross-check; a mismatch is reported, the per-file sha256 decides. */
  md5?: string;
  bytes?: number;
  kind: "zip" | "file";
  files: FetchFile[];
}

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

const SGDL_COMMIT = "718ced927756badcd5f623708bd884dc7d7d5d2b";
const TCE_COMMIT = "451779a201d2b7b9f4929d35b791caf53f94b5f4";
const DECA_COMMIT = "8b04aa8c24c08c4519f559d25e4c3da34fe97bd3";
const MAX_REDIRECTS = 5;
const LOCAL_RECORD = "CHECKSUMS.local";

function rawGithub(dataset: string, repo: string, commit: string, repoPath: string, to: string, sha256: string | null): FetchSource {
  const from = repoPath.slice(repoPath.lastIndexOf("/") + 1);
  const url = `https://raw.githubusercontent.com/${repo}/${commit}/${repoPath}`;
  return { dataset, url, sha256, kind: "file", files: [{ from, to, sha256 }] };
}

function ml100kEntry(name: string, sha256: string): FetchFile {
  return { from: `ml-100k/${name}`, to: `ml-100k/${name}`, sha256 };
}

/** The known sources. Hashes: data/checksums.sha256 (kept equal by a test). */
export const SOURCES: readonly FetchSource[] = [
  {
    dataset: "ml-100k",
    url: "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    sha256: null, // not known here; each extracted file is checked instead
    md5: "0e33842e24a9c977be4e0107933c0723",
    kind: "zip",
    files: [
      ml100kEntry("u.data", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
      ml100kEntry("u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
      ml100kEntry("u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
      ml100kEntry("u.info", "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b"),
      ml100kEntry("u.genre", "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"),
      ml100kEntry("u.occupation", "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d"),
      ml100kEntry("README", "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52"),
    ],
  },
  ...(
    [
      ["ml100k.train.rating", "cbb6f864effa94ecb408553cefb6a5a77b704b8fce4c6c32b3683e6c02198f59"],
      ["ml100k.valid.rating", "1208c64bcb45247c91e74e3632ecd15de87b6133d084265be1066931686623bb"],
      ["ml100k.test.negative", "add19fe465be20e6721ea3aba40f183ea94054f0b692f0e7e2b1a57bea648bc7"],
    ] as const
  ).map(([f, h]) => rawGithub("ml-100k-sgdl", "ZJU-DAILY/SGDL", SGDL_COMMIT, `data/ml100k/${f}`, `ml-100k/sgdl/${f}`, h)),
  ...(
    [
      ["yelp.train.rating", null],
      ["yelp.valid.rating", "b15a9a833b842c66d442491c405c0ebdfc7c449bef118d9e2de2eaff698e1141"],
      ["yelp.test.negative", "9d3bca71dd3f54bcd5b1e287bdc09d3f6e7d6f8b03efd666d5be9674d6144851"],
    ] as const
  ).map(([f, h]) => rawGithub("yelp", "WenjieWWJ/DenoisingRec", TCE_COMMIT, `data/yelp/${f}`, `yelp/${f}`, h)),
  ...(
    [
      ["adressa.train.rating", null],
      ["adressa.valid.rating", "715c3949f8845f99f14964b26c735e8926b0fa5e32f7639edf3983905a971ef4"],
      ["adressa.test.negative", null],
    ] as const
  ).map(([f, h]) => rawGithub("adressa", "WenjieWWJ/DenoisingRec", TCE_COMMIT, `data/adressa/${f}`, `adressa/${f}`, h)),
  // T-CE's own test file uses "(u, i)\tneg..." lines; DeCA's copy of the test positives is plain "u\ti\t1".
  rawGithub("adressa", "wangyu-ustc/DeCA", DECA_COMMIT, "data/adressa/adressa.test.negative", "adressa/deca/adressa.test.negative",
    "69f4efed142360c45571eeafe6ef81634ac8aa9d4c150e3f4be63c55609c4435"),
];

/** The names `sgdl data fetch` accepts. */
export const FETCH_NAMES: readonly string[] = [...new Set(SOURCES.map((s) => s.dataset))];

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

interface Downloaded {
  sha256: string;
  md5: string;
  bytes: number;
  /** The first bytes, to recognise a Git LFS pointer. */
  head: Buffer;
}

async function download(url: string, tmp: string, bytes: number | undefined, opts: FetchOptions): Promise<Downloaded> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const res = await openUrl(url, timeoutMs, 0);
  const header = Number(res.headers["content-length"]);
  const total = Number.isFinite(header) && header >= 0 ? header : bytes;
  const sha = crypto.createHash("sha256");
  const md5 = crypto.createHash("md5");
  let received = 0;
  let head = Buffer.alloc(0);
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done): void {
      sha.update(chunk);
      md5.update(chunk);
      if (head.length < 64) head = Buffer.concat([head, chunk.subarray(0, 64 - head.length)]);
      received += chunk.length;
      opts.onProgress?.(received, total);
      done(null, chunk);
    },
  });
  fs.mkdirSync(path.dirname(tmp), { recursive: true });
  try {
    await pipeline(res, tap, fs.createWriteStream(tmp, { flags: "wx" }));
  } catch (err) {
    throw new Error(`${url}: download failed after ${received} bytes: ${(err as Error).message}`);
  }
  if (Number.isFinite(header) && received !== header) throw new Error(`${url}: connection closed after ${received} of ${header} bytes`);
  return { sha256: sha.digest("hex"), md5: md5.digest("hex"), bytes: received, head };
}

function openUrl(url: string, timeoutMs: number, redirects: number, first = url): Promise<http.IncomingMessage> {
  const where = first === url ? url : `${first} (redirected to ${url})`;
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new Error(`invalid URL '${where}'`));
      return;
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      reject(new Error(`${where}: only http and https URLs are supported`));
      return;
    }
    const get = u.protocol === "https:" ? https.get : http.get;
    const req = get(u, { agent: false, headers: { "user-agent": "sgdl-kit", accept: "*/*" } }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) reject(new Error(`${where}: more than ${MAX_REDIRECTS} redirects`));
        else resolve(openUrl(new URL(location, u).toString(), timeoutMs, redirects + 1, first));
      } else if (status !== 200) {
        res.resume();
        reject(new Error(`${where}: HTTP ${status} ${res.statusMessage ?? ""}`.trimEnd()));
      } else {
        resolve(res);
      }
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data for ${timeoutMs} ms (timeout)`)));
    req.on("error", (err) => reject(new Error(`${where}: ${err.message}`)));
  });
}

function isLfsPointer(head: Buffer): boolean {
  return head.toString("latin1").startsWith("version https://git-lfs");
}

function lfsError(label: string, url: string, head: Buffer): Error {
  return new Error(`${label}: the server sent a Git LFS pointer instead of the file (${url}): the file is stored with Git LFS upstream ` +
    `and this URL does not serve its content. Get it with "git lfs pull" in a clone of the origin repository, or fetch from a mirror. Pointer: ${head.toString("latin1").split("\n")[0]}...`);
}

/** Hashes recorded on first use, one `CHECKSUMS.local` per dataset folder, in `sha256sum` format. */
class LocalRecords {
  private readonly cache = new Map<string, Map<string, string>>();

  constructor(private readonly dataDir: string) {}

  fileFor(to: string): string {
    return path.join(this.dataDir, to.split("/")[0], LOCAL_RECORD);
  }

  get(to: string): string | null {
    return this.load(to).get(this.key(to)) ?? null;
  }

  set(to: string, sha256: string): void {
    const m = this.load(to);
    m.set(this.key(to), sha256);
    const lines = [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, h]) => `${h}  ${k}\n`);
    writeFileAtomic(this.fileFor(to), lines.join(""));
  }

  private key(to: string): string {
    return to.split("/").slice(1).join("/");
  }

  private load(to: string): Map<string, string> {
    const file = this.fileFor(to);
    let m = this.cache.get(file);
    if (m === undefined) {
      m = new Map();
      if (fs.existsSync(file)) {
        for (const line of fs.readFileSync(file, "utf8").split("\n")) {
          const hit = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
          if (hit) m.set(hit[2], hit[1]);
        }
      }
      this.cache.set(file, m);
    }
    return m;
  }
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash("sha256");
    fs.createReadStream(file)
      .on("data", (c) => h.update(c))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
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
