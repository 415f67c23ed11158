/** Shared helpers of the model tests: random parameters, the trainer's leaves as plain arrays and back, float64 softplus. */
import * as tf from "@tensorflow/tfjs";
import type { Batch, Model } from "../../src/models/model";
import { gatherRows, paramTensor, type ParamStore } from "../../src/models/ops/embedding-table";
import { Rng } from "../../src/util/rng";

/** Overwrites every parameter with N(0, std^2) draws (biases included), so no path is trivially zero. */
export function randomize(params: ParamStore, std: number, seed: number): void {
  const rng = new Rng(seed);
  for (const p of params.list()) for (let k = 0; k < p.data.length; k++) p.data[k] = std * rng.normal();
}

/** The batch's leaves as the trainer builds them: table rows per position, dense parameters whole. */
export function leafValues(model: Model, params: ParamStore, batch: Batch): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of model.leaves(batch)) {
    const t = s.rows ? gatherRows(params.get(s.param), s.rows) : paramTensor(params.get(s.param));
    out.set(s.key, t.dataSync() as Float32Array);
    t.dispose();
  }
  return out;
}

/** Leaf tensors from leaf values (the inverse of leafValues). */
export function toTensors(model: Model, batch: Batch, values: Map<string, Float32Array>, params: ParamStore): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const s of model.leaves(batch)) {
    const shape = s.rows ? [s.rows.length, params.get(s.param).shape[1]] : [...params.get(s.param).shape];
    out[s.key] = tf.tensor(values.get(s.key) as Float32Array, shape);
  }
  return out;
}

/** softplus in float64 without overflow. */
export function softplus(y: number): number {
  return Math.max(y, 0) + Math.log1p(Math.exp(-Math.abs(y)));
}
