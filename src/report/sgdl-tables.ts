/**
 * Tables of SGDL variants (paper Tables 2-5 as the kit measures them). A
 * variant is the runs of one configuration over seeds (e.g. SGDL w/o DLS); a
 * row holds the kit's mean over seeds (± the sample standard deviation when
 * there are several), the paper's printed number beside it where the paper
 * has one, and the switch epoch of each run. groupRuns keys groups by
 * (dataset, model, method, preset) only, so variants that differ in their
 * method options are grouped here, one label at a time.
 */
import { compareGroups, groupRuns, type RunGroup } from "../experiments/aggregate";
import type { ResultRecord } from "../experiments/record";
import { canonicalJson } from "../experiments/runner";
import { significanceMark } from "../eval/significance";
import { switchEpochOf } from "./phase2-figures";

/** The four metrics of the paper's tables. */
export const TABLE_METRICS: readonly string[] = ["recall@5", "recall@20", "ndcg@5", "ndcg@20"];

/** One row of a variant table: its label, its runs, and the paper's printed numbers by metric. */
export interface Variant {
  label: string;
  /** One configuration over one or more seeds. */
  records: readonly ResultRecord[];
  /** The paper's value per metric; a missing metric has no paper number. */
  paper?: Readonly<Partial<Record<string, number>>>;
}

/** A table cell. */
export type Cell = string | number;

/** One configuration's runs over seeds as one RunGroup; throws naming the variant when the records differ in anything but the seed, or repeat a seed. */
export function variantGroup(label: string, records: readonly ResultRecord[], metrics: readonly string[] = TABLE_METRICS): RunGroup {
  if (records.length === 0) throw new Error(`variant '${label}' has no runs`);
  const configOf = (r: ResultRecord): string => canonicalJson({ ...r.config, seed: 0 });
  const first = configOf(records[0]);
  records.forEach((r, j) => {
    if (configOf(r) !== first) throw new Error(`variant '${label}': run ${j} (seed ${r.seed}) has another configuration than run 0: ${configOf(r)} vs ${first}`);
  });
  const seeds = records.map((r) => r.seed);
  if (new Set(seeds).size !== seeds.length) throw new Error(`variant '${label}' repeats a seed: ${seeds.join(", ")}`);
  return groupRuns(records, metrics)[0];
}

/** The paper's numbers of a row: each metric's value from `lookup` (undefined: none printed). */
export function paperCells(metrics: readonly string[], lookup: (metric: string) => number | undefined): Partial<Record<string, number>> {
  const out: Partial<Record<string, number>> = {};
  for (const m of metrics) {
    const v = lookup(m);
    if (v !== undefined) out[m] = v;
  }
  return out;
}

/** A mean over seeds as text: "0.3200" for one seed, "0.3200 ± 0.0283" (sample std) for several; "" when missing. */
export function formatMean(mean: number, std: number, seeds: number, digits = 4): string {
  if (!Number.isFinite(mean)) return "";
  return seeds > 1 ? `${mean.toFixed(digits)} ± ${std.toFixed(digits)}` : mean.toFixed(digits);
}

/** The switch epochs of the runs as text: "10", "9, 10" over seeds, "none" for an sgdl run that never switched, "-" for other methods. */
export function switchEpochsText(records: readonly ResultRecord[]): string {
  return records.map((r) => (r.config.method === "sgdl" ? switchEpochOf(r) ?? "none" : "-")).join(", ");
}

export interface VariantTableOptions {
  /** Metrics, in column order (default Recall@5, Recall@20, NDCG@5, NDCG@20). */
  metrics?: readonly string[];
  /** Decimals (default 4, as the paper prints). */
  digits?: number;
  /** Name of the label column (default "variant"). */
  labelColumn?: string;
  /** Add the "switch epoch" column (default: when some run is an sgdl run). */
  switchEpoch?: boolean;
  /** More columns per row, placed after the seeds (e.g. the option that differs). */
  extra?: (v: Variant, g: RunGroup) => Record<string, Cell>;
}

/** Rows for showTable: label, seeds, (extra), switch epoch, then per metric "<metric> (kit)" and "<metric> (paper)". */
export function variantTable(variants: readonly Variant[], o: VariantTableOptions = {}): Array<Record<string, Cell>> {
  const metrics = o.metrics ?? TABLE_METRICS;
  const digits = o.digits ?? 4;
  const withSwitch = o.switchEpoch ?? variants.some((v) => v.records.some((r) => r.config.method === "sgdl"));
  return variants.map((v) => {
    const g = variantGroup(v.label, v.records, metrics);
    const row: Record<string, Cell> = { [o.labelColumn ?? "variant"]: v.label, seeds: g.seeds.length };
    if (o.extra) Object.assign(row, o.extra(v, g));
    if (withSwitch) row["switch epoch"] = switchEpochsText(v.records);
    for (const m of metrics) {
      row[`${m} (kit)`] = formatMean(g.mean[m], g.std[m], g.seeds.length, digits);
      const p = v.paper?.[m];
      row[`${m} (paper)`] = p === undefined ? "" : p.toFixed(digits);
    }
    return row;
  });
}

export interface PairedComparisonOptions {
  metrics?: readonly string[];
  /** Column names of the two groups (default "A", "B"). */
  names?: readonly [string, string];
  digits?: number;
}

/** Paired tests of group a against b per metric (users paired, each user's value averaged over seeds): means, difference, t-test and Wilcoxon p, and Table 2's "†" (a better than b and t-test p < 0.05). */
export function pairedComparisonTable(a: RunGroup, b: RunGroup, o: PairedComparisonOptions = {}): Array<Record<string, Cell>> {
  const [na, nb] = o.names ?? ["A", "B"];
  const digits = o.digits ?? 4;
  return (o.metrics ?? TABLE_METRICS).map((m) => {
    const c = compareGroups(a, b, m);
    return {
      metric: m,
      [na]: a.mean[m].toFixed(digits),
      [nb]: b.mean[m].toFixed(digits),
      [`${na} - ${nb} (per user)`]: c.meanDiff.toFixed(digits),
      "t-test p": c.tTestP.toPrecision(3),
      "Wilcoxon p": c.wilcoxonP.toPrecision(3),
      [`\u2020 (${na} better, t-test p < 0.05)`]: c.meanDiff > 0 ? significanceMark(c.tTestP) : "",
    };
  });
}
