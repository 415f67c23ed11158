/**
 * Shared pieces of the resume tests (training/checkpoint, training/method-state,
 * sgdl/resume): a listener that "kills" a run after an epoch, the epochs a
 * segment started, epoch logs without wall times, parameters as hex.
 * Not a test file itself.
 */
import type { EpochLog, TrainEvent } from "../../src/training/events";
import type { TrainResult } from "../../src/training/trainer";

/** The epoch logs without their wall times. */
export function withoutSeconds(logs: EpochLog[]): Omit<EpochLog, "seconds">[] {
  return logs.map(({ seconds: _s, ...rest }) => rest);
}

/** A listener that throws at the end of epoch k (the process "dies" there). */
export function dieAfter(k: number, seen: TrainEvent[] = []): (e: TrainEvent) => void {
  return (e) => {
    seen.push(e);
    if (e.type === "epoch-end" && e.epoch === k) throw new Error(`killed after epoch ${k}`);
  };
}

/** The epochs that started, in order. */
export function started(events: TrainEvent[]): number[] {
  return events.flatMap((e) => (e.type === "epoch-start" ? [e.epoch] : []));
}

/** The parameters as [name, hex of their bytes]: equal only when bit for bit equal. */
export function paramsHex(r: TrainResult): string[][] {
  return r.params.list().map((p) => [p.name, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString("hex")]);
}
