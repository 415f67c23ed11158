/**
 * T-CE's data format (Wang et al., WSDM'21; reused by SGDL): `<name>.train.rating`
 * and `<name>.valid.rating` hold `user \t item \t flag` (flag 1 clean, 0 noisy);
 * `<name>.test.negative` holds clean test pairs as `u \t i`, `u \t i \t 1`, or
 * `(u, i) \t <negative ids...>` (only the pair is read). Loaders for Yelp and Adressa.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DataWarning } from "../util/errors";
import { buildDataset, dropDuplicatePairs, findFile, fingerprintOf, reindex, type Rows } from "./build";
import type { Dataset } from "./dataset";
import { countLines, emptyFile, idField, LineReader, parseTable, type FieldSpec } from "./parse";

export type TceName = "yelp" | "adressa";
export type TceFileKind = "train" | "valid" | "test";
/** The three test-line forms: `u\ti`, `u\ti\tflag`, T-CE's `(u, i)\tnegs...`. */
export type TestLineFormat = "user-item" | "user-item-flag" | "tuple";

/** Id-space sizes T-CE (and SGDL) hard-code, as printed in T-CE's logs (user_num, item_num). */
export const TCE_ID_SPACE: Readonly<Record<TceName, { users: number; items: number }>> = {
  adressa: { users: 212231, items: 6596 },
  yelp: { users: 45548, items: 57396 },
};

/** What each dataset's flag 0 means. */
const NOISE_RULE: Readonly<Record<TceName, string>> = {
  adressa: "flag 0 = noisy (dwell time < 10 s)",
  yelp: "flag 0 = noisy (rating < 3)",
};

export interface TceFileOptions {
  /** Checks ids against this dataset's T-CE id space. */
  dataset?: TceName;
  /** An explicit id space (overrides `dataset`). */
  idSpace?: { users: number; items: number };
  /** A repeated (user, item) pair: "drop" later repeats with a warning (default) or "error". */
  duplicates?: "drop" | "error";
}

/** One T-CE file read and checked: original ids, later repeats of a pair dropped. */
export interface TceFile extends Rows {
  readonly kind: TceFileKind;
  readonly format: TestLineFormat;
  /** Data lines in the file, before any drop. */
  readonly rowsRead: number;
  /** Lines with flag 0, before any drop. */
  readonly noisyRead: number;
  /** Rows dropped for repeating an earlier pair. */
  readonly duplicates: number;
  readonly warnings: DataWarning[];
}

const OPEN = 40; // (
const CLOSE = 41; // )
const COMMA = 44; // ,
const TAB = 9;

/** Reads and validates one T-CE-format file (train, valid or test) on its own. */
export function readTceFile(file: string, kind: TceFileKind, opts: TceFileOptions = {}): TceFile {
  return parseTceFile(fs.readFileSync(file), file, kind, opts);
}

/** Parses and validates the bytes of one T-CE-format file; `file` names it in errors. */
export function parseTceFile(bytes: Uint8Array, file: string, kind: TceFileKind, opts: TceFileOptions = {}): TceFile {
  const space = opts.idSpace ?? (opts.dataset === undefined ? undefined : TCE_ID_SPACE[opts.dataset]);
  const why = opts.dataset === undefined ? "the given id space" : `T-CE's ${opts.dataset} id space`;
  const user = idField("user", 0, space?.users, why);
  const item = idField("item", 0, space?.items, why);
  const flag: FieldSpec = { name: "flag", min: 0, max: 1, why: "1 = clean, 0 = noisy" };
  const parsed = kind === "test" ? parseTestLines(bytes, file, user, item, flag) : plain(bytes, file, [user, item, flag]);
  const cols = parsed.columns;
  const n = cols[0].length;
  const noisy = new Uint8Array(n);
  let noisyRead = 0;
  if (cols.length === 3) {
    for (let k = 0; k < n; k++) {
      noisy[k] = cols[2][k] === 0 ? 1 : 0;
      noisyRead += noisy[k];
    }
  }
  const rows: Rows = {
    file,
    users: Int32Array.from(cols[0]),
    items: Int32Array.from(cols[1]),
    noisy,
    lines: Int32Array.from({ length: n }, (_, k) => k + 1),
  };
  const warnings: DataWarning[] = [];
  const kept = dropDuplicatePairs(rows, opts.duplicates ?? "drop", warnings);
  return { ...kept, kind, format: parsed.format, rowsRead: n, noisyRead, duplicates: n - kept.users.length, warnings };
}

function plain(bytes: Uint8Array, file: string, fields: FieldSpec[]): { columns: Float64Array[]; format: TestLineFormat } {
  return { columns: parseTable(bytes, file, fields).columns, format: "user-item-flag" };
}

