/**
 * From rows read out of source files to a Dataset: dense ids, duplicate pairs,
 * pairs shared by two splits, cold-start rows, the fingerprint. Shared by all
 * file loaders so each rule is written once.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError, type DataWarning, type InputLocation } from "../util/errors";
import type { Dataset, SourceCounts } from "./dataset";
import { fromTriples } from "./interactions";

/** Rows of one split as parallel arrays, with the 1-based line of the source file each row came from. */
export interface Rows {
  readonly file: string;
  readonly users: Int32Array;
  readonly items: Int32Array;
  readonly noisy: Uint8Array;
  readonly lines: Int32Array;
}

/** The rows whose keep flag is set. */
export function selectRows(r: Rows, keep: Uint8Array): Rows {
  let n = 0;
  for (let k = 0; k < keep.length; k++) n += keep[k];
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  const noisy = new Uint8Array(n);
  const lines = new Int32Array(n);
  let j = 0;
  for (let k = 0; k < keep.length; k++) {
    if (!keep[k]) continue;
    users[j] = r.users[k];
    items[j] = r.items[k];
    noisy[j] = r.noisy[k];
    lines[j] = r.lines[k];
    j++;
  }
  return { file: r.file, users, items, noisy, lines };
}

/** Sorted distinct ids over several lists, and each list mapped to its position there (dense 0-based ids). */
export function reindex(lists: readonly Int32Array[]): { original: Int32Array; dense: Int32Array[] } {
  let total = 0;
  for (const l of lists) total += l.length;
  const all = new Int32Array(total);
  let o = 0;
  for (const l of lists) {
    all.set(l, o);
    o += l.length;
  }
  all.sort();
  let m = 0;
  for (let k = 0; k < total; k++) if (k === 0 || all[k] !== all[k - 1]) all[m++] = all[k];
  const original = all.slice(0, m);
  const dense = lists.map((l) => mapIds(l, original));
  return { original, dense };
}

function mapIds(ids: Int32Array, original: Int32Array): Int32Array {
  const out = new Int32Array(ids.length);
  const max = original.length === 0 ? 0 : original[original.length - 1];
  if (max < 1 << 26) {
    const table = new Int32Array(max + 1);
    for (let k = 0; k < original.length; k++) table[original[k]] = k;
    for (let k = 0; k < ids.length; k++) out[k] = table[ids[k]];
    return out;
  }
  for (let k = 0; k < ids.length; k++) {
    let lo = 0;
    let hi = original.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (original[mid] < ids[k]) lo = mid + 1;
      else hi = mid;
    }
    out[k] = lo;
  }
  return out;
}

/** Row order grouped by user, file order kept within a user (a stable counting sort). */
function byUser(users: Int32Array, nUsers: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(nUsers + 1);
  for (let k = 0; k < users.length; k++) start[users[k] + 1]++;
  for (let u = 0; u < nUsers; u++) start[u + 1] += start[u];
  const fill = start.slice(0, nUsers);
  const order = new Int32Array(users.length);
  for (let k = 0; k < users.length; k++) order[fill[users[k]]++] = k;
  return { start, order };
}

/**
 * Pairs of rows (later, earlier) where `later` repeats the (user, item) pair of
 * an earlier row, or, with `other`, where a row of `other` has a pair of `rows`.
 * Ids must be dense (< nUsers, < nItems). Sorted by the later row. O(n).
 */
