/**
 * The weighting function g(L; psi) of SGDL's self-guided learning (paper
 * Section 3.2.1, Eq. 5): a one-hidden-layer MLP of the DETACHED per-sample
 * loss, weight = sigmoid(W2 relu(W1 L + b1) + b2) in (0, 1), no normalisation
 * across the batch. The official code's "LTW" (sgdl-reference 3.3) is the same
 * net with hidden 100, biases and PyTorch's default init; the paper says hidden
 * 64 and Xavier, and its count of 2 d_w parameters implies no biases. All three
 * are options. The parameters psi live in a ParamStore of dense parameters, so
 * the kit's Adam (training/adam.ts) updates them like any model parameter.
 */
import * as tf from "@tensorflow/tfjs";
import { paramTensor, ParamStore, type Init } from "../../models/ops/embedding-table";
import type { Rng } from "../../util/rng";

/** The weighting net's shape and initialisation. */
export interface WeightingConfig {
  /** Hidden units d_w: 64 in the paper (4.1.4), 100 in the official code (`--hidden1`). */
  hidden: number;
  /** Biases b1, b2: on in the official code; the paper's 2 d_w parameter count implies none. */
  bias: boolean;
  /**
   * "xavier": weights Xavier-uniform, biases 0 (the paper's "Xavier");
   * "pytorch": nn.Linear's default, weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the official code).
   */
  init: "xavier" | "pytorch";
}

/** The paper's weighting net, with biases on as the code (brief: biases on by default). */
export const WEIGHTING_DEFAULTS: Readonly<WeightingConfig> = { hidden: 64, bias: true, init: "xavier" };

/** The official code's LTW (sgdl-reference 3.3): 1 -> 100 -> 1, biases, PyTorch default init. */
export const WEIGHTING_CODE: Readonly<WeightingConfig> = { hidden: 100, bias: true, init: "pytorch" };

/** The parameter names of psi, in ParamStore order (b1, b2 only with biases). */
export const PSI_NAMES = { w1: "w1", b1: "b1", w2: "w2", b2: "b2" } as const;

/** The weighting net: its config and its parameters psi (dense; w1 [1 x h], b1 [h], w2 [h x 1], b2 [1], stored [in x out]). */
export interface WeightingNet {
  readonly config: WeightingConfig;
  readonly params: ParamStore;
}

/** psi as tensors by parameter name (see psiTensors). */
export type PsiTensors = Readonly<Record<string, tf.Tensor>>;

/** A weighting net with psi drawn from rng (w1, b1, w2, b2 in that order). */
export function createWeighting(cfg: Partial<WeightingConfig>, rng: Rng): WeightingNet {
  const c: WeightingConfig = { ...WEIGHTING_DEFAULTS, ...cfg };
  if (!Number.isInteger(c.hidden) || c.hidden < 1) throw new RangeError(`weighting: hidden must be a positive integer, got ${c.hidden}`);
  if (typeof c.bias !== "boolean") throw new RangeError(`weighting: bias must be a boolean, got ${JSON.stringify(c.bias)}`);
  if (c.init !== "xavier" && c.init !== "pytorch") throw new RangeError(`weighting: init must be 'xavier' or 'pytorch', got '${String(c.init)}'`);
  const h = c.hidden;
  const weight = (fanIn: number): Init => (c.init === "xavier" ? { kind: "xavier-uniform" } : { kind: "uniform", bound: 1 / Math.sqrt(fanIn) });
  const bias = (fanIn: number): Init => (c.init === "xavier" ? { kind: "zeros" } : { kind: "uniform", bound: 1 / Math.sqrt(fanIn) });
  const params = new ParamStore();
  params.add(PSI_NAMES.w1, "dense", [1, h], weight(1), rng);
  if (c.bias) params.add(PSI_NAMES.b1, "dense", [h], bias(1), rng);
  params.add(PSI_NAMES.w2, "dense", [h, 1], weight(h), rng);
  if (c.bias) params.add(PSI_NAMES.b2, "dense", [1], bias(h), rng);
  return { config: c, params };
}

/** psi as fresh tensors by name (values copied; the caller disposes them). */
export function psiTensors(params: ParamStore): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const p of params.list()) out[p.name] = paramTensor(p);
  return out;
}

/** A copy of x's values with no tape link: what PyTorch's `.detach()` / `.data` gives (tfjs 4.22 has no stopGradient). */
export function detached(x: tf.Tensor): tf.Tensor {
  return tf.tensor(x.dataSync(), x.shape, x.dtype);
}

/**
 * g(L; psi) per sample (Eq. 5): sigmoid(relu(L w1 + b1) w2 + b2) [batch], as a
 * function of the psi tensors (differentiable in them); the loss input is
 * detached, so no gradient reaches the model through it (as the code's `.data`).
 * Missing b1/b2 mean a net without biases.
 */
export function weights(psi: PsiTensors, losses: tf.Tensor1D): tf.Tensor1D {
  const w1 = psi[PSI_NAMES.w1];
  const w2 = psi[PSI_NAMES.w2];
  if (w1 === undefined || w2 === undefined) throw new Error(`weighting: psi needs '${PSI_NAMES.w1}' and '${PSI_NAMES.w2}' (have: ${Object.keys(psi).join(", ")})`);
  if (losses.rank !== 1) throw new Error(`weighting: losses must be a vector, got shape [${losses.shape.join(", ")}]`);
  const n = losses.shape[0];
  const x = tf.reshape(detached(losses), [n, 1]) as tf.Tensor2D;
  let z: tf.Tensor = tf.matMul(x, w1 as tf.Tensor2D);
  const b1 = psi[PSI_NAMES.b1];
  if (b1 !== undefined) z = tf.add(z, b1);
  let y: tf.Tensor = tf.matMul(tf.relu(z) as tf.Tensor2D, w2 as tf.Tensor2D);
  const b2 = psi[PSI_NAMES.b2];
  if (b2 !== undefined) y = tf.add(y, b2);
  // sigmoid is differentiated once only (psi enters the inner backward of Eq. 7 linearly), which tfjs 4.22 does right
  return tf.reshape(tf.sigmoid(y), [n]) as tf.Tensor1D;
}

/** The weights of given loss values at the net's current psi, without gradients. */
export function weightsOf(net: WeightingNet, losses: Float32Array): Float32Array {
  const out = tf.tidy(() => weights(psiTensors(net.params), tf.tensor1d(losses)));
  const values = out.dataSync().slice() as Float32Array;
  out.dispose();
  return values;
}
