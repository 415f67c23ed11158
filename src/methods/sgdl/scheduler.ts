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
 */
import * as tf from "@tensorflow/tfjs";
import type { LeafTensors } from "../../models/model";
import { paramTensor, ParamStore, type Param } from "../../models/ops/embedding-table";
import { Adam, type ParamGradient } from "../../training/adam";
import type { Rng } from "../../util/rng";
import { gumbelNoise, gumbelSelectWithNoise } from "./gumbel";
import { addLstmCell, lstmCell, type LstmCellSpec } from "./lstm";

export type SchedulerKind = "lstm" | "lstm1" | "mlp" | "topf";
export const SCHEDULER_KINDS: readonly SchedulerKind[] = ["lstm", "lstm1", "mlp", "topf"];

export interface SchedulerConfig {
  kind: SchedulerKind;
  /** Features per memorized sample F: [loss, cosine(s)...]; paper 2, official code 3. */
  features: number;
  /** Hidden size: lstm and mlp 64 (paper 4.1.4), lstm1 10 (code). */
  hidden: number;
  /** Adam learning rate of phi (code `schedule_lr`: 5e-3 at HEAD, 1e-3 before). */
  lr: number;
  /** Re-draw phi and its Adam at every Phase II epoch: lstm1 true (code), the others false. */
  reinitEachEpoch: boolean;
  /** lstm: carry the state per memorized sample id ("sample") or per batch row ("position"). */
  stateKey: "sample" | "position";
  /** topf: fraction of the memorized batch selected (paper: half). */
  topfFraction: number;
  /** topf: "sum" = minmax(loss) + minmax(cos) (paper's wording); "low-loss" = (1 - minmax(loss)) + minmax(cos). */
  topfRule: "sum" | "low-loss";
}

/** The defaults of a variant. */
export function schedulerDefaults(kind: SchedulerKind): SchedulerConfig {
  if (!SCHEDULER_KINDS.includes(kind)) throw new Error(`scheduler kind must be one of ${SCHEDULER_KINDS.join(", ")}, got '${String(kind)}'`);
  return {
    kind,
    features: kind === "lstm1" ? 3 : 2,
    hidden: kind === "lstm1" ? 10 : 64,
    lr: 1e-3,
    reinitEachEpoch: kind === "lstm1",
    stateKey: "sample",
    topfFraction: 0.5,
    topfRule: "sum",
  };
}

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
}

/** A scheduler variant with its own parameters (phi) and optimizer. */
export class Scheduler {
  readonly config: Readonly<SchedulerConfig>;
  /** phi: empty for topf. */
  readonly params: ParamStore;
  private adam: Adam;
  private readonly state: StateStore | null;
  private pending: { keys: Int32Array; h: Float32Array; c: Float32Array } | null = null;

  constructor(config: SchedulerConfig, rng: Rng) {
    checkConfig(config);
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
    if (f !== this.config.features) throw new Error(`scheduler '${this.kind}': features have ${f} columns, configured for ${this.config.features}`);
    if (b < 1) throw new Error(`scheduler '${this.kind}': empty memorized batch`);
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
   * selectionGrad) and then calls trainFromSelectionGrad.
   */
  draw(features: tf.Tensor2D, opts: SelectOptions): SchedulerDraw {
    const noise = gumbelNoise(opts.draws, features.shape[0], opts.rng);
    const x = (features.dataSync() as Float32Array).slice();
    const selection = tf.tidy(() => this.selectWith(features, this.leaves(), noise, opts.tau, opts.ids));
    return { features: x, shape: [features.shape[0], features.shape[1]], noise, tau: opts.tau, ids: opts.ids, selection };
  }

