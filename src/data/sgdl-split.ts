/**
 * The ML-100K split that ships with the official SGDL code (ZJU-DAILY/SGDL,
 * data/ml100k/): 497 users with >= 60 ratings, already split into train, valid
 * and a clean test file in T-CE's format, used as is. Items keep their 1-based
 * MovieLens ids, so SGDL's code counts max id + 1 = 1,683 items.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { findFile, fingerprintOf } from "./build";
import type { Dataset } from "./dataset";
import { fromTceFiles, parseTceFile, type TceFileKind } from "./tce";

const HOW_TO_GET =
  "It ships with the official SGDL code (https://github.com/ZJU-DAILY/SGDL, data/ml100k/): " +
  "run `sgdl data fetch ml-100k-sgdl` or place the file there.";

/** The three split files under a data dir: train, valid, test. */
export function sgdlSplitFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, "ml-100k", "sgdl");
  return ["ml100k.train.rating", "ml100k.valid.rating", "ml100k.test.negative"].map((f) => path.join(dir, f));
}

/** Loads the official SGDL split of ML-100K; a repeated pair within a file is an error. */
export function loadMl100kSgdl(dataDir: string): Dataset {
  const paths = sgdlSplitFiles(dataDir).map((p) => findFile([p], HOW_TO_GET));
  const bytes = paths.map((p) => fs.readFileSync(p));
  const kinds: TceFileKind[] = ["train", "valid", "test"];
  const files = paths.map((p, j) => parseTceFile(bytes[j], p, kinds[j], { duplicates: "error" }));
  // SGDL's loader sizes its tables as max id + 1 (497 users, 1,683 items; item id 0 is unused).
  let maxUser = 0;
  let maxItem = 0;
  for (const f of files) {
    for (let k = 0; k < f.users.length; k++) if (f.users[k] > maxUser) maxUser = f.users[k];
    for (let k = 0; k < f.items.length; k++) if (f.items[k] > maxItem) maxItem = f.items[k];
  }
  return fromTceFiles("ml-100k-sgdl", files, {
    description:
      "Official SGDL split of MovieLens-100K (497 users with >= 60 ratings; files used as shipped); " +
      "flag 0 = noisy (rating < 3); test clean only",
    fingerprint: fingerprintOf(paths.map((file, j) => ({ file, bytes: bytes[j] })), { dataset: "ml-100k-sgdl" }),
    idSpace: { users: maxUser + 1, items: maxItem + 1 },
  });
}
