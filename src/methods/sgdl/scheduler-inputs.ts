/**
 * The scheduler's inputs for a memorized batch (Section 3.2.2, Eq. 10): per
 * memorized sample its loss L_m(theta) and the cosine between its gradients at
 * theta and at the assumed update theta_hat (Eq. 7, plain SGD with the current
 * weights, as values): theta_hat descends on the training batch (the paper's
 * pairing) or on the memorized batch itself (the code's theta~). The cosines
 * come from one backward pass per point (cosine-features.ts says which
 * parameters they cover); no gradient flows back into these features.
 * Linear graph models (Model.linearRows) on BPR batches take the exact closed
 * form of linear-meta.ts instead, models with per-sample gradient factors
 * (Model.perSampleGradients) that of factored-meta.ts (path "auto"; "general"
 * forces the passes). Only the factored path can also cover dense leaves.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ForwardMode, Model } from "../../models/model";
import type { ParamStore } from "../../models/ops/embedding-table";
import { makeLeaves } from "../../training/step";
import { perSampleGradientCosines, perSampleSource, schedulerFeatures } from "./cosine-features";
import { factoredSchedulerInputs, type FactoredCosineOptions } from "./factored-meta";
import { linearRowsFor, linearSchedulerInputs } from "./linear-meta";
import { assumedLeaves, type WeightsOf } from "./meta-step";

/** The feature matrix [B x columns] row-major: [L_m(theta), cosine(s)...] per memorized sample. */
export type SchedulerInputs = {
  features: Float32Array;
  columns: number;
  /** L_m(theta) [B]. */
  losses: Float32Array;
};

/** Loss and gradient cosine(s) of every memorized sample between theta and theta_hat (from `source`); `mode` gives a fresh forward mode per pass; `path` as MetaStepInputs.path; `opts.coverDense` needs the factored path. */
export function schedulerInputs(
  model: Model,
  params: ParamStore,
  source: Batch,
  memorized: Batch,
  weightsOf: WeightsOf,
  eta1: number,
  cosine: "all" | "group",
  mode: () => ForwardMode,
  path: "auto" | "general" = "auto",
  opts: FactoredCosineOptions = {},
): SchedulerInputs {
  if (path !== "general" && opts.coverDense !== true && linearRowsFor(model, [source, memorized]) !== null) return linearSchedulerInputs(model, params, source, memorized, weightsOf, eta1, cosine);
  if (path !== "general" && model.perSampleGradients !== undefined) {
    const fast = factoredSchedulerInputs(model, params, source, memorized, weightsOf, eta1, cosine, mode, opts);
    if (fast !== null) return fast;
  }
  if (opts.coverDense === true) throw new Error(`scheduler inputs: covering dense leaves needs per-sample gradient factors (model '${model.name}' has none here, or path is "general")`);
  return tf.tidy(() => {
    const specs = model.leaves(memorized);
    const { tensors } = makeLeaves(params, specs);
    const atTheta: Record<string, tf.Tensor> = {};
    specs.forEach((s, i) => (atTheta[s.key] = tensors[i]));
    const atHat = assumedLeaves(model, params, source, memorized, weightsOf, eta1, mode()); // Eq. 7
    const c = perSampleGradientCosines(perSampleSource(model), atTheta, atHat, memorized, { cosine, mode });
    return { features: schedulerFeatures(c.lossesA, c), columns: 1 + c.groups.length, losses: c.lossesA };
  });
}
