import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { DataError } from "../../src/util/errors";
import type { Dataset } from "../../src/data/dataset";
import { has, noisyCount, size, userOf } from "../../src/data/interactions";
import { availableDatasets, DATASET_NAMES, dataDir, loadDataset } from "../../src/data/registry";
import { parseTceFile, readTceFile } from "../../src/data/tce";
import { fixtureDataDir } from "./fixture-dir";

const TINY = fixtureDataDir("tiny");
const BAD = fixtureDataDir("bad");
const REAL = process.env.SGDL_DATA_DIR;

/** Asserts that fn throws a DataError at this file, line and field, with a message matching re. */
function throwsAt(fn: () => unknown, file: string, line: number | undefined, field: string | undefined, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.equal(e.location.file, file);
    assert.equal(e.location.line, line);
    assert.equal(e.location.field, field);
    assert.match(e.message, re);
    return true;
  });
}

const bad = (name: string) => path.join(BAD, name);
const mem = (text: string, kind: "train" | "valid" | "test" = "valid") =>
  parseTceFile(Buffer.from(text, "latin1"), "mem.rating", kind);

/** The (original user, original item) pairs of a split, as "u,i" strings in CSR order. */
function pairs(d: Dataset, split: "train" | "valid" | "test"): string[] {
  const x = d[split];
  const u = userOf(x);
  return Array.from(x.items, (i, k) => `${d.originalUserIds[u[k]]},${d.originalItemIds[i]}`);
}

// ---- bad input: one DataError per kind, naming file, line and field ----

test("wrong column count: too few and too many", () => {
  throwsAt(() => readTceFile(bad("missing-column.rating"), "train"), bad("missing-column.rating"), 2, "flag", /expected 3 .*found 2/);
  throwsAt(() => readTceFile(bad("extra-column.rating"), "train"), bad("extra-column.rating"), 1, "flag", /expected 3 .*found 4/);
});

test("non-numeric field and negative id", () => {
  throwsAt(() => readTceFile(bad("non-numeric.rating"), "train"), bad("non-numeric.rating"), 2, "item", /'abc'/);
  throwsAt(() => readTceFile(bad("negative-id.rating"), "train"), bad("negative-id.rating"), 2, "user", /negative user: -3/);
});

test("ids outside T-CE's id spaces (yelp 45,548 users; adressa 6,596 items)", () => {
  const f = bad("yelp-user-out-of-range.rating");
  throwsAt(() => readTceFile(f, "train", { dataset: "yelp" }), f, 2, "user", /45548 is outside \[0, 45547\].*yelp/);
  // without a known id space the same file is fine
  assert.equal(readTceFile(f, "train").rowsRead, 2);
  const g = bad("adressa-item-out-of-range.rating");
  throwsAt(() => readTceFile(g, "valid", { dataset: "adressa" }), g, 1, "item", /6596 is outside \[0, 6595\]/);
});

test("flag other than 0/1", () => {
  throwsAt(() => readTceFile(bad("bad-flag.rating"), "valid"), bad("bad-flag.rating"), 2, "flag", /flag 2 is outside \[0, 1\]/);
});

