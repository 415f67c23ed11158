/**
 * The scheduler's per-step path as it was before the typed-array fast path
 * (src/methods/sgdl/scheduler.ts up to the commit that added it), kept
 * verbatim in tf ops for the tests to compare against: logits (Eq. 10) by the
 * tf LSTM cell / MLP / lstm1 with separate gate matmuls, log pi by tf's
 * logSoftmax (Eq. 11), the straight-through Gumbel selection (Eq. 12) as a
 * customGrad, phi's gradient of sum(G * S) by tf.valueAndGrads with the
 * draw's noise replayed, the library's Adam, and the carried per-key state
 * (zero for keys never written; a repeated key keeps its last row).
 * Self-contained: it uses the library only for phi's initial draw (the same
 * seed gives the same phi), the Adam class and the Gumbel noise's formula.
 */
import * as tf from "@tensorflow/tfjs";
import { createScheduler, type SchedulerConfig, type SchedulerKind, type SchedulerState } from "../../src/methods/sgdl/scheduler";
import { ParamStore } from "../../src/models/ops/embedding-table";
import { Adam, type ParamGradient } from "../../src/training/adam";
import type { Param } from "../../src/models/ops/embedding-table";
import { Rng } from "../../src/util/rng";

type Leaves = Record<string, tf.Tensor>;

/** What one draw gave. */
export interface ReferenceDraw {
  noise: Float32Array;
  logits: Float32Array;
  probabilities: Float32Array;
  /** The picked index of each row of S. */
  picks: Int32Array;
  /** S [draws x B] row-major. */
  selection: Float32Array;
}

interface CellSpec {
  name: string;
  input: number;
  hidden: number;
  biases: 1 | 2;
}

/** The old lstmCell (lstm.ts): z = x Wx + h Wh + b (+ b2), gates (i, f, g, o). */
function cell(l: Leaves, spec: CellSpec, x: tf.Tensor2D, state?: { h: tf.Tensor2D; c: tf.Tensor2D }): { h: tf.Tensor2D; c: tf.Tensor2D } {
  const b = x.shape[0];
  const hid = spec.hidden;
  const s = state ?? { h: tf.zeros([b, hid]) as tf.Tensor2D, c: tf.zeros([b, hid]) as tf.Tensor2D };
  let z = tf.add(tf.add(tf.matMul(x, l[`${spec.name}.wx`] as tf.Tensor2D), tf.matMul(s.h, l[`${spec.name}.wh`] as tf.Tensor2D)), l[`${spec.name}.b`]);
  if (spec.biases === 2) z = tf.add(z, l[`${spec.name}.b2`]);
  const gate = (k: number): tf.Tensor2D => tf.slice(z, [0, k * hid], [b, hid]) as tf.Tensor2D;
  const c = tf.add(tf.mul(tf.sigmoid(gate(1)), s.c), tf.mul(tf.sigmoid(gate(0)), tf.tanh(gate(2)))) as tf.Tensor2D;
  const h = tf.mul(tf.sigmoid(gate(3)), tf.tanh(c)) as tf.Tensor2D;
  return { h, c };
}

/** The pre-change scheduler for kinds lstm, lstm1 and mlp. */
export class ReferenceScheduler {
  readonly params: ParamStore;
  readonly adam: Adam;
  private readonly store = new Map<number, { h: Float32Array; c: Float32Array }>();
  private pending: { keys: Int32Array; h: Float32Array; c: Float32Array } | null = null;

  constructor(
    readonly config: SchedulerConfig,
    seed: number,
  ) {
    this.params = createScheduler(config, new Rng(seed)).params.clone();
    this.adam = new Adam({ lr: config.lr });
  }

  get kind(): SchedulerKind {
    return this.config.kind;
  }

  leaves(): Leaves {
    const out: Leaves = {};
    for (const p of this.params.list()) out[p.name] = tf.tensor(p.data, [...p.shape]);
    return out;
  }

  /** The carried (h, c) of a key, zero when never written. */
  carried(key: number): { h: Float32Array; c: Float32Array } {
    const H = this.config.hidden;
    return this.store.get(key) ?? { h: new Float32Array(H), c: new Float32Array(H) };
  }

  logits(x: tf.Tensor2D, l: Leaves, ids: Int32Array): tf.Tensor1D {
    const [b, f] = x.shape;
    const H = this.config.hidden;
    switch (this.kind) {
      case "mlp": {
        const h = tf.relu(tf.add(tf.matMul(x, l["mlp.w1"] as tf.Tensor2D), l["mlp.b1"])) as tf.Tensor2D;
        return tf.reshape(tf.add(tf.matMul(h, l["mlp.w2"] as tf.Tensor2D), l["mlp.b2"]), [b]);
      }
      case "lstm1": {
        const loss = tf.slice(x, [0, 0], [b, 1]) as tf.Tensor2D;
        const cos = tf.slice(x, [0, 1], [b, f - 1]) as tf.Tensor2D;
        const cells: Array<[string, "loss" | "cos"]> = [["lossLstm.fwd", "loss"], ["lossLstm.bwd", "loss"], ["gradLstm.fwd", "cos"], ["gradLstm.bwd", "cos"]];
        const parts = cells.map(([name, input]) => cell(l, { name, input: input === "loss" ? 1 : f - 1, hidden: H, biases: 2 }, input === "loss" ? loss : cos).h);
        const hid = tf.tanh(tf.add(tf.matMul(tf.concat(parts, 1), l["fc1.w"] as tf.Tensor2D), l["fc1.b"])) as tf.Tensor2D;
        return tf.reshape(tf.add(tf.matMul(hid, l["fc2.w"] as tf.Tensor2D), l["fc2.b"]), [b]);
      }
      case "lstm": {
        const keys = this.config.stateKey === "position" ? Int32Array.from({ length: b }, (_, n) => n) : ids;
        const h0 = new Float32Array(b * H);
        const c0 = new Float32Array(b * H);
        keys.forEach((k, n) => {
          const s = this.carried(k);
          h0.set(s.h, n * H);
          c0.set(s.c, n * H);
        });
        const next = cell(l, { name: "lstm", input: f, hidden: H, biases: 1 }, x, { h: tf.tensor2d(h0, [b, H]), c: tf.tensor2d(c0, [b, H]) });
        this.pending = { keys, h: (next.h.dataSync() as Float32Array).slice(), c: (next.c.dataSync() as Float32Array).slice() };
        return tf.reshape(tf.add(tf.matMul(next.h, l["out.w"] as tf.Tensor2D), l["out.b"]), [b]);
      }
      default:
        throw new Error(`reference: kind ${this.kind}`);
    }
  }

