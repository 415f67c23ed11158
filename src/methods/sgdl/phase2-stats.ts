/**
 * What Phase II records per epoch (paper 4.4, Figure 5): the weights
 * g(L; psi) the actual update (Eq. 9) gave to clean and to noisy training
 * interactions (and, for BCE models, to the sampled negatives), the meta
 * loss, the norm of the meta-gradient, and the share of noisy interactions
 * among the memorized samples the scheduler selected; plus, for one chosen
 * epoch, a uniform sample of (loss, weight, noisy) triples and the weighting
 * curve over the loss range (Figure 5).
 */
import type { Interactions } from "../../data/interactions";
import type { Batch } from "../../models/model";
import type { FieldValue } from "../../training/events";
import type { Rng } from "../../util/rng";

/** The noise flag of a training row: 1 noisy, 0 clean (a training interaction), -1 a sampled negative or not an interaction. */
export function rowNoise(train: Interactions, batch: Batch, n: number): number {
  const u = batch.users[n];
  if (batch.kind === "bce" && batch.labels[n] === 0) return -1;
  const item = batch.kind === "bpr" ? batch.pos[n] : batch.items[n];
  let lo = train.indptr[u];
  let hi = train.indptr[u + 1] - 1;
  while (lo <= hi) {
    // CSR rows are sorted by item (data/interactions.ts)
    const mid = (lo + hi) >> 1;
    const it = train.items[mid];
    if (it === item) return train.noisy[mid];
    if (it < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Figure 5's samples of one epoch. */
export interface Figure5Samples {
  epoch: number;
  loss: number[];
  weight: number[];
  /** 1 noisy, 0 clean, -1 sampled negative (BCE). */
  noisy: number[];
}

/** Running sums of one Phase II epoch. */
export class Phase2EpochStats {
  private sum = [0, 0, 0];
  private count = [0, 0, 0];
  private metaSum = 0;
  private metaCount = 0;
  private gradSum = 0;
  private gradCount = 0;
  private selected = 0;
  private selectedNoisy = 0;
  private seen = 0;
  private readonly ms: Record<string, number> = {};
  private steps = 0;
  private readonly samples: { loss: number[]; weight: number[]; noisy: number[] } = { loss: [], weight: [], noisy: [] };

  /** keep: reservoir size for Figure 5 (0: keep none); rng: the reservoir's stream. */
  constructor(
    private readonly keep: number,
    private readonly rng: Rng,
  ) {}

  /** A training batch's losses and weights with the rows' noise flags (rowNoise). */
  addWeights(losses: Float32Array, weights: Float32Array, noise: Int8Array): void {
    for (let n = 0; n < weights.length; n++) {
      const slot = noise[n] === 1 ? 1 : noise[n] === 0 ? 0 : 2;
      this.sum[slot] += weights[n];
      this.count[slot]++;
      if (this.keep > 0) this.reservoir(losses[n], weights[n], noise[n]);
    }
  }

  /** The meta loss and ||d l_meta / d psi|| of a step (null: not computed). */
  addMeta(metaLoss: number | null, psiGradNorm: number | null): void {
    if (metaLoss !== null) {
      this.metaSum += metaLoss;
      this.metaCount++;
    }
    if (psiGradNorm !== null) {
      this.gradSum += psiGradNorm;
      this.gradCount++;
    }
  }

  /** The memorized rows a selection picked (with multiplicity), by their noise flags. */
  addSelection(picked: Int32Array, noise: Int8Array): void {
    for (const m of picked) {
      if (noise[m] < 0) continue;
      this.selected++;
      if (noise[m] === 1) this.selectedNoisy++;
    }
  }

  /** Wall time of one step's parts (ms by part name). */
  addTiming(parts: Readonly<Record<string, number>>): void {
    this.steps++;
    for (const [k, v] of Object.entries(parts)) this.ms[k] = (this.ms[k] ?? 0) + v;
  }

  /** Algorithm R: every row seen so far is kept with probability keep / seen. */
  private reservoir(loss: number, weight: number, noisy: number): void {
    this.seen++;
    const s = this.samples;
    if (s.loss.length < this.keep) {
      s.loss.push(loss);
      s.weight.push(weight);
      s.noisy.push(noisy);
      return;
    }
    const j = this.rng.int(this.seen);
    if (j < this.keep) {
      s.loss[j] = loss;
      s.weight[j] = weight;
      s.noisy[j] = noisy;
    }
  }

  /** The epoch log's fields (a field is left out when nothing fed it). */
  fields(): Record<string, FieldValue> {
    const out: Record<string, FieldValue> = {};
    const put = (key: string, s: number, c: number) => {
      if (c > 0) out[key] = s / c;
    };
    put("metaLoss", this.metaSum, this.metaCount);
    put("weightClean", this.sum[0], this.count[0]);
    put("weightNoisy", this.sum[1], this.count[1]);
    put("weightNegative", this.sum[2], this.count[2]);
    put("psiGradNorm", this.gradSum, this.gradCount);
    put("selectedNoisyShare", this.selectedNoisy, this.selected);
    for (const [k, v] of Object.entries(this.ms)) put(`ms${k[0].toUpperCase()}${k.slice(1)}`, v, this.steps);
    return out;
  }

  /** Figure 5's samples of this epoch. */
  figure5(epoch: number): Figure5Samples {
    return { epoch, loss: [...this.samples.loss], weight: [...this.samples.weight], noisy: [...this.samples.noisy] };
  }
}
