/**
 * The `sgdl` training method (paper Section 3). Phase I (memorization,
 * phase1.ts) trains normally (at lr * phase1LrScale, without validation, as
 * the official code) and, after every epoch, tracks the memorized set, MP/MR
 * and the GMM noise rate; at the first epoch with |M_t| >= (1 - sigma')|D|
 * (Eq. 3) it switches: the lr is restored and Phase II starts with M_t as the
 * memorized data.
 *
 * Phase II enters as `sgdlMethod(options, phase2)`: a Phase2 (phase2.ts)
 * receives the memorized interactions at the switch (`start`) and then
 * answers the method's hooks (step, examples, validates, ...). Without one
 * (option `stopAtSwitch`) the run stops at the switch and the record keeps
 * the switch epoch, sigma_hat and the memorized set (Phase I studies).
 *
 * Option `trackOnly`: memorization is tracked during training that never
 * switches (Figure 1's normal panels); phase "normal", the usual validation
 * schedule, lr * phase1LrScale throughout (normal training at the default 1).
 * Up to the switch epoch such a run trains exactly as the switching run with
 * the same options (tracking has its own random stream), so its log also
 * gives the switch epoch under any Table 4 shift (switchEpochFromLog).
 *
 * Resumable: a checkpoint is saved after EVERY epoch (checkpointAfter), in
 * Phase I too although Phase I does not validate, so a killed run loses at
 * most one epoch. The method's state (exportState) is the switch (epoch,
 * sigma_hat, phase, base lr, options), Phase I's (phase1.ts: memorization
 * histories, switch rule, observations, Figure 4, its streams) and from the
 * switch on Phase II's (phase2.ts). A Phase II without exportState/importState
 * makes the method not resumable.
 */
import type { Interactions } from "../../data/interactions";
import type { FieldValue } from "../../training/events";
import type { EpochVerdict, Method, TrainContext } from "../../training/method";
import { StateReader, StateWriter, type MethodState } from "../../training/method-state";
import { meanObjective } from "../../training/step";
import { parseSgdlOptions, plainSgdlOptions, type PlainOptions, type SgdlOptions } from "./options";
import { Phase1, type Phase1Observation } from "./phase1";

/** The phase names written into the epoch log. */
export const PHASE_MEMORIZATION = "memorization";
export const PHASE_SELF_GUIDED = "self-guided";

/** Phase II as a later issue supplies it: started once at the switch, then it answers the method's hooks. */
export interface Phase2 extends Omit<Method, "name" | "init" | "resumable" | "exportState" | "importState" | "checkpointAfter"> {
  /** At the switch (after the switch epoch's Phase I work): memorized = M_{t_m} as its own CSR split. */
  start(ctx: TrainContext, memorized: Interactions, phase1: Phase1): void | Promise<void>;
  /** Writes Phase II's state after an epoch (for a checkpoint); called only after start. */
  exportState?(w: StateWriter): void;
  /** On a resumed run, instead of start: Phase II's state from exportState, with M_{t_m} as start got it; throws a MethodStateError naming the field. */
  importState?(r: StateReader, ctx: TrainContext, memorized: Interactions): void;
}

/** The sgdl Method with access to its Phase I state (for tests and notebooks). */
export interface SgdlMethod extends Method {
  readonly options: SgdlOptions;
  /** Phase I's bookkeeping; null before init. */
  readonly phase1: Phase1 | null;
  /** The epoch at which Phase I ended (null: not yet, never, or trackOnly). */
  readonly switchEpoch: number | null;
}

/** Phase I's observation of the epoch just trained (memorized set, MP/MR, GMM noise rate) and its log fields. */
function observe(phase1: Phase1, ctx: TrainContext, gmmLosses: SgdlOptions["gmmLosses"]): { obs: Phase1Observation; fields: Record<string, FieldValue> } {
  const scorer = ctx.model.scorer(ctx.params);
  try {
    const obs = phase1.observe(scorer, gmmLosses === "model" ? (examples) => ctx.losses(examples, { training: false }) : undefined);
    return { obs, fields: observeFields(obs) };
  } finally {
    if (scorer.dispose) scorer.dispose();
  }
}