  /** The old selectWith + gumbelSelectWithNoise: one-hot of argmax((logPi + g) / tau) forward, softmax's gradient backward. */
  private selectWith(x: tf.Tensor2D, l: Leaves, noise: Float32Array, tau: number, ids: Int32Array): tf.Tensor2D {
    const b = x.shape[0];
    const logPi = tf.logSoftmax(this.logits(x, l, ids)) as tf.Tensor1D;
    const z = tf.div(tf.add(tf.reshape(logPi, [1, b]), tf.tensor2d(noise, [noise.length / b, b])), tau) as tf.Tensor2D;
    const hard = tf.tidy(() => tf.cast(tf.oneHot(tf.argMax(z, 1), b), "float32") as tf.Tensor2D);
    const ySoft = tf.softmax(z) as tf.Tensor2D;
    const st = tf.customGrad((..._inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({ value: tf.clone(hard), gradFunc: (dy: tf.Tensor) => dy }));
    return st(ySoft) as tf.Tensor2D;
  }

  /** The old draw: noise from rng (-log(-log(U + 1e-20) + 1e-20), row-major), then the selection at the current phi. */
  draw(x: Float32Array, b: number, draws: number, tau: number, rng: Rng, ids: Int32Array): ReferenceDraw {
    const noise = new Float32Array(draws * b);
    for (let k = 0; k < noise.length; k++) noise[k] = -Math.log(-Math.log(rng.next() + 1e-20) + 1e-20);
    const f = x.length / b;
    return tf.tidy(() => {
      const xt = tf.tensor2d(x, [b, f]);
      const l = this.leaves();
      const o = this.logits(xt, l, ids);
      const logits = (o.dataSync() as Float32Array).slice();
      const probabilities = (tf.softmax(o).dataSync() as Float32Array).slice();
      const s = this.selectWith(xt, l, noise, tau, ids);
      const picks = Int32Array.from(tf.argMax(s, 1).dataSync());
      return { noise, logits, probabilities, picks, selection: (s.dataSync() as Float32Array).slice() };
    });
  }

  /** The gradient of sum(G * S) w.r.t. phi with the draw's noise replayed (the old train() body), by parameter name. */
  gradients(x: Float32Array, b: number, d: ReferenceDraw, tau: number, ids: Int32Array, g: Float32Array): Record<string, Float32Array> {
    const names = this.params.list().map((p) => p.name);
    const f = x.length / b;
    const grads = tf.tidy(() => {
      const l = this.leaves();
      const r = tf.valueAndGrads((...xs: tf.Tensor[]) => {
        const byName: Leaves = {};
        names.forEach((n, i) => (byName[n] = xs[i]));
        const s = this.selectWith(tf.tensor2d(x, [b, f]), byName, d.noise, tau, ids);
        return tf.sum(tf.mul(s, tf.tensor2d(g, [d.noise.length / b, b]))) as tf.Scalar;
      })(names.map((n) => l[n]));
      return r.grads.map((t) => (t.dataSync() as Float32Array).slice());
    });
    const out: Record<string, Float32Array> = {};
    names.forEach((n, i) => (out[n] = grads[i]));
    return out;
  }

  /** One Adam step of phi from gradients by name. */
  step(grads: Record<string, Float32Array>): void {
    const step: Array<[Param, ParamGradient]> = this.params.list().map((p) => [p, { kind: "dense", grad: grads[p.name] }]);
    this.adam.step(step);
  }

  /** Takes phi, Adam's state and the carried state from a scheduler's exportState (to compare one step from the same point). */
  load(st: SchedulerState): void {
    for (const p of st.params) this.params.get(p.name).data.set(p.data);
    this.adam.importState(st.adam, this.params);
    this.store.clear();
    const H = this.config.hidden;
    if (st.carried !== null) for (let k = 0; k < st.carried.rows; k++) this.store.set(k, { h: st.carried.h.slice(k * H, (k + 1) * H), c: st.carried.c.slice(k * H, (k + 1) * H) });
    this.pending = null;
  }

  /** Commits the state of the last logits() call. */
  advance(): void {
    if (this.pending === null) return;
    const H = this.config.hidden;
    const { keys, h, c } = this.pending;
    keys.forEach((k, n) => this.store.set(k, { h: h.slice(n * H, (n + 1) * H), c: c.slice(n * H, (n + 1) * H) }));
    this.pending = null;
  }
}
