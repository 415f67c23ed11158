/**
 * Picks the TensorFlow.js backend at start-up: tfjs-node's native `tensorflow`
 * backend when it is installed and registers, else wasm (with the transposed-
 * matmul patch), else the pure-JS cpu backend. `--backend` or `SGDL_BACKEND`
 * overrides the choice. Every result record names the backend that ran.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

export type BackendName = "tensorflow" | "wasm" | "cpu";
export const BACKENDS: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];

export interface BackendInfo {
  /** The backend that runs. */
  name: BackendName;
  /** What was asked for: `auto`, or a name from `--backend` / `SGDL_BACKEND`. */
  requested: BackendName | "auto";
  /** Why this one (e.g. "tfjs-node not installed"). */
  reason: string;
  tfjsVersion: string;
  /** Whether wasm's BatchMatMul/_FusedMatMul run through the transpose-first wrapper. */
  matmulPatch: boolean;
}

let current: BackendInfo | undefined;

/** Parses a backend name from a flag or the environment; throws on an unknown one. */
export function parseBackendName(value: string | undefined): BackendName | "auto" {
  if (value === undefined || value === "" || value === "auto") return "auto";
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`unknown backend '${value}': use one of auto, ${BACKENDS.join(", ")}`);
}

/** Initialises the backend once per process (later calls return the first answer unless a different one is asked for). */
export async function initBackend(requested?: string): Promise<BackendInfo> {
  const want = parseBackendName(requested ?? process.env.SGDL_BACKEND);
  if (current && (want === "auto" || want === current.name)) return current;
  const tfjsVersion = tf.version.tfjs;
  const candidates: BackendName[] = want === "auto" ? [...BACKENDS] : [want];
  const skipped: string[] = [];
  for (const name of candidates) {
    const why = await tryBackend(name);
    if (why === undefined) {
      const reason = want === "auto" ? (skipped.length ? skipped.join("; ") : "first choice") : "requested";
      current = { name, requested: want, reason, tfjsVersion, matmulPatch: name === "wasm" && matmulPatched };
      return current;
    }
    skipped.push(`${name}: ${why}`);
  }
  throw new Error(`no TF.js backend could start (${skipped.join("; ")})`);
}

/** The backend chosen by initBackend, or undefined before it ran. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

async function tryBackend(name: BackendName): Promise<string | undefined> {
  if (name === "tensorflow") {
    try {
      // npm may hoist danfojs-node's alias of plain tfjs under this name: only a registered backend counts.
      require("@tensorflow/tfjs-node");
    } catch {
      return "tfjs-node not installed";
    }
    if (tf.engine().registryFactory["tensorflow"] == null) {
      return "tfjs-node not installed (the package present is plain tfjs)";
    }
  }
  if (name === "wasm") patchWasmMatMul();
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return "failed to initialise";
    await tf.ready();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

let matmulPatched = false;

/**
 * Wasm's matmul is fast only without transpose flags, and every matmul gradient
 * sets them. Re-register BatchMatMul and _FusedMatMul with a wrapper that
 * transposes the flagged operand first (wasm Transpose) and calls the original
 * kernel with both flags false: the same numbers, about 10x faster backward.
 * Must run before the wasm backend is initialised (the kernels' setup runs then).
 */
export function patchWasmMatMul(): void {
  if (matmulPatched) return;
  const transpose = tf.getKernel("Transpose", "wasm");
  if (!transpose) return;
  for (const kernelName of ["BatchMatMul", "_FusedMatMul"]) {
    const original = tf.getKernel(kernelName, "wasm");
    if (!original) continue;
    const run = original.kernelFunc;
    const wrapped: tf.KernelFunc = ({ inputs, backend, attrs }) => {
      const transposeA = attrs?.["transposeA"] === true;
      const transposeB = attrs?.["transposeB"] === true;
      if (!transposeA && !transposeB) return run({ inputs, backend, attrs });
      const temps: tf.TensorInfo[] = [];
      const flip = (x: tf.TensorInfo): tf.TensorInfo => {
        const r = x.shape.length;
        const perm = [...Array(r).keys()];
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        const out = transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
        temps.push(out);
        return out;
      };
      const newInputs = { ...inputs };
      const a = inputs["a"];
      const b = inputs["b"];
      if (a === undefined || b === undefined) return run({ inputs, backend, attrs });
      if (transposeA) newInputs["a"] = flip(a);
      if (transposeB) newInputs["b"] = flip(b);
      try {
        return run({ inputs: newInputs, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      } finally {
        for (const t of temps) (backend as tf.KernelBackend).disposeData(t.dataId);
      }
    };
    tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({ ...original, kernelFunc: wrapped });
  }
  matmulPatched = true;
}