/** Test lines; the first line fixes the form, and every line must have it. */
function parseTestLines(
  bytes: Uint8Array,
  file: string,
  user: FieldSpec,
  item: FieldSpec,
  flag: FieldSpec,
): { columns: Float64Array[]; format: TestLineFormat } {
  const r = new LineReader(bytes, file);
  if (!r.nextLine()) throw emptyFile(file);
  const format: TestLineFormat = r.peek() === OPEN ? "tuple" : r.columnCount() === 2 ? "user-item" : "user-item-flag";
  const names = format === "user-item-flag" ? ["user", "item", "flag"] : ["user", "item"];
  const fields = format === "user-item-flag" ? [user, item, flag] : [user, item];
  const cap = countLines(bytes);
  const columns = fields.map(() => new Float64Array(cap));
  let n = 0;
  do {
    if (format === "tuple") {
      r.expect(OPEN, "user", "'(' opening a T-CE test line '(user, item)\\t<negatives>' like line 1");
      r.skipSpaces();
      columns[0][n] = r.int(user, names, COMMA);
      r.expect(COMMA, "item", "',' between user and item");
      r.skipSpaces();
      columns[1][n] = r.int(item, names, CLOSE);
      r.skipSpaces();
      r.expect(CLOSE, "item", "')' closing '(user, item)'");
      if (r.peek() !== -1 && r.peek() !== TAB) throw r.error("item", "expected a tab after '(user, item)'");
      r.skipRest(); // the sampled negatives: not used
    } else {
      for (let j = 0; j < fields.length; j++) columns[j][n] = r.int(fields[j], names);
      r.endOfLine(names);
    }
    n++;
  } while (r.nextLine());
  return { columns: columns.map((c) => c.subarray(0, n)), format };
}

/** Where users get T-CE's files. */
function howToGet(name: TceName): string {
  return (
    `T-CE's repository https://github.com/WenjieWWJ/DenoisingRec has it in data/${name}/: ` +
    `run \`sgdl data fetch ${name}\` or place the file there.`
  );
}

/** The three files of a T-CE dataset under dataDir; adressa's test file may also be DeCA's copy in deca/. */
export function tceFiles(name: TceName, dataDir: string): { train: string[]; valid: string[]; test: string[] } {
  const dir = path.join(dataDir, name);
  const test = [path.join(dir, `${name}.test.negative`)];
  if (name === "adressa") test.push(path.join(dir, "deca", `${name}.test.negative`));
  return { train: [path.join(dir, `${name}.train.rating`)], valid: [path.join(dir, `${name}.valid.rating`)], test };
}

/** Loads Yelp or Adressa as T-CE split them; throws a DataError saying where to get a missing file. */
export function loadTce(name: TceName, dataDir: string): Dataset {
  const where = tceFiles(name, dataDir);
  const paths = [where.train, where.valid, where.test].map((c) => findFile(c, howToGet(name)));
  const bytes = paths.map((p) => fs.readFileSync(p));
  const kinds: TceFileKind[] = ["train", "valid", "test"];
  const parts = paths.map((p, j) => parseTceFile(bytes[j], p, kinds[j], { dataset: name, duplicates: "drop" }));
  return fromTceFiles(name, parts, {
    description: `T-CE's ${name} split (train/valid/test files); ${NOISE_RULE[name]}; test clean only`,
    fingerprint: fingerprintOf(paths.map((file, j) => ({ file, bytes: bytes[j] })), { dataset: name, loader: "tce" }),
    idSpace: TCE_ID_SPACE[name],
  });
}

/** Assembles a Dataset from three read T-CE files (train, valid, test); dense ids over every id seen. */
export function fromTceFiles(
  name: string,
  files: readonly TceFile[],
  meta: { description: string; fingerprint: string; idSpace: { users: number; items: number } },
): Dataset {
  const users = reindex(files.map((f) => f.users));
  const items = reindex(files.map((f) => f.items));
  const dense = files.map((f, j) => ({ ...f, users: users.dense[j], items: items.dense[j] }));
  return buildDataset({
    name,
    description: meta.description,
    files: files.map((f) => f.file),
    fingerprint: meta.fingerprint,
    source: {
      interactions: files.reduce((s, f) => s + f.rowsRead, 0),
      noisy: files.reduce((s, f) => s + f.noisyRead, 0),
      userIdSpace: meta.idSpace.users,
      itemIdSpace: meta.idSpace.items,
    },
    originalUserIds: users.original,
    originalItemIds: items.original,
    train: dense[0],
    valid: dense[1],
    test: dense[2],
    warnings: files.flatMap((f) => f.warnings),
  });
}
