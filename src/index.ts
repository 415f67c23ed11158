/**
 * The notebooks' door: the public API of sgdl-kit. Notebooks import from here
 * (`import * as sgdl from "./src/index"`); nothing in src imports this file.
 */
export { initBackend, backendInfo, type BackendInfo, type BackendName } from "./backend";
export { Rng } from "./util/rng";

// data: datasets, noise labels, splits, sampling
export type { Dataset, SourceCounts } from "./data/dataset";
export * as interactions from "./data/interactions";
export type { Interactions } from "./data/interactions";
export { DATASET_NAMES, availableDatasets, dataDir, loadDataset, type DatasetName, type LoadOptions } from "./data/registry";
export { datasetStats, PAPER_TABLE1, type DatasetStats } from "./data/stats";
export { readTceFile, TCE_ID_SPACE, type TceFile } from "./data/tce";
export { splitPerUser } from "./data/split";
export { SYNTHETIC_PRESETS, generateSynthetic, generateSyntheticWithTruth, trueAffinity, type SyntheticOptions } from "./data/synthetic";
export { NegativeSampler, bprTriples } from "./data/sampler";
export { fetchDataset } from "./data/fetch";

// eval: full ranking, metrics, significance
export { evaluateRanking, evaluateSplit, metricKey, type EvalResult, type Scorer } from "./eval/evaluate";
export { recallAtK, ndcgAtK } from "./eval/metrics";
export { pairedTTest, wilcoxonSignedRank, significanceMark, perUserOf } from "./eval/significance";

// report: tables and inline display
export { showTable, tableHtml, tableText, formatNumber, type TableOptions } from "./report/table";
export { displayBundle, inNotebook } from "./report/display";

/** The preset a notebook runs with: `quick` (minutes; the tests set SGDL_PRESET=quick) or `paper` (the paper's settings). */
export function notebookPreset(): "quick" | "paper" {
  return process.env.SGDL_PRESET === "quick" ? "quick" : "paper";
}

// report: figures, their export, progress
export * from "./report/figure";
export { showFigure } from "./report/plotly-display";
export { exportFigures } from "./report/export";
export { autoProgress, notebookProgress, terminalProgress, type ProgressEvent } from "./report/progress";
export { runProgress } from "./report/run-progress";

// models, training, methods
export type { Model, ModelInstance, ModelName, Batch } from "./models/model";
export { MODEL_NAMES, createModel, modelDefaults } from "./models/registry";
export { train } from "./training/trainer";
export type { Method, TrainContext } from "./training/method";
export type { EpochLog, TrainEvent } from "./training/events";
export { METHOD_NAMES, createMethod, methodDefaults } from "./methods/registry";

// SGDL Phase I: memorization, memorization point (methods/sgdl/)
export { sgdlMethod, PHASE_MEMORIZATION, PHASE_SELF_GUIDED, type Phase2, type SgdlMethod } from "./methods/sgdl/sgdl";
export { SGDL_DEFAULTS, SGDL_OPTION_PRESETS, parseSgdlOptions, type SgdlOptions, type SgdlOptionPreset } from "./methods/sgdl/options";
export { Phase1, readPhase1Facts, switchEpochFromLog, FIGURE4_BINS, type Phase1Facts, type Phase1Observation, type LossHistogram } from "./methods/sgdl/phase1";
export { encodeMemorizedSet, decodeMemorizedSet, decodeMemorizedFlags } from "./methods/sgdl/memorized-set";
export { MemorizationTracker } from "./methods/sgdl/memorization";
export { fitGmm2, posterior as gmmPosterior, type Gmm2 } from "./methods/sgdl/gmm";
export { normalizeLosses, estimateNoiseRate, shiftedNoiseRate, reachedMemorizationPoint } from "./methods/sgdl/memorization-point";
export { memoryRateFigure, mpMrFigure, mpMrCrossing, noiseRateFigure, lossDistributionFigure, memorizationPointOf, runLabel, definitionsOf } from "./report/memorization-figures";

// experiments: configs, presets, runs, records, the paper's numbers
export { resolveConfig, type RunConfig, type RunConfigInput } from "./experiments/config";
export { presetSettings, type PresetName } from "./experiments/presets";
export { runExperiment, defaultResultsDir, type RunEvent, type RunResult } from "./experiments/runner";
export { readRecord, type ResultRecord } from "./experiments/record";
export { listRecords, groupRuns, groupPerUser, compareGroups, type RunGroup } from "./experiments/aggregate";
export { PAPER_TABLE2, paperValue, type PaperDataset, type PaperMetric } from "./experiments/paper-table2";
