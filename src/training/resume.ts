/**
 * Resuming a training run: the trainer's state after an epoch goes into a
 * checkpoint (training/checkpoint.ts), and comes back from one so that the
 * rest of the run draws the same random numbers and takes the same steps as
 * an uninterrupted run. The state is: where the loop stands (epoch,
 * iteration, phase, stopped), the epoch logs, early stopping, the best
 * checkpoint, the current parameters, the optimizer, and every seed stream.
 * Random streams and parameters are restored IN PLACE (the sampler and the
 * optimizer hold those very objects); the rest is returned for the trainer
 * to put in its context. Only methods that declare `resumable`
 * (training/method.ts) are checkpointed; a resumable method that keeps state
 * of its own exports it (Method.exportState: JSON under the header's
 * `methodState`, arrays under `method/` in the payload) and gets it back
 * (Method.importState) after all else is checked and before anything is
 * changed, so a bad file leaves the run untouched. A checkpoint without the
 * method state the method needs (or with state a method keeps none of) is a
 * DataError, and so is a bad field inside it (named `methodState.<path>` or
 * `method/<array>`).
 */
import * as fs from "node:fs";
import type { ParamStore } from "../models/ops/embedding-table";
import { DataError } from "../util/errors";
import type { Rng, RngState } from "../util/rng";
import { Adam, type AdamState } from "./adam";
import { readCheckpoint, writeCheckpoint, type Checkpoint } from "./checkpoint";
import { EarlyStopping } from "./early-stopping";
import type { EpochLog } from "./events";
import type { TrainSettings } from "./method";
import { MethodStateError, type MethodState, type StateArray } from "./method-state";
import type { SeedStreams } from "./trainer";

/** What a checkpoint must agree with to resume a run. */
export interface RunIdentity {
  runKey: string;
  seed: number;
  method: string;
  settings: TrainSettings;
}

/** The trainer's state after an epoch. */
export interface TrainerState {
  epoch: number;
  iteration: number;
  phase: string;
  stopped: boolean;
  epochs: EpochLog[];
  params: ParamStore;
  optimizer: Adam;
  stopper: EarlyStopping;
  best: { params: ParamStore; epoch: number; value: number } | null;
  /** The method's own state (Method.exportState), or undefined when it keeps none. */
  methodState?: MethodState;
}

/** What a restored checkpoint hands back besides the parameters and streams it restored in place. */
export interface RestoredState extends TrainerState {
  /** Wall time of the earlier segments, in seconds. */
  seconds: number;
  /** Epochs after which earlier segments resumed. */
  resumedFrom: number[];
}

/** The prefix of the method's arrays in the checkpoint. */
const METHOD_PREFIX = "method/";

const SETTING_KEYS: readonly (keyof TrainSettings)[] = ["epochs", "batchSize", "lr", "evalFreq", "stopStep", "ks"];

/** The run's streams with their names. */
function namedStreams(streams: SeedStreams): [string, Rng][] {
  return (Object.keys(streams) as (keyof SeedStreams)[]).map((k) => [k, streams[k]]);
}

/** Saves the state after an epoch as a checkpoint file (atomically). */
export function saveCheckpoint(file: string, id: RunIdentity, s: TrainerState, streams: SeedStreams, timing: { seconds: number; resumedFrom: number[] }): void {
  const arrays = new Map<string, StateArray>();
  for (const p of s.params.list()) arrays.set(`param/${p.name}`, p.data);
  const adam = s.optimizer.exportState(s.params);
  for (const { name, m, v } of adam.moments) {
    arrays.set(`adam.m/${name}`, m);
    arrays.set(`adam.v/${name}`, v);
  }
  if (s.best) for (const p of s.best.params.list()) arrays.set(`best/${p.name}`, p.data);
  if (s.methodState) for (const [name, a] of s.methodState.arrays) arrays.set(`${METHOD_PREFIX}${name}`, a);
  const rng: Record<string, RngState> = {};
  for (const [name, r] of namedStreams(streams)) rng[name] = r.getState();
  const ckpt: Checkpoint = {
    state: {
      runKey: id.runKey,
      seed: id.seed,
      method: id.method,
      settings: id.settings,
      epoch: s.epoch,
      iteration: s.iteration,
      phase: s.phase,
      stopped: s.stopped,
      epochs: s.epochs,
      stopper: s.stopper.exportState(),
      best: s.best ? { epoch: s.best.epoch, value: s.best.value } : null,
      rng,
      adam: { t: adam.t, lr: adam.lr, beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, moments: adam.moments.map((x) => x.name) },
      seconds: timing.seconds,
      resumedFrom: timing.resumedFrom,
      methodState: s.methodState ? s.methodState.json : undefined,
    },
    arrays,
  };
  writeCheckpoint(file, ckpt);
}