export function repeatedPairs(
  rows: Rows,
  nUsers: number,
  nItems: number,
  other?: Rows,
): { later: Int32Array; earlier: Int32Array } {
  const a = byUser(rows.users, nUsers);
  const b = other === undefined ? undefined : byUser(other.users, nUsers);
  const stamp = new Int32Array(nItems).fill(-1);
  const at = new Int32Array(nItems);
  const hits: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let p = a.start[u]; p < a.start[u + 1]; p++) {
      const k = a.order[p];
      const i = rows.items[k];
      if (b === undefined && stamp[i] === u) hits.push(k, at[i]);
      else if (stamp[i] !== u) {
        stamp[i] = u;
        at[i] = k;
      }
    }
    if (b === undefined || other === undefined) continue;
    for (let p = b.start[u]; p < b.start[u + 1]; p++) {
      const k = b.order[p];
      if (stamp[other.items[k]] === u) hits.push(k, at[other.items[k]]);
    }
  }
  const idx = Array.from({ length: hits.length / 2 }, (_, j) => j).sort((x, y) => hits[2 * x] - hits[2 * y]);
  return { later: Int32Array.from(idx, (j) => hits[2 * j]), earlier: Int32Array.from(idx, (j) => hits[2 * j + 1]) };
}

/**
 * Handles rows that repeat a (user, item) pair within one split: an error, or
 * (policy "drop") later repeats are dropped with one counted warning. Any id space.
 */
export function dropDuplicatePairs(rows: Rows, policy: "error" | "drop", warnings: DataWarning[]): Rows {
  const us = reindex([rows.users]);
  const it = reindex([rows.items]);
  const local: Rows = { ...rows, users: us.dense[0], items: it.dense[0] };
  const rep = repeatedPairs(local, us.original.length, it.original.length);
  if (rep.later.length === 0) return rows;
  const k = rep.later[0];
  const where = `line ${rows.lines[k]} repeats line ${rows.lines[rep.earlier[0]]}`;
  const pair = `(${rows.users[k]}, ${rows.items[k]})`;
  if (policy === "error") {
    throw new DataError(
      { file: rows.file, line: rows.lines[k], field: "item" },
      `duplicate (user, item) pair ${pair}: ${where}`,
    );
  }
  warnings.push({
    kind: "duplicate-pair",
    count: rep.later.length,
    first: { file: rows.file, line: rows.lines[k], field: "item" },
    message: `${rep.later.length} rows repeat an earlier (user, item) pair of the same file and were dropped (first: ${pair}, ${where})`,
  });
  const keep = new Uint8Array(rows.users.length).fill(1);
  for (let j = 0; j < rep.later.length; j++) keep[rep.later[j]] = 0;
  return selectRows(rows, keep);
}

/** Everything a loader has worked out; buildDataset checks the splits against each other and assembles. */
export interface DatasetParts {
  name: string;
  description: string;
  files: string[];
  fingerprint: string;
  source: SourceCounts;
  originalUserIds: Int32Array;
  originalItemIds: Int32Array;
  /** Dense ids, no repeated pair within a split. */
  train: Rows;
  valid: Rows;
  test: Rows;
  warnings: DataWarning[];
}

/**
 * Assembles a Dataset: a pair in two splits is an error; noisy test rows are
 * dropped (the test set is clean, paper 4.1.1); valid and test rows whose user
 * or item never occurs in train are kept, as the official SGDL and T-CE code
 * keep them (their ids are in the id space), and counted in one warning per split.
 */
export function buildDataset(p: DatasetParts): Dataset {
  const nUsers = p.originalUserIds.length;
  const nItems = p.originalItemIds.length;
  const ids = { users: p.originalUserIds, items: p.originalItemIds };
  assertDisjoint(p.train, p.valid, "train", nUsers, nItems, ids);
  assertDisjoint(p.train, p.test, "train", nUsers, nItems, ids);
  assertDisjoint(p.valid, p.test, "valid", nUsers, nItems, ids);
  const warnings = p.warnings.slice();
  const test = dropNoisy(p.test, warnings);
  const seen = trainCounts(p.train, nUsers, nItems);
  warnColdStart(p.valid, "valid", seen, warnings);
  warnColdStart(test, "test", seen, warnings);
  const csr = (r: Rows) => fromTriples(nUsers, nItems, r.users, r.items, r.noisy);
  return {
    name: p.name,
    nUsers,
    nItems,
    originalUserIds: p.originalUserIds,
    originalItemIds: p.originalItemIds,
    train: csr(p.train),
    valid: csr(p.valid),
    test: csr(test),
    source: p.source,
    fingerprint: p.fingerprint,
    files: p.files,
    warnings,
    description: p.description,
  };
}

