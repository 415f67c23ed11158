/**
 * The adaptive denoising scheduler s(.; phi) of Section 3.2.2: from per-sample
 * features of the B memorized samples of a step it gives logits o_m (Eq. 10),
 * sampling probabilities pi = softmax(o) (Eq. 11) and a selection of memorized
 * samples by straight-through Gumbel-softmax draws (Eq. 12, gumbel.ts). The
 * caller computes the features (cosine-features.ts): a [B x F] matrix whose
 * column 0 is the sample's loss and columns 1..F-1 gradient cosines (paper
 * F = 2: one cosine; official code F = 3: one cosine per embedding table).
 *
 * Variants (Table 5 and the official code):
 * - "lstm" (paper): one LSTM cell (hidden 64, one bias, 4d^2 + 12d weights at
 *   F = 2) and a linear read-out h -> o (H + 1 more weights; the paper does not
 *   say how o is read off h). The state is carried across steps, within and
 *   across Phase II epochs, PER MEMORIZED SAMPLE (stateKey "sample", default):
 *   the caller passes each row's memorized-sample id, so a sample's state holds
 *   the history of its own loss and similarity ("historical factors", Section
 *   4.3.3); stateKey "position" carries it per batch row instead. Truncated
 *   backprop: gradients flow through the current step only; the carried state
 *   enters as a constant. logits() computes the next state and advance()
 *   commits it (once per step; a repeated id in one batch keeps its last row).
 * - "lstm1" (official code, sgdl-reference 3.4): sequence length 1, zero state
 *   every call: a bidirectional LSTM over the loss (input 1) and one over the
 *   cosines (input F - 1), hidden 10 each, PyTorch gate layout, two biases and
 *   init; [loss fwd, loss bwd, grad fwd, grad bwd] (4 x 10) -> Linear(40, 20)
 *   -> tanh -> Linear(20, 1). Re-drawn with a fresh Adam at every Phase II
 *   epoch (startEpoch), as the code re-creates it.
 * - "mlp" (Table 5, "one-layer MLP"): F -> 64 -> ReLU -> 1, Xavier weights.
 * - "topf" (Table 5, first row): no parameters. Score = minmax(loss) +
 *   minmax(mean cosine) over the memorized batch (the paper: "rank memorized
 *   data according to their sums of two factors (i.e. normalized gradient
 *   similarity and loss value) and pick top-F", F = B/2); the F highest scores
 *   are selected once (ties: lower index first). Rule "low-loss" uses
 *   (1 - minmax(loss)) instead, i.e. low loss and high similarity first.
 *
 * Two paths compute the same functions. logits/probabilities/select/train
 * are tf ops on leaf tensors, for differentiating any loss. The per-step
 * Phase II path, draw + trainFromSelectionGrad + advance, runs on typed
 * arrays (scheduler-net.ts: fused LSTM gates, one or two matrix products per
 * cell; the softmax, the Gumbel draws and their backward pass in closed form
 * in float64, gumbel.ts), keeps the draw's forward pass for its backward pass
 * and agrees with the tf path to float32 rounding. The one visible difference:
 * the read-out bias (lstm out.b, mlp mlp.b2, lstm1 fc2.b; likewise an mlp
 * hidden unit's bias while the unit is active on every row) shifts all logits
 * alike, so its gradient is exactly zero (softmax is shift-invariant); tf's
 * float32 sums leave ~1e-8 of rounding there, which Adam's normalised step
 * turns into a drift of up to lr per step, while here it stays ~1e-17 and the
 * bias stays put. It changes neither pi nor S.
 * exportState/importState give and take the whole state (scheduler-state.ts).
 */
import * as tf from "@tensorflow/tfjs";
import type { LeafTensors } from "../../models/model";
import { paramTensor, ParamStore, type Param } from "../../models/ops/embedding-table";
import { Adam, type ParamGradient } from "../../training/adam";
import type { Rng } from "../../util/rng";
import { gumbelBackward, gumbelNoise, gumbelPicks, gumbelSelectWithNoise, oneHotRows } from "./gumbel";
import { addLstmCell, lstmCell } from "./lstm";
import { checkSchedulerConfig, schedulerDefaults, type SchedulerConfig, type SchedulerKind } from "./scheduler-config";
import { lstm1Cells, lstmSpec, netForward, type NetPass } from "./scheduler-net";
import { checkSchedulerState, SCHEDULER_STATE_FORMAT, StateStore, type PendingState, type SchedulerState } from "./scheduler-state";

