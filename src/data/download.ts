/** One HTTP(S) download to a temporary file: redirects, timeout, progress, sha256 and MD5 on the fly, Git LFS pointers recognised. */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

const MAX_REDIRECTS = 5;

/** What a download needs to know: the idle timeout and where to report progress. */
export interface DownloadOptions {
  /** Idle socket timeout per request, ms (default 60 s). */
  timeoutMs?: number;
  onProgress?: (received: number, total?: number) => void;
}

export interface Downloaded {
  sha256: string;
  md5: string;
  bytes: number;
  /** The first bytes, to recognise a Git LFS pointer. */
  head: Buffer;
}

/** Streams url into tmp (created exclusively), hashing as it goes. */
export async function download(url: string, tmp: string, bytes: number | undefined, opts: DownloadOptions): Promise<Downloaded> {
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

/** Whether the first bytes are a Git LFS pointer rather than the file. */
export function isLfsPointer(head: Buffer): boolean {
  return head.toString("latin1").startsWith("version https://git-lfs");
}

/** The error for a Git LFS pointer served in place of a file. */
export function lfsError(label: string, url: string, head: Buffer): Error {
  return new Error(`${label}: the server sent a Git LFS pointer instead of the file (${url}): the file is stored with Git LFS upstream ` +
    `and this URL does not serve its content. Get it with "git lfs pull" in a clone of the origin repository, or fetch from a mirror. Pointer: ${head.toString("latin1").split("\n")[0]}...`);
}

/** sha256 of a file on disk, streamed. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash("sha256");
    fs.createReadStream(file)
      .on("data", (c) => h.update(c))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}