  /**
   * One Adam step of phi from the upstream gradient G = d(meta loss)/dS of a
   * draw (row-major, S's shape): the gradient of sum(G * S) w.r.t. phi with the
   * draw's noise replayed, i.e. the chain rule through the straight-through S.
   * Call before advance() and before any other logits() call on new features.
   */
  trainFromSelectionGrad(d: SchedulerDraw, grad: Float32Array): void {
    const [rows, b] = d.selection.shape;
    if (grad.length !== rows * b) throw new Error(`scheduler: selection gradient has ${grad.length} values, the selection is ${rows} x ${b}`);
    if (this.kind === "topf") return;
    this.train((leaves) => {
      const s = this.selectWith(tf.tensor2d(d.features, d.shape), leaves, d.noise, d.tau, d.ids);
      return tf.sum(tf.mul(s, tf.tensor2d(grad, [rows, b]))) as tf.Scalar;
    });
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

  /** lstm: commits the state computed by the last logits() call (once per step); the other variants keep no state. */
  advance(): void {
    if (this.state === null || this.pending === null) return;
    this.state.write(this.pending.keys, this.pending.h, this.pending.c);
    this.pending = null;
  }

  /** lstm: forgets every carried state (zero for all ids); the weights stay. */
  clearState(): void {
    this.state?.clear();
    this.pending = null;
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
  }

  /** One Adam step of phi from gradients w.r.t. the leaves, by parameter name (every parameter must be given). */
  applyGradients(grads: Readonly<Record<string, Float32Array>>): void {
    const step: Array<[Param, ParamGradient]> = this.params.list().map((p) => {
      const g = grads[p.name];
      if (g === undefined) throw new Error(`scheduler '${this.kind}': no gradient for '${p.name}'`);
      return [p, { kind: "dense", grad: g }];
    });
    if (step.length > 0) this.adam.step(step);
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

  /** The carried-state keys of a batch: ids (stateKey "sample") or row positions. */
  private stateKeys(b: number, ids?: Int32Array): Int32Array {
    if (this.config.stateKey === "position") return Int32Array.from({ length: b }, (_, n) => n);
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

/** The paper's LSTM cell. */
function lstmSpec(c: SchedulerConfig): LstmCellSpec {
  return { name: "lstm", input: c.features, hidden: c.hidden, biases: 1 };
}

/** The official code's four cells and what each reads: loss LSTM and gradient LSTM, forward and backward direction each. */
function lstm1Cells(c: SchedulerConfig): Array<{ spec: LstmCellSpec; input: "loss" | "cos" }> {
  const cell = (name: string, input: "loss" | "cos"): { spec: LstmCellSpec; input: "loss" | "cos" } => ({
    spec: { name, input: input === "loss" ? 1 : c.features - 1, hidden: c.hidden, biases: 2 },
    input,
  });
  return [cell("lossLstm.fwd", "loss"), cell("lossLstm.bwd", "loss"), cell("gradLstm.fwd", "cos"), cell("gradLstm.bwd", "cos")];
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

function checkConfig(c: SchedulerConfig): void {
  if (!SCHEDULER_KINDS.includes(c.kind)) throw new Error(`scheduler kind must be one of ${SCHEDULER_KINDS.join(", ")}, got '${String(c.kind)}'`);
  const minF = c.kind === "lstm1" ? 2 : 1;
  if (!Number.isInteger(c.features) || c.features < minF) throw new RangeError(`scheduler '${c.kind}': features must be an integer >= ${minF}, got ${c.features}`);
  if (!Number.isInteger(c.hidden) || c.hidden < 1) throw new RangeError(`scheduler '${c.kind}': hidden must be a positive integer, got ${c.hidden}`);
  if (!(c.lr > 0)) throw new RangeError(`scheduler '${c.kind}': lr must be positive, got ${c.lr}`);
  if (!(c.topfFraction > 0 && c.topfFraction <= 1)) throw new RangeError(`scheduler: topfFraction must be in (0, 1], got ${c.topfFraction}`);
  if (c.topfRule !== "sum" && c.topfRule !== "low-loss") throw new RangeError(`scheduler: topfRule must be 'sum' or 'low-loss', got '${String(c.topfRule)}'`);
  if (c.stateKey !== "sample" && c.stateKey !== "position") throw new RangeError(`scheduler: stateKey must be 'sample' or 'position', got '${String(c.stateKey)}'`);
}

function leafOf(leaves: LeafTensors, key: string): tf.Tensor2D {
  const t = leaves[key];
  if (t === undefined) throw new Error(`scheduler: no leaf '${key}' (have: ${Object.keys(leaves).join(", ")})`);
  return t as tf.Tensor2D;
}

/** The lstm variant's carried (h, c) per key, zero for keys never written; grows as keys appear. */
class StateStore {
  private h = new Float32Array(0);
  private c = new Float32Array(0);

  constructor(private readonly hidden: number) {}

  /** The rows of the given keys [keys.length x H] each. */
  read(keys: Int32Array): { h: Float32Array; c: Float32Array } {
    const H = this.hidden;
    const h = new Float32Array(keys.length * H);
    const c = new Float32Array(keys.length * H);
    keys.forEach((k, n) => {
      if ((k + 1) * H <= this.h.length) {
        h.set(this.h.subarray(k * H, (k + 1) * H), n * H);
        c.set(this.c.subarray(k * H, (k + 1) * H), n * H);
      }
    });
    return { h, c };
  }

  /** Stores rows h, c [keys.length x H] under the keys (a repeated key keeps its last row). */
  write(keys: Int32Array, h: Float32Array, c: Float32Array): void {
    const H = this.hidden;
    let max = -1;
    for (const k of keys) max = Math.max(max, k);
    if ((max + 1) * H > this.h.length) {
      const cap = Math.max(max + 1, 2 * (this.h.length / H)) * H;
      const h2 = new Float32Array(cap);
      const c2 = new Float32Array(cap);
      h2.set(this.h);
      c2.set(this.c);
      this.h = h2;
      this.c = c2;
    }
    keys.forEach((k, n) => {
      this.h.set(h.subarray(n * H, (n + 1) * H), k * H);
      this.c.set(c.subarray(n * H, (n + 1) * H), k * H);
    });
  }

  clear(): void {
    this.h = new Float32Array(0);
    this.c = new Float32Array(0);
  }
}