export { SCHEDULER_KINDS, schedulerDefaults, type SchedulerConfig, type SchedulerKind } from "./scheduler-config";
export type { CarriedState, PendingState, SchedulerState } from "./scheduler-state";

/** How a selection is drawn. */
export interface SelectOptions {
  /** Number of draws (rows of S); the code draws B. Ignored by topf. */
  draws: number;
  /** Gumbel-softmax temperature (paper 0.05, code 1.0). */
  tau: number;
  rng: Rng;
  /** Memorized-sample ids of the rows (lstm with stateKey "sample"). */
  ids?: Int32Array;
}

/** A selection drawn at some phi, kept so that its gradient can be replayed (Scheduler.draw). */
export interface SchedulerDraw {
  /** The features [B x F] row-major, as drawn. */
  features: Float32Array;
  shape: [number, number];
  /** The Gumbel noise [draws x B] (unused by topf). */
  noise: Float32Array;
  tau: number;
  ids?: Int32Array;
  /** S [draws x B] (topf: [F x B]), a constant; the caller disposes it. */
  selection: tf.Tensor2D;
  /** The column picked by each row of S. */
  picks: Int32Array;
  /** o [B] at the draw (Eq. 10; topf: its scores). */
  logits: Float32Array;
  /** pi = softmax(o) [B] (Eq. 11). */
  probabilities: Float32Array;
}

/** A draw's forward pass, kept for its backward pass until phi or the carried state changes. */
interface KeptPass {
  draw: SchedulerDraw;
  pass: NetPass;
  logPi: Float64Array;
  pending: PendingState | null;
}

/** A scheduler variant with its own parameters (phi) and optimizer. */
export class Scheduler {
  readonly config: Readonly<SchedulerConfig>;
  /** phi: empty for topf. */
  readonly params: ParamStore;
  private adam: Adam;
  private readonly state: StateStore | null;
  private pending: PendingState | null = null;
  /** The last draw's forward pass; dropped whenever phi or the carried state changes. */
  private kept: KeptPass | null = null;

  constructor(config: SchedulerConfig, rng: Rng) {
    checkSchedulerConfig(config);
    this.config = { ...config };
    this.params = buildParams(this.config, rng);
    this.adam = new Adam({ lr: config.lr });
    this.state = config.kind === "lstm" ? new StateStore(config.hidden) : null;
  }

  get kind(): SchedulerKind {
    return this.config.kind;
  }