/** The epoch-log fields of an observation. */
function observeFields(obs: Phase1Observation): Record<string, FieldValue> {
  return {
    memorized: obs.memorized,
    memorizedRatio: obs.memorizedRatio,
    memRateClean: obs.memRateClean,
    memRateNoisy: obs.memRateNoisy,
    mp: obs.mp,
    mr: obs.mr,
    noiseRateEstimate: obs.noiseRateEstimate,
  };
}

/** The SGDL method: Phase I, then Phase II through `phase2` (without it the run stops at the switch). */
export function sgdlMethod(options: Partial<SgdlOptions> | PlainOptions = {}, phase2?: Phase2): SgdlMethod {
  const o = parseSgdlOptions({ ...options } as PlainOptions);
  let phase1: Phase1 | null = null;
  let baseLr = NaN;
  let switchEpoch: number | null = null;
  let noiseRateAtSwitch: number | null = null;
  let inPhase2 = false;
  let stoppedAtSwitch = false;
  const p2 = (): Phase2 | undefined => (inPhase2 ? phase2 : undefined);

  const method: SgdlMethod = {
    name: "sgdl",
    resumable: phase2 === undefined || (phase2.exportState !== undefined && phase2.importState !== undefined),
    options: o,
    get phase1() {
      return phase1;
    },
    get switchEpoch() {
      return switchEpoch;
    },

    init(ctx: TrainContext): void {
      if (o.selectionLevel === "embedding" && ctx.model.loss !== "bpr" && !o.trackOnly && !o.stopAtSwitch) {
        throw new Error(`sgdl option 'selectionLevel' "embedding" (the official code's, on LightGCN) needs a BPR model; '${ctx.model.name}' trains on '${ctx.model.loss}' (use "loss")`);
      }
      phase1 = new Phase1(ctx.dataset.train, ctx.model.loss, o, ctx.rng.fork());
      switchEpoch = null; // a method object reused for another run starts over
      noiseRateAtSwitch = null;
      inPhase2 = false;
      stoppedAtSwitch = false;
      baseLr = ctx.optimizer.lr;
      ctx.optimizer.lr = baseLr * o.phase1LrScale; // official code: lr / 5 in Phase I
      if (!o.trackOnly) ctx.phase = PHASE_MEMORIZATION;
    },

    validates(ctx: TrainContext, epoch: number): boolean {
      const byDefault = epoch % ctx.settings.evalFreq === 0;
      if (o.trackOnly) return byDefault;
      const second = p2();
      if (second === undefined) return false; // no validation in Phase I (official code)
      return second.validates ? second.validates(ctx, epoch) : byDefault;
    },

    async afterEpoch(ctx: TrainContext, log): Promise<EpochVerdict | void> {
      if (phase1 === null) throw new Error("sgdl: afterEpoch before init");
      const second = p2();
      if (second !== undefined) {
        const verdict = second.afterEpoch ? await second.afterEpoch(ctx, log) : undefined;
        if (!o.trackPhase2) return verdict;
        // Figure 1's SGDL panels: memorization keeps being tracked in Phase II (no second switch)
        const tracked = observe(phase1, ctx, o.gmmLosses).fields;
        return { ...verdict, fields: { ...tracked, ...(verdict ? verdict.fields : {}) } };
      }
      const { obs, fields } = observe(phase1, ctx, o.gmmLosses);
      if (!obs.isMemorizationPoint) return { fields };
      const text =
        `memorization point: |M|/|D| = ${obs.memorizedRatio.toFixed(5)} >= 1 - sigma' = ${obs.threshold.toFixed(5)} ` +
        `(sigma_hat ${obs.noiseRateEstimate.toFixed(5)})`;
      if (o.trackOnly) {
        ctx.emit({ type: "note", epoch: obs.epoch, text: `${text}; trackOnly: training goes on without switching` });
        return { fields };
      }
      switchEpoch = obs.epoch;
      noiseRateAtSwitch = obs.noiseRateEstimate;
      ctx.optimizer.lr = baseLr; // Phase II trains at the full lr
      if (phase2 === undefined) {
        stoppedAtSwitch = true;
        ctx.emit({ type: "note", epoch: obs.epoch, text: `${text}; stopAtSwitch: stopping at the switch` });
        return { stop: true, fields };
      }
      ctx.emit({ type: "note", epoch: obs.epoch, text: `${text}; switching to Phase II` });
      await phase2.start(ctx, phase1.tracker.memorizedInteractions(), phase1);
      inPhase2 = true;
      ctx.phase = PHASE_SELF_GUIDED;
      return { fields };
    },

    checkpointAfter(): boolean {
      return true; // Phase I does not validate, and its epochs must not be lost either
    },

    exportState(): MethodState {
      if (phase1 === null) throw new Error("sgdl: exportState before init");
      const w = new StateWriter();
      w.set("options", plainSgdlOptions(o));
      w.set("baseLr", baseLr);
      w.set("switchEpoch", switchEpoch);
      w.set("noiseRateAtSwitch", noiseRateAtSwitch);
      w.set("inPhase2", inPhase2);
      w.set("stoppedAtSwitch", stoppedAtSwitch);
      phase1.exportState(w.child("phase1"));
      if (inPhase2 && phase2 !== undefined && phase2.exportState) phase2.exportState(w.child("phase2"));
      return w.state();
    },

    importState(state: MethodState, ctx: TrainContext): void {
      if (phase1 === null) throw new Error("sgdl: importState before init");
      const r = new StateReader(state);
      const opts = r.child("options");
      for (const [k, v] of Object.entries(plainSgdlOptions(o))) {
        if (opts.raw(k) !== v) opts.fail(k, `is ${JSON.stringify(opts.raw(k))}, this run's sgdl option is ${JSON.stringify(v)}`);
      }
      const saved = { baseLr: r.num("baseLr"), switchEpoch: r.intOrNull("switchEpoch", 1), noiseRateAtSwitch: r.numOrNull("noiseRateAtSwitch"), inPhase2: r.bool("inPhase2"), stoppedAtSwitch: r.bool("stoppedAtSwitch") };
      if (saved.inPhase2 && (phase2 === undefined || saved.switchEpoch === null)) r.fail("inPhase2", "is true, but this run has no Phase II or no switch epoch");
      if (saved.stoppedAtSwitch && saved.switchEpoch === null) r.fail("stoppedAtSwitch", "is true without a switch epoch");
      phase1.importState(r.child("phase1"));
      if (saved.switchEpoch !== null && saved.switchEpoch !== phase1.memorizationPoint) r.fail("switchEpoch", `is ${saved.switchEpoch}, Phase I's memorization point ${phase1.memorizationPoint}`);
      if (saved.inPhase2 && phase2 !== undefined && phase2.importState) {
        const memorized = phase1.memorizedAtPoint();
        if (memorized === null) return r.fail("inPhase2", "is true, but Phase I has no memorization point");
        phase2.importState(r.child("phase2"), ctx, memorized);
      }
      baseLr = saved.baseLr;
      switchEpoch = saved.switchEpoch;
      noiseRateAtSwitch = saved.noiseRateAtSwitch;
      inPhase2 = saved.inPhase2;
      stoppedAtSwitch = saved.stoppedAtSwitch;
    },

    describe(): Record<string, FieldValue | null> {
      const out: Record<string, FieldValue | null> = {
        ...plainSgdlOptions(o),
        switchEpoch,
        noiseRateAtSwitch,
        stoppedAtSwitch,
        phase2: phase2 === undefined ? "none (the run stops at the switch)" : "self-guided learning",
      };
      if (phase1 !== null) Object.assign(out, phase1.describe());
      if (phase2 !== undefined && phase2.describe) Object.assign(out, phase2.describe());
      return out;
    },
  };

  // Phase II's hooks exist only when a Phase II is supplied, so Phase I is exactly plain training.
  if (phase2 !== undefined) {
    if (phase2.beforeEpoch) {
      const f = phase2.beforeEpoch.bind(phase2);
      method.beforeEpoch = (ctx, epoch) => (inPhase2 ? f(ctx, epoch) : undefined);
    }
    if (phase2.examples) {
      const f = phase2.examples.bind(phase2);
      method.examples = (ctx, epoch) => (inPhase2 ? f(ctx, epoch) : ctx.defaultExamples());
    }
    if (phase2.objective) {
      const f = phase2.objective.bind(phase2);
      method.objective = (losses, batch, ctx) => (inPhase2 ? f(losses, batch, ctx) : meanObjective(losses, batch));
    }
    if (phase2.step) {
      const f = phase2.step.bind(phase2);
      method.step = (batch, ctx, plainStep) => (inPhase2 ? f(batch, ctx, plainStep) : plainStep(batch));
    }
  }
  return method;
}
