/**
 * Named settings per dataset and model. `paper`: the paper's and the official
 * code's settings (paper 4.1.4, sgdl-reference 1 and 7): batch 128 on
 * MovieLens, 1024 on Adressa, 2048 on Yelp; lr 1e-3 for NeuMF, CDAE and
 * LightGCN, 1e-4 for NGCF; validation every 5 epochs with patience 8 on
 * MovieLens, every 10 with patience 4 on Adressa and Yelp; at most 1000
 * epochs; Recall/NDCG at 5 and 20. `quick`: a few epochs at a larger step so a
 * notebook cell finishes in a minute or two (synthetic data uses its small
 * `quick` size), for tests and first looks, not for numbers.
 */
import type { ModelName } from "../models/model";

export type PresetName = "quick" | "paper";
export const PRESET_NAMES: readonly PresetName[] = ["quick", "paper"];

/** The loop settings a preset fixes. */
export interface PresetSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  evalFreq: number;
  stopStep: number;
  ks: number[];
  /** The synthetic generator's size preset (used only with the synthetic dataset). */
  dataPreset: string;
}

/** Paper 4.1.4 learning rates (MF, not in the paper, as LightGCN's). */
export const PAPER_LR: Record<ModelName, number> = { neumf: 1e-3, cdae: 1e-3, ngcf: 1e-4, lightgcn: 1e-3, mf: 1e-3 };

/** Paper batch sizes: MovieLens 128 (synthetic is ML-100K-sized), Adressa 1024, Yelp 2048. */
export function paperBatchSize(dataset: string): number {
  if (dataset === "adressa") return 1024;
  if (dataset === "yelp") return 2048;
  return 128;
}

/** Official README: eval_freq 5 / stop_step 8 on ML-100K, 10 / 4 on Adressa and Yelp. */
export function paperEvalSchedule(dataset: string): { evalFreq: number; stopStep: number } {
  return dataset === "adressa" || dataset === "yelp" ? { evalFreq: 10, stopStep: 4 } : { evalFreq: 5, stopStep: 8 };
}

/** The settings of a preset for a dataset and model. */
export function presetSettings(preset: PresetName, dataset: string, model: ModelName): PresetSettings {
  const ks = [5, 20];
  if (preset === "paper") {
    return { epochs: 1000, batchSize: paperBatchSize(dataset), lr: PAPER_LR[model], ...paperEvalSchedule(dataset), ks, dataPreset: "default" };
  }
  // quick: 10x the paper's step size (NGCF's 1e-4 would barely move in 12 epochs), larger batches
  return {
    epochs: 12,
    batchSize: dataset === "synthetic" ? 256 : Math.max(1024, paperBatchSize(dataset)),
    lr: Math.min(1e-2, 10 * PAPER_LR[model]),
    evalFreq: 2,
    stopStep: 3,
    ks,
    dataPreset: "quick",
  };
}