  /** Fresh leaf tensors of phi by parameter name (take gradients w.r.t. these). */
  leaves(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const p of this.params.list()) out[p.name] = paramTensor(p);
    return out;
  }

  /** o_m [B] for features [B x F] at the leaves (Eq. 10); lstm reads the carried state of the rows' ids. */
  logits(features: tf.Tensor2D, leaves: LeafTensors, ids?: Int32Array): tf.Tensor1D {
    const [b, f] = features.shape;
    this.checkShape(b, f);
    switch (this.config.kind) {
      case "topf":
        return tf.tensor1d(topfScores(features.dataSync() as Float32Array, b, f, this.config.topfRule));
      case "mlp": {
        const h = tf.relu(tf.add(tf.matMul(features, leafOf(leaves, "mlp.w1")), leafOf(leaves, "mlp.b1"))) as tf.Tensor2D;
        return tf.reshape(tf.add(tf.matMul(h, leafOf(leaves, "mlp.w2")), leafOf(leaves, "mlp.b2")), [b]);
      }
      case "lstm1": {
        const loss = tf.slice(features, [0, 0], [b, 1]);
        const cos = tf.slice(features, [0, 1], [b, f - 1]);
        const parts = lstm1Cells(this.config).map(({ spec, input }) => lstmCell(leaves, spec, input === "loss" ? loss : cos).h);
        const hid = tf.tanh(tf.add(tf.matMul(tf.concat(parts, 1), leafOf(leaves, "fc1.w")), leafOf(leaves, "fc1.b"))) as tf.Tensor2D;
        return tf.reshape(tf.add(tf.matMul(hid, leafOf(leaves, "fc2.w")), leafOf(leaves, "fc2.b")), [b]);
      }
      case "lstm": {
        const keys = this.stateKeys(b, ids);
        const store = this.state as StateStore;
        const prev = store.read(keys);
        const next = lstmCell(leaves, lstmSpec(this.config), features, {
          h: tf.tensor2d(prev.h, [b, this.config.hidden]),
          c: tf.tensor2d(prev.c, [b, this.config.hidden]),
        });
        this.pending = { keys, h: (next.h.dataSync() as Float32Array).slice(), c: (next.c.dataSync() as Float32Array).slice() };
        return tf.reshape(tf.add(tf.matMul(next.h, leafOf(leaves, "out.w")), leafOf(leaves, "out.b")), [b]);
      }
    }
  }

  /** pi = softmax(o) over the memorized batch (Eq. 11). */
  probabilities(features: tf.Tensor2D, leaves: LeafTensors, ids?: Int32Array): tf.Tensor1D {
    return tf.softmax(this.logits(features, leaves, ids)) as tf.Tensor1D;
  }

  /**
   * The selection S [draws x B], rows one-hot: straight-through Gumbel draws
   * from pi (Eq. 11-12), differentiable w.r.t. the leaves; for topf the fixed
   * top-F rows [F x B] in index order (a constant).
   */
  select(features: tf.Tensor2D, leaves: LeafTensors, opts: SelectOptions): tf.Tensor2D {
    return this.selectWith(features, leaves, gumbelNoise(opts.draws, features.shape[0], opts.rng), opts.tau, opts.ids);
  }

  /**
   * A selection at the current phi as a constant, with what is needed to
   * replay it: for a caller that takes d(meta loss)/dS elsewhere (meta-step's
   * selectionGrad) and then calls trainFromSelectionGrad. Eq. 10-12 on typed
   * arrays (the module doc); lstm computes the next state (advance() commits it).
   */
  draw(features: tf.Tensor2D, opts: SelectOptions): SchedulerDraw {
    const [b, f] = features.shape;
    const noise = gumbelNoise(opts.draws, b, opts.rng);
    const x = (features.dataSync() as Float32Array).slice();
    const shape: [number, number] = [b, f];
    if (this.config.kind === "topf") {
      this.checkShape(b, f);
      const selection = tf.tidy(() => this.selectWith(features, {}, noise, opts.tau, opts.ids));
      const scores = topfScores(x, b, f, this.config.topfRule);
      const picks = topfSelection(x, b, f, this.config.topfFraction, this.config.topfRule);
      return { features: x, shape, noise, tau: opts.tau, ids: opts.ids, selection, picks, logits: scores, probabilities: new Float32Array(softmaxOf(logSoftmax(new Float64Array(scores)))) };
    }
    const { pass, pending } = this.forward(x, b, f, opts.ids);
    const logPi = logSoftmax(pass.logits); // Eq. 11
    const picks = gumbelPicks(logPi, noise, opts.tau); // Eq. 12, forward value
    const selection = tf.tensor2d(oneHotRows(picks, b), [opts.draws, b]);
    const d: SchedulerDraw = { features: x, shape, noise, tau: opts.tau, ids: opts.ids, selection, picks, logits: new Float32Array(pass.logits), probabilities: new Float32Array(softmaxOf(logPi)) };
    this.kept = { draw: d, pass, logPi, pending };
    return d;
  }

  /**
   * One Adam step of phi from the upstream gradient G = d(meta loss)/dS of a
   * draw (row-major, S's shape): the gradient of sum(G * S) w.r.t. phi with the
   * draw's noise replayed, i.e. the chain rule through the straight-through S.
   * Call before advance() and before any other logits() call on new features.
   */
  trainFromSelectionGrad(d: SchedulerDraw, grad: Float32Array): void {
    const grads = this.selectionGradients(d, grad);
    if (this.kind !== "topf") this.applyGradients(grads);
  }

  /**
   * phi's gradient of sum(G * S) for a draw, by parameter name (what
   * trainFromSelectionGrad steps on): dL/dS -> dL/dlog pi in closed form
   * (gumbel.ts) -> dL/do through log-softmax -> phi (scheduler-net.ts).
   * Uses the draw's forward pass while phi and the carried state are unchanged
   * since the draw (changes through this class: Adam steps, advance, reset,
   * clearState, importState; write phi's values directly only between
   * steps), else recomputes it as a replay at the current phi would; lstm's
   * uncommitted state is then the draw's. topf: no parameters, {}.
   */
  selectionGradients(d: SchedulerDraw, grad: Float32Array): Record<string, Float32Array> {
    const [rows, b] = d.selection.shape;
    if (grad.length !== rows * b) throw new Error(`scheduler: selection gradient has ${grad.length} values, the selection is ${rows} x ${b}`);
    if (this.kind === "topf") return {};
    let k = this.kept;
    if (k === null || k.draw !== d) {
      const { pass, pending } = this.forward(d.features, d.shape[0], d.shape[1], d.ids);
      k = { draw: d, pass, logPi: logSoftmax(pass.logits), pending };
      this.kept = k;
    } else {
      this.pending = k.pending;
    }
    const dLogPi = gumbelBackward(k.logPi, d.noise, d.tau, grad); // Eq. 12's straight-through backward
    return k.pass.backward(logSoftmaxBackward(k.logPi, dLogPi));
  }

  /** phi's typed-array forward pass on features x [B x F]; lstm reads the rows' carried state and sets the pending one. */
  private forward(x: Float32Array, b: number, f: number, ids?: Int32Array): { pass: NetPass; pending: PendingState | null } {
    this.checkShape(b, f);
    for (let k = 0; k < x.length; k++) {
      if (!Number.isFinite(x[k])) throw new Error(`scheduler '${this.kind}': feature [${Math.floor(k / f)}, ${k % f}] is ${x[k]}`);
    }
    const kind = this.config.kind;
    if (kind === "topf") throw new Error("scheduler 'topf' has no forward pass");
    const shape = { kind, features: f, hidden: this.config.hidden };
    if (this.state === null) return { pass: netForward(shape, this.params, x, b, null), pending: null };
    const keys = this.stateKeys(b, ids).slice();
    const pass = netForward(shape, this.params, x, b, this.state.read(keys));
    const next = pass.next as { h: Float32Array; c: Float32Array };
    this.pending = { keys, h: next.h, c: next.c };
    return { pass, pending: this.pending };
  }

  /** The selection with given Gumbel noise (topf ignores it). */
  private selectWith(features: tf.Tensor2D, leaves: LeafTensors, noise: Float32Array, tau: number, ids?: Int32Array): tf.Tensor2D {
    const b = features.shape[0];
    if (this.config.kind === "topf") {
      const top = topfSelection(features.dataSync() as Float32Array, b, features.shape[1], this.config.topfFraction, this.config.topfRule);
      return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(top, "int32"), b), "float32") as tf.Tensor2D);
    }
    return gumbelSelectWithNoise(tf.logSoftmax(this.logits(features, leaves, ids)) as tf.Tensor1D, noise, tau);
  }

  /** lstm: commits the state computed by the last forward pass (draw, selectionGradients or logits; once per step); the other variants keep no state. */
  advance(): void {
    if (this.state === null || this.pending === null) return;
    this.state.write(this.pending.keys, this.pending.h, this.pending.c);
    this.pending = null;
    this.changed();
  }

  /** lstm: forgets every carried state (zero for all ids); the weights stay. */
  clearState(): void {
    this.state?.clear();
    this.pending = null;
    this.changed();
  }

  /** At the start of each Phase II epoch: re-draws phi and its Adam when reinitEachEpoch (lstm1 by default). */
  startEpoch(rng: Rng): void {
    if (this.config.reinitEachEpoch) this.reset(rng);
  }

  /** Re-draws phi from rng (in place: same Param objects), zeroes the carried state and starts a fresh Adam. */
  reset(rng: Rng): void {
    const fresh = buildParams(this.config, rng);
    for (const p of this.params.list()) p.data.set(fresh.get(p.name).data);
    this.state?.clear();
    this.pending = null;
    this.adam = new Adam({ lr: this.config.lr });
    this.changed();
  }

  /** A copy of everything a resumed run needs (scheduler-state.ts): config, phi, its Adam, the carried and the uncommitted state. */
  exportState(): SchedulerState {
    const p = this.pending;
    return {
      format: SCHEDULER_STATE_FORMAT,
      config: { ...this.config },
      params: this.params.list().map((q) => ({ name: q.name, shape: [...q.shape], data: q.data.slice() })),
      adam: this.adam.exportState(this.params),
      carried: this.state === null ? null : this.state.exportState(),
      pending: p === null ? null : { keys: p.keys.slice(), h: p.h.slice(), c: p.c.slice() },
    };
  }

  /** Continues from a state given by exportState of a scheduler with the same config; throws naming the field on a mismatch (nothing changes then). */
  importState(s: SchedulerState): void {
    checkSchedulerState(s, this.config, this.params);
    const adam = new Adam({ lr: this.config.lr });
    try {
      adam.importState(s.adam, this.params);
    } catch (err) {
      throw new Error(`scheduler.importState: adam: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.params.list().forEach((q, j) => q.data.set(s.params[j].data));
    this.adam = adam;
    if (this.state !== null && s.carried !== null) this.state.importState(s.carried);
    this.pending = s.pending === null ? null : { keys: s.pending.keys.slice(), h: s.pending.h.slice(), c: s.pending.c.slice() };
    this.changed();
  }

  /** One Adam step of phi from gradients w.r.t. the leaves, by parameter name (every parameter must be given). */
  applyGradients(grads: Readonly<Record<string, Float32Array>>): void {
    const step: Array<[Param, ParamGradient]> = this.params.list().map((p) => {
      const g = grads[p.name];
      if (g === undefined) throw new Error(`scheduler '${this.kind}': no gradient for '${p.name}'`);
      return [p, { kind: "dense", grad: g }];
    });
    if (step.length > 0) this.adam.step(step);
    this.changed();
  }

  /** Minimises loss(leaves) by one Adam step of phi; returns the loss value before the step. */
  train(loss: (leaves: LeafTensors) => tf.Scalar): number {
    const names = this.params.list().map((p) => p.name);
    if (names.length === 0) return tf.tidy(() => loss({}).dataSync()[0]);
    const { value, grads } = tf.tidy(() => {
      const leaves = this.leaves();
      const r = tf.valueAndGrads((...xs: tf.Tensor[]) => {
        const byName: Record<string, tf.Tensor> = {};
        names.forEach((n, i) => (byName[n] = xs[i]));
        return loss(byName);
      })(names.map((n) => leaves[n]));
      return { value: r.value.dataSync()[0], grads: r.grads.map((g) => (g.dataSync() as Float32Array).slice()) };
    });
    const byName: Record<string, Float32Array> = {};
    names.forEach((n, i) => (byName[n] = grads[i]));
    this.applyGradients(byName);
    return value;
  }

  /** Marks phi or the carried state as changed: the kept forward pass is stale. */
  private changed(): void {
    this.kept = null;
  }

  /** Throws unless features [b x f] fit the config. */
  private checkShape(b: number, f: number): void {
    if (f !== this.config.features) throw new Error(`scheduler '${this.kind}': features have ${f} columns, configured for ${this.config.features}`);
    if (b < 1) throw new Error(`scheduler '${this.kind}': empty memorized batch`);
  }

  /** The carried-state keys of a batch: ids (stateKey "sample") or row positions. */
  private stateKeys(b: number, ids?: Int32Array): Int32Array {
    if (this.config.stateKey === "position") {
      const keys = new Int32Array(b);
      for (let n = 0; n < b; n++) keys[n] = n;
      return keys;
    }
    if (ids === undefined) throw new Error("scheduler 'lstm' with stateKey 'sample' needs the memorized-sample ids of the batch rows");
    if (ids.length !== b) throw new Error(`scheduler 'lstm': ${ids.length} ids for ${b} rows`);
    for (const id of ids) if (!(Number.isInteger(id) && id >= 0)) throw new Error(`scheduler 'lstm': sample id ${id} is not a non-negative integer`);
    return ids;
  }
}

/** A scheduler of the given kind with the variant's defaults overridden by cfg; phi drawn from rng. */
export function createScheduler(cfg: Partial<SchedulerConfig> & { kind: SchedulerKind }, rng: Rng): Scheduler {
  return new Scheduler({ ...schedulerDefaults(cfg.kind), ...cfg }, rng);
}

/** topf's scores [B] from features [B x F] row-major: minmax(loss) (or 1 - it, rule "low-loss") + minmax(mean of the cosine columns). */
export function topfScores(features: Float32Array, b: number, f: number, rule: "sum" | "low-loss"): Float32Array {
  const loss = Float64Array.from({ length: b }, (_, n) => features[n * f]);
  const sim = Float64Array.from({ length: b }, (_, n) => {
    let s = 0;
    for (let j = 1; j < f; j++) s += features[n * f + j];
    return f > 1 ? s / (f - 1) : 0;
  });
  const nl = minMax(loss);
  const ns = minMax(sim);
  return Float32Array.from({ length: b }, (_, n) => (rule === "sum" ? nl[n] : 1 - nl[n]) + ns[n]);
}

/** topf's fixed selection: the indices of the max(1, floor(fraction B)) highest scores, ties to the lower index, in ascending index order. */
export function topfSelection(features: Float32Array, b: number, f: number, fraction: number, rule: "sum" | "low-loss"): Int32Array {
  const score = topfScores(features, b, f, rule);
  const k = Math.max(1, Math.floor(fraction * b));
  const order = Array.from({ length: b }, (_, n) => n).sort((x, y) => score[y] - score[x] || x - y);
  return Int32Array.from(order.slice(0, k).sort((x, y) => x - y));
}

/** (x - min) / (max - min); all zeros when max = min. */
function minMax(x: Float64Array): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (!Number.isFinite(v)) throw new Error(`scheduler topf: feature value ${v} is not finite`);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi > lo ? x.map((v) => (v - lo) / (hi - lo)) : new Float64Array(x.length);
}

/** log pi = log softmax(o) in float64 (Eq. 11). */
function logSoftmax(o: Float64Array): Float64Array {
  let top = -Infinity;
  for (const v of o) top = Math.max(top, v);
  let sum = 0;
  for (const v of o) sum += Math.exp(v - top);
  const shift = top + Math.log(sum);
  return o.map((v) => v - shift);
}

/** pi from log pi. */
function softmaxOf(logPi: Float64Array): Float64Array {
  return logPi.map(Math.exp);
}

/** dL/do from dL/dlog pi through log-softmax: dL/do_m = dL/dlogPi_m - pi_m sum_k dL/dlogPi_k. */
function logSoftmaxBackward(logPi: Float64Array, dLogPi: Float64Array): Float64Array {
  let total = 0;
  for (const v of dLogPi) total += v;
  return dLogPi.map((v, m) => v - Math.exp(logPi[m]) * total);
}

/** phi of a variant, drawn from rng. */
function buildParams(c: SchedulerConfig, rng: Rng): ParamStore {
  const s = new ParamStore();
  const xavier = { kind: "xavier-uniform" } as const;
  const zeros = { kind: "zeros" } as const;
  // PyTorch's nn.Linear default: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  const linear = (name: string, fanIn: number, fanOut: number): void => {
    const u = { kind: "uniform", bound: 1 / Math.sqrt(fanIn) } as const;
    s.add(`${name}.w`, "dense", [fanIn, fanOut], u, rng);
    s.add(`${name}.b`, "dense", [fanOut], u, rng);
  };
  switch (c.kind) {
    case "topf":
      break;
    case "mlp":
      s.add("mlp.w1", "dense", [c.features, c.hidden], xavier, rng);
      s.add("mlp.b1", "dense", [c.hidden], zeros, rng);
      s.add("mlp.w2", "dense", [c.hidden, 1], xavier, rng);
      s.add("mlp.b2", "dense", [1], zeros, rng);
      break;
    case "lstm":
      addLstmCell(s, lstmSpec(c), "xavier", rng);
      s.add("out.w", "dense", [c.hidden, 1], xavier, rng);
      s.add("out.b", "dense", [1], zeros, rng);
      break;
    case "lstm1":
      for (const { spec } of lstm1Cells(c)) addLstmCell(s, spec, "pytorch", rng);
      linear("fc1", 4 * c.hidden, 2 * c.hidden);
      linear("fc2", 2 * c.hidden, 1);
      break;
  }
  return s;
}

function leafOf(leaves: LeafTensors, key: string): tf.Tensor2D {
  const t = leaves[key];
  if (t === undefined) throw new Error(`scheduler: no leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  return t as tf.Tensor2D;
}
