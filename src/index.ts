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
export { NOISY_POOLS, type NoisyPool } from "./data/synthetic-noise";
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

// SGDL Phase II: the weighting net (Eq. 5), one meta step taken apart (Eq. 7-9, 16), Figure 5 (methods/sgdl/, report/)
export { createWeighting, weights as weightingOf, weightsOf, psiTensors, type WeightingNet, type WeightingConfig } from "./methods/sgdl/weighting";
export { assumedLeaves, metaObjective, metaGradient, metaStep, resolveMetaOptions, type MetaStepOptions, type MetaStepResult, type MetaGradient } from "./methods/sgdl/meta-step";
export { objectiveGradients, perSampleLosses, gradientStep, type Objective } from "./training/step";
export { Adam, type ParamGradient } from "./training/adam";
export { ParamStore, type Param } from "./models/ops/embedding-table";
export type { ForwardMode } from "./models/model";
export type { TrainResult, TrainOptions } from "./training/trainer";
export { readFigure5, figure5Rows, figure5Summary, selfGuidedEpochs, switchEpochOf, weightDistributionFigure, weightingFunctionFigure, weightSummaryFigure, metaLossFigure, type Figure5Data, type Figure5Summary, type Phase2Record } from "./report/phase2-figures";

// experiments: configs, presets, runs, records, the paper's numbers
export { resolveConfig, type RunConfig, type RunConfigInput } from "./experiments/config";
export { presetSettings, type PresetName } from "./experiments/presets";
export { runExperiment, defaultResultsDir, type RunEvent, type RunResult } from "./experiments/runner";
export { readRecord, type ResultRecord } from "./experiments/record";
export { listRecords, groupRuns, groupPerUser, compareGroups, type RunGroup } from "./experiments/aggregate";
export { PAPER_TABLE2, paperValue, type PaperDataset, type PaperMetric } from "./experiments/paper-table2";
export { PAPER_TABLE3, PAPER_TABLE4, PAPER_TABLE5, PAPER_TABLE_NOTES, TABLE4_SHIFTS, TABLE5_VALUE_ORDER, paperTable3Value, paperTable4Value, paperTable5Value, type AblationModel, type Table3Variant, type Table5Scheduler, type Table5Metric } from "./experiments/paper-tables-3-5";

// report: SGDL variant tables (Tables 2-5) and the scheduler's selection (notebooks 05, 06)
export { TABLE_METRICS, variantGroup, variantTable, paperCells, formatMean, switchEpochsText, pairedComparisonTable, type Variant, type VariantTableOptions, type PairedComparisonOptions } from "./report/sgdl-tables";
export { selectedNoisyShareFigure, selectedNoisyShareSeries, meanSelectedNoisyShare, memorizedNoisyShare, type SchedulerRun } from "./report/scheduler-figures";
