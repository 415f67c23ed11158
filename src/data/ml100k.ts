/**
 * MovieLens-100K from GroupLens's u.data (`user \t item \t rating \t timestamp`,
 * 1-based ids): noisy = rating < 3 (paper 4.1.1), then a seeded per-user 8:1:1
 * split whose test split keeps clean interactions only.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DataWarning } from "../util/errors";
import { buildDataset, dropDuplicatePairs, findFile, fingerprintOf, reindex, type Rows } from "./build";
import type { Dataset } from "./dataset";
import { fromTriples, userOf, type Interactions } from "./interactions";
import { idField, parseTable, type FieldSpec } from "./parse";
import { splitPerUser } from "./split";

/** The split seed when none is given. */
export const ML100K_DEFAULT_SEED = 2020;
/** Train : valid : test (paper 4.1.2). */
export const ML100K_RATIOS: readonly [number, number, number] = [8, 1, 1];

const FIELDS: readonly FieldSpec[] = [
  idField("user", 1),
  idField("item", 1),
  { name: "rating", min: 1, max: 5, why: "MovieLens ratings are 1..5 stars" },
  { name: "timestamp", min: 0, max: Number.MAX_SAFE_INTEGER },
];

const HOW_TO_GET =
  "It is GroupLens's MovieLens-100K (https://grouplens.org/datasets/movielens/100k/, ml-100k.zip): " +
  "run `sgdl data fetch ml-100k` or unzip it there.";

/** The u.data path under a data dir. */
export function ml100kFile(dataDir: string): string {
  return path.join(dataDir, "ml-100k", "u.data");
}

/** Loads ML-100K and splits it 8:1:1 per user with the given seed (default 2020). */
export function loadMl100k(dataDir: string, opts: { seed?: number } = {}): Dataset {
  const seed = opts.seed ?? ML100K_DEFAULT_SEED;
  const file = findFile([ml100kFile(dataDir)], HOW_TO_GET);
  const bytes = fs.readFileSync(file);
  const table = parseTable(bytes, file, FIELDS);
  const [user, item, rating] = table.columns;
  const rows: Rows = {
    file,
    users: Int32Array.from(user),
    items: Int32Array.from(item),
    noisy: Uint8Array.from(rating, (r) => (r < 3 ? 1 : 0)),
    lines: Int32Array.from({ length: table.rows }, (_, k) => k + 1),
  };
  dropDuplicatePairs(rows, "error", []);
  const users = reindex([rows.users]);
  const items = reindex([rows.items]);
  const du = users.dense[0];
  const di = items.dense[0];
  const nUsers = users.original.length;
  const nItems = items.original.length;
  const all = fromTriples(nUsers, nItems, du, di, rows.noisy);
  const lineAt = new Int32Array(table.rows);
  for (let k = 0; k < table.rows; k++) lineAt[positionOf(all, du[k], di[k])] = k + 1;
  const split = splitPerUser(all, ML100K_RATIOS, seed);
  const asRows = (x: Interactions): Rows => {
    const u = userOf(x);
    const lines = Int32Array.from(u, (uu, k) => lineAt[positionOf(all, uu, x.items[k])]);
    return { file, users: u, items: x.items, noisy: x.noisy, lines };
  };
  let noisy = 0;
  for (let k = 0; k < rows.noisy.length; k++) noisy += rows.noisy[k];
  const warnings: DataWarning[] = [];
  return buildDataset({
    name: "ml-100k",
    description:
      `MovieLens-100K u.data; noisy = rating < 3; seeded per-user 8:1:1 split (seed ${seed}); ` +
      `test keeps clean interactions only (${split.droppedNoisyTest} noisy test interactions removed)`,
    files: [file],
    fingerprint: fingerprintOf([{ file, bytes }], { dataset: "ml-100k", seed, ratios: ML100K_RATIOS, noisy: "rating<3" }),
    // GroupLens's ids are contiguous (1..943, 1..1682): the id spaces are the dense counts.
    source: { interactions: table.rows, noisy, userIdSpace: nUsers, itemIdSpace: nItems },
    originalUserIds: users.original,
    originalItemIds: items.original,
    train: asRows(split.train),
    valid: asRows(split.valid),
    test: asRows(split.test),
    warnings,
  });
}

/** Index of (u, i) in the CSR arrays of x (binary search in u's sorted row); -1 if absent. */
function positionOf(x: Interactions, u: number, i: number): number {
  let lo = x.indptr[u];
  let hi = x.indptr[u + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = x.items[mid];
    if (v === i) return mid;
    if (v < i) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
