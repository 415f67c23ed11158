/**
 * The datasets by their `--dataset` names: where their files live, which are
 * present, and one loadDataset() for all of them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Dataset } from "./dataset";
import { loadMl100k, ml100kFile } from "./ml100k";
import { loadMl100kSgdl, sgdlSplitFiles } from "./sgdl-split";
import { generateSynthetic, SYNTHETIC_PRESETS } from "./synthetic";
import { loadTce, tceFiles, type TceName } from "./tce";
import { projectRoot } from "../util/project-root";

export type DatasetName = "ml-100k" | "ml-100k-sgdl" | "yelp" | "adressa" | "synthetic";
export const DATASET_NAMES: readonly DatasetName[] = ["ml-100k", "ml-100k-sgdl", "yelp", "adressa", "synthetic"];

export interface LoadOptions {
  /** Folder holding ml-100k/, yelp/, adressa/ (default: SGDL_DATA_DIR, else data/ under the project root). */
  dataDir?: string;
  /** Split seed for ml-100k (default 2020), generator seed override for synthetic. */
  seed?: number;
  /** Synthetic preset name (default "default"). */
  preset?: string;
}

/** The data dir: opts.dataDir, else SGDL_DATA_DIR, else data/ under the project root. */
export function dataDir(opts: LoadOptions = {}): string {
  const env = process.env.SGDL_DATA_DIR;
  return path.resolve(opts.dataDir ?? (env !== undefined && env !== "" ? env : path.join(projectRoot(), "data")));
}


/** Whether a string is one of DATASET_NAMES. */
export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

/** Loads a dataset by name; an unknown name is an error listing the known ones. */
export function loadDataset(name: string, opts: LoadOptions = {}): Dataset {
  if (!isDatasetName(name)) throw new Error(`unknown dataset '${name}'; known: ${DATASET_NAMES.join(", ")}`);
  const dir = dataDir(opts);
  switch (name) {
    case "ml-100k":
      return loadMl100k(dir, { seed: opts.seed });
    case "ml-100k-sgdl":
      return loadMl100kSgdl(dir);
    case "yelp":
    case "adressa":
      return loadTce(name, dir);
    case "synthetic":
      return loadSynthetic(opts);
  }
}

function loadSynthetic(opts: LoadOptions): Dataset {
  const preset = opts.preset ?? "default";
  const base = SYNTHETIC_PRESETS[preset];
  if (base === undefined) {
    throw new Error(`unknown synthetic preset '${preset}'; known: ${Object.keys(SYNTHETIC_PRESETS).join(", ")}`);
  }
  return generateSynthetic(opts.seed === undefined ? base : { ...base, seed: opts.seed });
}

/** The datasets whose files are all present under the data dir (synthetic always is). */
export function availableDatasets(opts: LoadOptions = {}): DatasetName[] {
  const dir = dataDir(opts);
  const any = (candidates: readonly string[]) => candidates.some((c) => fs.existsSync(c));
  const present: Record<DatasetName, boolean> = {
    "ml-100k": fs.existsSync(ml100kFile(dir)),
    "ml-100k-sgdl": sgdlSplitFiles(dir).every((f) => fs.existsSync(f)),
    yelp: tcePresent("yelp", dir, any),
    adressa: tcePresent("adressa", dir, any),
    synthetic: true,
  };
  return DATASET_NAMES.filter((n) => present[n]);
}

function tcePresent(name: TceName, dir: string, any: (c: readonly string[]) => boolean): boolean {
  const f = tceFiles(name, dir);
  return any(f.train) && any(f.valid) && any(f.test);
}

/** The default dataset: the official SGDL split of ML-100K when its files are present, else the synthetic one. */
export function defaultDataset(opts: LoadOptions = {}): DatasetName {
  return availableDatasets(opts).includes("ml-100k-sgdl") ? "ml-100k-sgdl" : "synthetic";
}