function assertDisjoint(
  a: Rows,
  b: Rows,
  aName: string,
  nUsers: number,
  nItems: number,
  ids: { users: Int32Array; items: Int32Array },
): void {
  const rep = repeatedPairs(a, nUsers, nItems, b);
  if (rep.later.length === 0) return;
  const k = rep.later[0];
  const e = rep.earlier[0];
  throw new DataError(
    { file: b.file, line: b.lines[k], field: "item" },
    `(user, item) pair (${ids.users[b.users[k]]}, ${ids.items[b.items[k]]}) is also in the ${aName} split ` +
      `(${path.basename(a.file)} line ${a.lines[e]}); ${rep.later.length} pair(s) are shared by the two splits`,
  );
}

function trainCounts(train: Rows, nUsers: number, nItems: number): { users: Int32Array; items: Int32Array } {
  const users = new Int32Array(nUsers);
  const items = new Int32Array(nItems);
  for (let k = 0; k < train.users.length; k++) {
    users[train.users[k]]++;
    items[train.items[k]]++;
  }
  return { users, items };
}

function dropNoisy(test: Rows, warnings: DataWarning[]): Rows {
  const keep = Uint8Array.from(test.noisy, (f) => (f ? 0 : 1));
  const dropped = test.noisy.length - keep.reduce((s, x) => s + x, 0);
  if (dropped === 0) return test;
  const k = keep.indexOf(0);
  warnings.push({
    kind: "noisy-test",
    count: dropped,
    first: { file: test.file, line: test.lines[k], field: "flag" },
    message: `${dropped} noisy test rows (flag 0) were dropped: the test set keeps clean interactions only`,
  });
  return selectRows(test, keep);
}

// A user or item absent from train keeps its initial embedding: such rows stay (as in the official code) but are counted.
function warnColdStart(
  rows: Rows,
  split: string,
  seen: { users: Int32Array; items: Int32Array },
  warnings: DataWarning[],
): void {
  const keep = new Uint8Array(rows.users.length);
  let newUser = 0;
  let newItem = 0;
  let first: InputLocation | undefined;
  for (let k = 0; k < keep.length; k++) {
    const uOk = seen.users[rows.users[k]] > 0;
    const iOk = seen.items[rows.items[k]] > 0;
    keep[k] = uOk && iOk ? 1 : 0;
    if (!uOk) newUser++;
    else if (!iOk) newItem++;
    if (!keep[k] && first === undefined) first = { file: rows.file, line: rows.lines[k], field: uOk ? "item" : "user" };
  }
  if (first === undefined) return;
  warnings.push({
    kind: "cold-start",
    count: newUser + newItem,
    first,
    message:
      `${newUser + newItem} ${split} rows have a user (${newUser}) or item (${newItem}) that never occurs in the train ` +
      `split; they are kept, as the official code keeps them, though the model never trains on them`,
  });
}

/** sha256 over each source file (base name, size, bytes) and the loader options as JSON: the dataset's cache key. */
export function fingerprintOf(files: readonly { file: string; bytes: Uint8Array }[], options: object): string {
  const h = createHash("sha256");
  for (const f of files) {
    h.update(`${path.basename(f.file)}\0${f.bytes.length}\0`);
    h.update(f.bytes);
  }
  h.update(JSON.stringify(options));
  return h.digest("hex");
}

/** The first of the candidate paths that exists; otherwise a DataError naming the file, where it was looked for, and how to get it. */
export function findFile(candidates: readonly string[], howToGet: string): string {
  for (const c of candidates) if (fs.existsSync(c)) return c;
  const where = candidates.map((c) => path.dirname(c)).join(" and ");
  throw new DataError({ file: candidates[0] }, `${path.basename(candidates[0])} not found (looked in ${where}). ${howToGet}`);
}
