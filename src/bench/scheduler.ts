/**
 * Benchmark of the denoising scheduler's per-step work in Phase II
 * (methods/sgdl/scheduler.ts): draw (logits Eq. 10, softmax Eq. 11, B
 * straight-through Gumbel draws Eq. 12) and the scheduler step
 * (trainFromSelectionGrad + advance), one JSON line per kind, on seeded
 * features [B x F] and a seeded upstream gradient dL/dS; memorized-sample ids
 * rotate over `samples` ids in blocks of B, as Phase II walks M. Not a test.
 *   node --import tsx src/bench/scheduler.ts [--backend wasm|cpu] [--kinds lstm,lstm1,mlp] [--reps N] [--batch B] [--samples N]
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend";
import { createScheduler, SCHEDULER_KINDS, type SchedulerKind } from "../methods/sgdl/scheduler";
import { Rng } from "../util/rng";

/** One line of output. */
export interface SchedulerBenchRecord {
  bench: "scheduler";
  kind: SchedulerKind;
  backend: string;
  batch: number;
  reps: number;
  drawMs: number;
  stepMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Times draw and trainFromSelectionGrad + advance per kind; one record per kind. */
export async function runSchedulerBench(opts: { backend?: string; kinds?: SchedulerKind[]; reps?: number; batch?: number; samples?: number } = {}): Promise<SchedulerBenchRecord[]> {
  const backend = (await initBackend(opts.backend ?? "wasm")).name;
  const b = opts.batch ?? 128;
  const reps = opts.reps ?? 50;
  const samples = Math.max(b, opts.samples ?? 4096);
  const out: SchedulerBenchRecord[] = [];
  for (const kind of opts.kinds ?? (["lstm", "lstm1", "mlp"] as SchedulerKind[])) {
    const rng = new Rng(7);
    const s = createScheduler({ kind }, rng.fork());
    const f = s.config.features;
    const data = rng.fork();
    const drawRng = rng.fork();
    const draws: number[] = [];
    const steps: number[] = [];
    for (let k = 0; k < reps + 5; k++) {
      const x = tf.tensor2d(Float32Array.from({ length: b * f }, (_, j) => (j % f === 0 ? 2 * data.next() : 2 * data.next() - 1)), [b, f]);
      const g = Float32Array.from({ length: b * b }, () => data.normal() / b);
      const start = (k * b) % (samples - b + 1);
      const ids = Int32Array.from({ length: b }, (_, j) => start + j);
      const t0 = performance.now();
      const d = s.draw(x, { draws: b, tau: 0.05, rng: drawRng, ids });
      const t1 = performance.now();
      s.trainFromSelectionGrad(d, g);
      s.advance();
      const t2 = performance.now();
      tf.dispose([x, d.selection]);
      if (k < 5) continue;
      draws.push(t1 - t0);
      steps.push(t2 - t1);
    }
    const rec: SchedulerBenchRecord = { bench: "scheduler", kind, backend, batch: b, reps, drawMs: Math.round(median(draws) * 1000) / 1000, stepMs: Math.round(median(steps) * 1000) / 1000 };
    out.push(rec);
    console.log(JSON.stringify(rec));
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { backend: { type: "string" }, kinds: { type: "string" }, reps: { type: "string" }, batch: { type: "string" }, samples: { type: "string" } },
    strict: true,
  });
  const kinds = values.kinds?.split(",").map((k) => {
    if (!(SCHEDULER_KINDS as readonly string[]).includes(k)) throw new Error(`--kinds: unknown scheduler kind '${k}'; known: ${SCHEDULER_KINDS.join(", ")}`);
    return k as SchedulerKind;
  });
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  await runSchedulerBench({ backend: values.backend, kinds, reps: num(values.reps), batch: num(values.batch), samples: num(values.samples) });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
