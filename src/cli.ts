/**
 * The terminal's door: `sgdl data|env ...`. Each command parses its flags here
 * and calls the library; nothing below imports this file.
 */
import { parseArgs } from "node:util";
import { initBackend } from "./backend";
import { fetchDatasetVerbose } from "./data/fetch";
import { DATASET_NAMES, availableDatasets, dataDir, loadDataset } from "./data/registry";
import { datasetStats } from "./data/stats";
import { trainCommand } from "./experiments/train-command";
import { terminalProgress, type ProgressReporter } from "./report/progress";
import { runProgress } from "./report/run-progress";

const USAGE = `usage: sgdl <command> [options]

commands:
  data stats --dataset NAME [--json] [--seed N] [--preset P] [--data-dir D]
                            Table 1's row for a dataset (users, items, interactions, noise, split)
  data list [--data-dir D]  which datasets are present under the data dir
  data fetch NAME [--force] [--data-dir D]
                            download a dataset and check its sha256
  train --dataset NAME --model neumf|cdae|ngcf|lightgcn|mf --method normal --seed N [...]
                            train one model with one method; writes a result record (sgdl train --help)
  env [--backend B]         the TF.js backend that runs here and why

datasets: ${DATASET_NAMES.join(", ")}
data dir: --data-dir, else $SGDL_DATA_DIR, else ./data
backend:  --backend tensorflow|wasm|cpu|auto, else $SGDL_BACKEND, else auto`;

type Out = (line: string) => void;

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(argv: string[], out: Out = (s) => process.stdout.write(s + "\n")): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "data" && sub === "stats") return dataStats(rest, out);
  if (command === "data" && sub === "list") return dataList(rest, out);
  if (command === "data" && sub === "fetch") return dataFetch(rest, out);
  if (command === "env") return env(sub === undefined ? rest : [sub, ...rest], out);
  if (command === "train") return trainCommand(argv.slice(1), out, stderrProgress());
  process.stderr.write(`sgdl: unknown command '${[command, sub].filter(Boolean).join(" ")}'\n\n${USAGE}\n`);
  return 2;
}

/** Progress on stderr: a bar on a terminal, summary lines only when stderr is a file or pipe. */
function stderrProgress(): ReturnType<typeof runProgress> {
  const quiet: ProgressReporter = { update: () => undefined, end: () => undefined };
  const bar = process.stderr.isTTY ? terminalProgress(process.stderr) : quiet;
  return runProgress(bar, (line) => process.stderr.write(line + "\n"));
}

const dataOptions = {
  "data-dir": { type: "string" },
  dataset: { type: "string" },
  seed: { type: "string" },
  preset: { type: "string" },
  json: { type: "boolean" },
  force: { type: "boolean" },
} as const;

function intFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got '${value}'`);
  return n;
}

async function dataStats(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({ args, options: dataOptions, strict: true });
  if (!values.dataset) throw new Error("data stats needs --dataset NAME");
  const d = loadDataset(values.dataset, { dataDir: values["data-dir"], seed: intFlag("seed", values.seed), preset: values.preset });
  const s = datasetStats(d);
  if (values.json) {
    out(JSON.stringify(s));
    return 0;
  }
  out(`${s.dataset}: ${s.users} users, ${s.items} items, ${s.interactions} interactions, ${s.noisy} noisy (${(100 * s.noisyRatio).toFixed(2)} %), sparsity ${s.sparsity.toFixed(4)}`);
  out(`split: train ${s.split.train}, valid ${s.split.valid}, test ${s.split.test}`);
  for (const w of d.warnings) out(`warning: ${w.message}`);
  return 0;
}

async function dataList(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({ args, options: dataOptions, strict: true });
  const dir = dataDir({ dataDir: values["data-dir"] });
  const present = new Set<string>(availableDatasets({ dataDir: dir }));
  out(`data dir: ${dir}`);
  for (const name of DATASET_NAMES) out(`${present.has(name) ? "present" : "missing"}  ${name}`);
  return 0;
}

async function dataFetch(args: string[], out: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: dataOptions, strict: true, allowPositionals: true });
  const name = positionals[0] ?? values.dataset;
  if (!name) throw new Error("data fetch needs a dataset name, e.g. `sgdl data fetch ml-100k`");
  const dir = dataDir({ dataDir: values["data-dir"] });
  const result = await fetchDatasetVerbose(name, { dataDir: dir, force: values.force ?? false }, out);
  out(result.skipped ? `${name}: already present and verified in ${dir}` : `${name}: fetched and verified ${result.files.length} files into ${dir}`);
  return 0;
}

async function env(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({ args, options: { backend: { type: "string" }, json: { type: "boolean" } }, strict: true });
  const info = await initBackend(values.backend);
  if (values.json) out(JSON.stringify({ ...info, node: process.version, dataDir: dataDir() }));
  else out(`backend ${info.name} (${info.reason}); tfjs ${info.tfjsVersion}; matmul patch ${info.matmulPatch ? "on" : "off"}; node ${process.version}; data dir ${dataDir()}`);
  return 0;
}