test("u.data: rating outside 1..5, non-numeric timestamp, id 0 in a 1-based file", () => {
  const f = (d: string) => path.join(BAD, d, "ml-100k", "u.data");
  throwsAt(() => loadDataset("ml-100k", { dataDir: bad("udata-rating") }), f("udata-rating"), 2, "rating", /rating 6 is outside \[1, 5\]/);
  throwsAt(() => loadDataset("ml-100k", { dataDir: bad("udata-timestamp") }), f("udata-timestamp"), 2, "timestamp", /'8812x0950'/);
  throwsAt(() => loadDataset("ml-100k", { dataDir: bad("udata-zero-id") }), f("udata-zero-id"), 2, "item", /item 0 is outside \[1,/);
});

test("a duplicate pair is an error in u.data and in the SGDL split", () => {
  const u = path.join(BAD, "udata-duplicate", "ml-100k", "u.data");
  throwsAt(() => loadDataset("ml-100k", { dataDir: bad("udata-duplicate") }), u, 3, "item", /\(1, 1\): line 3 repeats line 1/);
  const v = path.join(BAD, "sgdl-duplicate", "ml-100k", "sgdl", "ml100k.valid.rating");
  throwsAt(() => loadDataset("ml-100k-sgdl", { dataDir: bad("sgdl-duplicate") }), v, 2, "item", /\(0, 3\): line 2 repeats line 1/);
});

test("a duplicate pair in a T-CE file is dropped (later rows) with one counted warning", () => {
  const f = readTceFile(bad("duplicate.rating"), "valid");
  // rows: (0,1,1) (0,2,1) (0,1,0): line 3 repeats line 1 and goes; the kept (0,1) keeps line 1's flag 1
  assert.equal(f.rowsRead, 3);
  assert.equal(f.duplicates, 1);
  assert.deepEqual(Array.from(f.items), [1, 2]);
  assert.deepEqual(Array.from(f.noisy), [0, 0]);
  assert.equal(f.noisyRead, 1);
  assert.equal(f.warnings.length, 1);
  assert.equal(f.warnings[0].kind, "duplicate-pair");
  assert.equal(f.warnings[0].count, 1);
  assert.deepEqual(f.warnings[0].first, { file: bad("duplicate.rating"), line: 3, field: "item" });
  throwsAt(() => readTceFile(bad("duplicate.rating"), "valid", { duplicates: "error" }), bad("duplicate.rating"), 3, "item", /duplicate/);
});

test("the same pair in two splits is an error", () => {
  const t = path.join(BAD, "sgdl-cross-split", "ml-100k", "sgdl", "ml100k.test.negative");
  // test line 2 is (1, 2), which is train line 4
  throwsAt(() => loadDataset("ml-100k-sgdl", { dataDir: bad("sgdl-cross-split") }), t, 2, "item", /\(1, 2\) is also in the train split \(ml100k\.train\.rating line 4\)/);
});

test("empty files, blank lines between data lines", () => {
  throwsAt(() => readTceFile(bad("empty.rating"), "train"), bad("empty.rating"), undefined, undefined, /empty file/);
  throwsAt(() => readTceFile(bad("blank-only.rating"), "train"), bad("blank-only.rating"), undefined, undefined, /empty file/);
  throwsAt(() => readTceFile(bad("empty.rating"), "test"), bad("empty.rating"), undefined, undefined, /empty file/);
  throwsAt(() => readTceFile(bad("blank-middle.rating"), "train"), bad("blank-middle.rating"), 2, undefined, /empty line/);
});

test("malformed test lines: a broken tuple, forms mixed within one file", () => {
  throwsAt(() => readTceFile(bad("bad-tuple.negative"), "test"), bad("bad-tuple.negative"), 1, "user", /'0 3\)'/);
  throwsAt(() => readTceFile(bad("mixed-forms.negative"), "test"), bad("mixed-forms.negative"), 2, "user", /'\(1, 6\)'/);
});

// ---- what is tolerated ----

test("CRLF, a missing final newline and blank trailing lines are tolerated", () => {
  const variants = ["0\t1\t1\n2\t3\t0\n", "0\t1\t1\r\n2\t3\t0\r\n", "0\t1\t1\n2\t3\t0", "0\t1\t1\r\n2\t3\t0\r\n\r\n\n  \n"];
  for (const v of variants) {
    const f = mem(v);
    assert.deepEqual(Array.from(f.users), [0, 2], JSON.stringify(v));
    assert.deepEqual(Array.from(f.items), [1, 3]);
    assert.deepEqual(Array.from(f.noisy), [0, 1]);
  }
});

test("the three test-line forms give the same pairs; only the tuple's pair is read", () => {
  const forms = {
    "user-item": "0\t5\n1\t6\n",
    "user-item-flag": "0\t5\t1\n1\t6\t1\n",
    tuple: "(0, 5)\t17\t18\t19\n(1,6)\t9\n",
  };
  for (const [format, text] of Object.entries(forms)) {
    const f = mem(text, "test");
    assert.equal(f.format, format);
    assert.deepEqual(Array.from(f.users), [0, 1]);
    assert.deepEqual(Array.from(f.items), [5, 6]);
    assert.equal(f.noisyRead, 0);
  }
});

// ---- the loaders on the hand-written tiny data dir ----

test("ml-100k (tiny): dense ids, noise by rating < 3, 8:1:1 per user, clean test", () => {
  const d = loadDataset("ml-100k", { dataDir: TINY });
  // users 1, 2, 5 -> dense 0, 1, 2; items 1..12
  assert.deepEqual(Array.from(d.originalUserIds), [1, 2, 5]);
  assert.equal(d.nItems, 12);
  assert.equal(d.originalItemIds[0], 1);
  // ratings < 3: user 1 has a 2 and a 1, user 2 a 1, user 5 two 2s -> 5 of 30
  assert.deepEqual(d.source, { interactions: 30, noisy: 5, userIdSpace: 3, itemIdSpace: 12 });
  // each user has 10 rows: floor(10/10) = 1 test, 1 valid, 8 train; train never loses rows
  assert.equal(size(d.train), 24);
  const dropped = (kind: string) => d.warnings.filter((w) => w.kind === kind).reduce((s, w) => s + w.count, 0);
  assert.equal(size(d.valid) + size(d.test) + dropped("cold-start"), 6 - Number(/(\d+) noisy test/.exec(d.description)?.[1]));
  assert.equal(noisyCount(d.test), 0);
});

test("ml-100k-sgdl (tiny): split used as is, id spaces max + 1, cold-start rows kept with warnings", () => {
  const d = loadDataset("ml-100k-sgdl", { dataDir: TINY });
  // users {0,1,2,3}; items {1,2,3,4,5,7}
  assert.equal(d.nUsers, 4);
  assert.deepEqual(Array.from(d.originalItemIds), [1, 2, 3, 4, 5, 7]);
  // rows 8 + 3 + 4 = 15; flag 0 at train lines 2, 6 and valid line 2 -> 3 noisy; max ids 3 and 7
  assert.deepEqual(d.source, { interactions: 15, noisy: 3, userIdSpace: 4, itemIdSpace: 8 });
  assert.equal(size(d.train), 8);
  // (2, 7): item 7 is not in train; (3, 2): user 3 is not in train; both kept (pairs() prints original ids)
  assert.deepEqual(pairs(d, "valid"), ["0,4", "1,2", "2,7"]);
  assert.deepEqual(pairs(d, "test"), ["0,5", "1,3", "2,1", "3,2"]);
  const cold = d.warnings.filter((w) => w.kind === "cold-start");
  assert.deepEqual(
    cold.map((w) => [w.count, w.first.file.endsWith("ml100k.valid.rating") ? "valid" : "test", w.first.line, w.first.field]),
    [
      [1, "valid", 3, "item"],
      [1, "test", 4, "user"],
    ],
  );
});

test("yelp (tiny): tuple test lines, duplicate valid row dropped, T-CE id spaces", () => {
  const d = loadDataset("yelp", { dataDir: TINY });
  assert.equal(d.nUsers, 3);
  assert.equal(d.nItems, 4);
  // 6 + 3 + 3 rows; flag 0 at train line 3 and valid line 2
  assert.deepEqual(d.source, { interactions: 12, noisy: 2, userIdSpace: 45548, itemIdSpace: 57396 });
  assert.deepEqual(pairs(d, "valid"), ["0,2", "1,0"]);
  assert.equal(noisyCount(d.valid), 1); // the kept (1, 0) is line 2, flag 0
  assert.deepEqual(pairs(d, "test"), ["0,3", "1,3", "2,1"]);
  assert.deepEqual(
    d.warnings.map((w) => [w.kind, w.count, w.first.line]),
    [["duplicate-pair", 1, 3]],
  );
});

test("adressa (tiny): test file found in deca/, CRLF with trailing blank line", () => {
  const d = loadDataset("adressa", { dataDir: TINY });
  assert.deepEqual(Array.from(d.originalUserIds), [5, 7]);
  assert.deepEqual(Array.from(d.originalItemIds), [100, 101, 102]);
  assert.ok(d.files[2].endsWith(path.join("deca", "adressa.test.negative")));
  assert.deepEqual(pairs(d, "test"), ["7,101"]);
  assert.deepEqual(pairs(d, "valid"), ["5,102"]);
  assert.equal(d.source.userIdSpace, 212231);
});

test("registry: names, unknown name, data dir precedence, availability", () => {
  assert.throws(() => loadDataset("movielens"), /unknown dataset 'movielens'; known: ml-100k, ml-100k-sgdl, yelp, adressa, synthetic/);
  assert.deepEqual([...DATASET_NAMES], ["ml-100k", "ml-100k-sgdl", "yelp", "adressa", "synthetic"]);
  const saved = process.env.SGDL_DATA_DIR;
  try {
    process.env.SGDL_DATA_DIR = TINY;
    assert.equal(dataDir(), TINY);
    assert.equal(dataDir({ dataDir: BAD }), BAD);
    delete process.env.SGDL_DATA_DIR;
    assert.equal(dataDir(), path.resolve(__dirname, "..", "..", "data"));
  } finally {
    if (saved === undefined) delete process.env.SGDL_DATA_DIR;
    else process.env.SGDL_DATA_DIR = saved;
  }
  assert.deepEqual(availableDatasets({ dataDir: TINY }), ["ml-100k", "ml-100k-sgdl", "yelp", "adressa", "synthetic"]);
  assert.deepEqual(availableDatasets({ dataDir: BAD }), ["synthetic"]);
});

test("fingerprint: same files and options agree; another seed or other bytes differ", () => {
  const a = loadDataset("ml-100k", { dataDir: TINY, seed: 1 });
  const b = loadDataset("ml-100k", { dataDir: TINY, seed: 1 });
  const c = loadDataset("ml-100k", { dataDir: TINY, seed: 2 });
  assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(a.fingerprint, b.fingerprint);
  assert.notEqual(a.fingerprint, c.fingerprint);
  assert.notEqual(loadDataset("yelp", { dataDir: TINY }).fingerprint, loadDataset("adressa", { dataDir: TINY }).fingerprint);
});

// ---- the real data (SGDL_DATA_DIR) ----

test("real ml-100k: counts, deterministic split per seed, clean test", (t) => {
  if (!REAL) return t.skip("SGDL_DATA_DIR not set");
  const d = loadDataset("ml-100k", { dataDir: REAL });
  assert.equal(d.nUsers, 943);
  assert.equal(d.nItems, 1682);
  assert.deepEqual(d.source, { interactions: 100000, noisy: 17480, userIdSpace: 943, itemIdSpace: 1682 });
  // sum over users of floor(n_u / 10) = 9596 (awk over u.data): that many valid and test rows each; train 100000 - 2 * 9596
  assert.equal(size(d.train), 80808);
  assert.equal(size(d.valid), 9596);
  const noisyTest = Number(/\((\d+) noisy test/.exec(d.description)?.[1]);
  assert.equal(size(d.test) + noisyTest, 9596);
  assert.equal(noisyCount(d.test), 0);
  assert.ok(noisyTest > 1000, "about 17% of the 9,596 test rows are noisy and leave");

  const again = loadDataset("ml-100k", { dataDir: REAL });
  assert.deepEqual(pairs(again, "test"), pairs(d, "test"));
  assert.deepEqual(Array.from(again.valid.items), Array.from(d.valid.items));
  assert.equal(again.fingerprint, d.fingerprint);
  const other = loadDataset("ml-100k", { dataDir: REAL, seed: 7 });
  assert.notDeepEqual(pairs(other, "test"), pairs(d, "test"));
  assert.notEqual(other.fingerprint, d.fingerprint);
  assert.equal(noisyCount(other.test), 0);
  // a split is a partition: no pair of test is in train
  const u = userOf(d.test);
  for (let k = 0; k < d.test.items.length; k++) assert.ok(!has(d.train, u[k], d.test.items[k]));
});

test("real ml-100k-sgdl: the official split's counts", (t) => {
  if (!REAL) return t.skip("SGDL_DATA_DIR not set");
  const d = loadDataset("ml-100k-sgdl", { dataDir: REAL });
  assert.equal(d.nUsers, 497);
  assert.equal(d.nItems, 1512);
  assert.deepEqual(d.source, { interactions: 82759, noisy: 13431, userIdSpace: 497, itemIdSpace: 1683 });
  assert.equal(size(d.train), 66899);
  assert.equal(noisyCount(d.train), 11899);
  // 6 valid rows and 5 test rows have an item absent from train (awk): kept, as the official code keeps them, and counted
  assert.equal(size(d.valid), 8652);
  assert.equal(noisyCount(d.valid), 1532);
  assert.equal(size(d.test), 7208);
  assert.deepEqual(
    d.warnings.map((w) => [w.kind, w.count, path.basename(w.first.file), w.first.line]),
    [
      ["cold-start", 6, "ml100k.valid.rating", 2696],
      ["cold-start", 5, "ml100k.test.negative", 566],
    ],
  );
});

test("real yelp and adressa valid/test files through the single-file loader", (t) => {
  if (!REAL) return t.skip("SGDL_DATA_DIR not set");
  const distinct = (a: Int32Array) => new Set(a).size;
  const yv = readTceFile(path.join(REAL, "yelp", "yelp.valid.rating"), "valid", { dataset: "yelp" });
  assert.deepEqual([yv.rowsRead, yv.duplicates, yv.noisyRead, yv.users.length], [209453, 1202, 32582, 209453 - 1202]);
  assert.deepEqual([distinct(yv.users), distinct(yv.items)], [42945, 44926]);
  assert.equal(yv.noisy.reduce((s, x) => s + x, 0), 32479); // flag 0 among first occurrences (awk)
  assert.deepEqual([yv.warnings[0].first.line, yv.warnings[0].count], [66, 1202]); // line 66 repeats line 54: (3, 50049)
  const yt = readTceFile(path.join(REAL, "yelp", "yelp.test.negative"), "test", { dataset: "yelp" });
  assert.deepEqual([yt.format, yt.rowsRead, yt.duplicates, distinct(yt.users), distinct(yt.items)], ["user-item", 163308, 874, 45525, 40148]);
  const av = readTceFile(path.join(REAL, "adressa", "adressa.valid.rating"), "valid", { dataset: "adressa" });
  assert.deepEqual([av.rowsRead, av.duplicates, av.noisyRead, distinct(av.users), distinct(av.items)], [53262, 0, 35770, 34229, 1224]);
  const at = readTceFile(path.join(REAL, "adressa", "deca", "adressa.test.negative"), "test", { dataset: "adressa" });
  assert.deepEqual([at.format, at.rowsRead, at.duplicates, at.noisyRead, distinct(at.users), distinct(at.items)], ["user-item-flag", 18632, 604, 0, 10380, 480]);
});

test("real yelp and adressa: loading without the train file says where to get it", (t) => {
  if (!REAL) return t.skip("SGDL_DATA_DIR not set");
  for (const name of ["yelp", "adressa"]) {
    const file = path.join(path.resolve(REAL), name, `${name}.train.rating`);
    throwsAt(
      () => loadDataset(name, { dataDir: REAL }),
      file,
      undefined,
      undefined,
      new RegExp(`${name}\\.train\\.rating not found \\(looked in .*${name}\\).*WenjieWWJ/DenoisingRec.*data/${name}/.*sgdl data fetch ${name}`),
    );
  }
  assert.deepEqual(availableDatasets({ dataDir: REAL }), ["ml-100k", "ml-100k-sgdl", "synthetic"]);
});
