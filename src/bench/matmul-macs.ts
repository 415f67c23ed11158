/**
 * Multiply-adds done by matrix products while a function runs, from TF.js's
 * kernel profile (tf.profile): every BatchMatMul / _FusedMatMul kernel, the
 * backward passes' too, whatever the backend. Per kernel: output size times
 * the contracted length, K = size(a) / (batch x rows of the output), which
 * holds with or without the transpose flags. Wasm's transpose-first wrapper
 * (backend.ts) calls its Transpose outside the engine, so it adds nothing.
 * For benchmarks: the work a step must do, apart from how fast it runs.
 */
import * as tf from "@tensorflow/tfjs";

const MATMUL_KERNELS = new Set(["BatchMatMul", "_FusedMatMul"]);

/** The product of a shape's dimensions (1 for a scalar). */
function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Multiply-adds of one matmul kernel from its first input's and its output's shapes. */
export function matMulMacs(aShape: readonly number[], outShape: readonly number[]): number {
  if (outShape.length < 2 || aShape.length < 2) throw new Error(`matmul macs: shapes [${aShape.join(", ")}] -> [${outShape.join(", ")}] are not matrices`);
  const rows = outShape[outShape.length - 2];
  const batch = size(outShape.slice(0, -2));
  const k = size(aShape) / (batch * rows);
  return size(outShape) * k;
}

/** The multiply-adds of every matmul kernel run by fn (its result is disposed). */
export async function countMatMulMacs(fn: () => void): Promise<number> {
  const info = await tf.profile(() => {
    fn();
    return [] as tf.Tensor[];
  });
  let macs = 0;
  for (const k of info.kernels) {
    if (!MATMUL_KERNELS.has(k.name)) continue;
    const a = k.inputShapes[0];
    const out = k.outputShapes[0];
    if (a === undefined || out === undefined) throw new Error(`matmul macs: kernel ${k.name} without shapes`);
    macs += matMulMacs(a, out);
  }
  return macs;
}