/**
 * Restores the run from its checkpoint file, or returns null when there is
 * none: parameters (values copied into `params`) and streams (states set) in
 * place, the rest returned. A checkpoint of another run, or one that does not
 * fit this model, is a DataError naming the file and field. importMethod
 * (given for a method with state of its own) restores the method's state; it
 * runs after every other check and before anything is changed in place.
 */
export function restoreCheckpoint(
  file: string,
  id: RunIdentity,
  params: ParamStore,
  streams: SeedStreams,
  importMethod?: (state: MethodState) => void,
): RestoredState | null {
  if (!fs.existsSync(file)) return null;
  const fail = (field: string, problem: string): never => {
    throw new DataError({ file, field }, `${problem} (delete the checkpoint to start the run over)`);
  };
  const { state: h, arrays } = readCheckpoint(file, id.runKey);
  if (h.seed !== id.seed) fail("seed", `is ${h.seed}, the run's is ${id.seed}`);
  if (h.method !== id.method) fail("method", `is '${h.method}', the run's is '${id.method}'`);
  for (const k of SETTING_KEYS) {
    if (JSON.stringify(h.settings[k]) !== JSON.stringify(id.settings[k])) fail(`settings.${k}`, `is ${JSON.stringify(h.settings[k])}, the run's is ${JSON.stringify(id.settings[k])}`);
  }

  const used = new Set<string>();
  const take = (name: string, length: number): Float32Array => {
    const a = arrays.get(name);
    if (a === undefined) return fail("arrays", `has no array '${name}'`);
    if (!(a instanceof Float32Array)) return fail("arrays", `array '${name}' is a ${a.constructor.name}, parameters are Float32Array`);
    if (a.length !== length) fail("arrays", `array '${name}' has ${a.length} values, the model's parameter has ${length}`);
    used.add(name);
    return a;
  };
  // check every array before changing anything, so a bad file leaves the run untouched
  const current = params.list().map((p) => take(`param/${p.name}`, p.data.length));
  const bestData = h.best ? params.list().map((p) => take(`best/${p.name}`, p.data.length)) : [];
  const moments: AdamState["moments"] = h.adam.moments.map((name) => {
    const p = params.list().find((q) => q.name === name) ?? fail("adam.moments", `names '${name}', which this model does not have`);
    return { name, m: take(`adam.m/${name}`, p.data.length), v: take(`adam.v/${name}`, p.data.length) };
  });
  const methodArrays = new Map<string, StateArray>();
  for (const [name, a] of arrays) {
    if (!name.startsWith(METHOD_PREFIX)) continue;
    methodArrays.set(name.slice(METHOD_PREFIX.length), a);
    used.add(name);
  }
  const extra = [...arrays.keys()].filter((n) => !used.has(n));
  if (extra.length > 0) fail("arrays", `holds arrays this model does not have: ${extra.slice(0, 5).join(", ")}`);
  const streamNames = namedStreams(streams).map(([name]) => name);
  for (const name of streamNames) if (!(name in h.rng)) fail(`rng.${name}`, "missing");
  for (const name of Object.keys(h.rng)) if (!streamNames.includes(name)) fail(`rng.${name}`, "is not a stream of this run");
  if (importMethod && h.methodState === undefined) fail("methodState", `missing: method '${id.method}' keeps state of its own, and this checkpoint has none of it`);
  if (!importMethod && (h.methodState !== undefined || methodArrays.size > 0)) fail("methodState", `method '${id.method}' keeps no state of its own, but the checkpoint holds some`);

  const optimizer = new Adam({ lr: h.adam.lr, beta1: h.adam.beta1, beta2: h.adam.beta2, eps: h.adam.eps });
  const stopper = new EarlyStopping(id.settings.stopStep);
  try {
    optimizer.importState({ ...h.adam, moments }, params);
  } catch (err) {
    fail("adam", err instanceof Error ? err.message : String(err));
  }
  try {
    stopper.importState(h.stopper);
  } catch (err) {
    fail("stopper", err instanceof Error ? err.message : String(err));
  }
  if (importMethod && h.methodState !== undefined) {
    try {
      importMethod({ json: h.methodState, arrays: methodArrays });
    } catch (err) {
      if (err instanceof MethodStateError) fail(err.field, err.message);
      fail("methodState", err instanceof Error ? err.message : String(err));
    }
  }
  let best: RestoredState["best"] = null;
  if (h.best) {
    const bp = params.clone();
    bp.list().forEach((p, j) => p.data.set(bestData[j]));
    best = { params: bp, epoch: h.best.epoch, value: h.best.value };
  }
  params.list().forEach((p, j) => p.data.set(current[j]));
  for (const [name, r] of namedStreams(streams)) r.setState(h.rng[name]);
  return {
    epoch: h.epoch,
    iteration: h.iteration,
    phase: h.phase,
    stopped: h.stopped,
    epochs: h.epochs,
    params,
    optimizer,
    stopper,
    best,
    seconds: h.seconds,
    resumedFrom: h.resumedFrom,
  };
}
