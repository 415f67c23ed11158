/**
 * Early stopping on validation Recall@5, as the official `EarlyStop`
 * (sgdl-reference 6). Validations are numbered j = 0, 1, 2, ... in the order
 * they run. The rule:
 *   - a checkpoint is saved whenever the value is >= the best so far (ties
 *     included, so the restored model is the LAST of equally good ones);
 *   - the "first best" index b is the validation that first reached the
 *     current best value (a strictly higher value moves b; a tie does not);
 *   - training stops at validation j when j - b >= stopStep.
 * With eval_freq 5 and stop_step 8: 40 epochs without a strict improvement.
 */

/** The verdict on one validation value. */
export interface EarlyStopVerdict {
  /** Save a checkpoint now (value >= best so far). */
  checkpoint: boolean;
  /** The value is strictly above every earlier one. */
  improved: boolean;
  /** Stop training now. */
  stop: boolean;
}

/** Everything the rule remembers (for a checkpoint); bestValue is -Infinity before any validation. */
export interface EarlyStoppingState {
  stopStep: number;
  validations: number;
  bestValue: number;
  /** Index of the validation that first reached bestValue, -1 before any. */
  firstBest: number;
  bestEpoch: number | null;
}

/** Tracks validation values and decides checkpoints and the stop. */
export class EarlyStopping {
  private count = 0;
  private bestValue = -Infinity;
  private firstBest = -1;
  private bestEpochValue: number | null = null;

  constructor(readonly stopStep: number) {
    if (!Number.isInteger(stopStep) || stopStep < 1) throw new RangeError(`stopStep must be a positive integer, got ${stopStep}`);
  }

  /** Feeds the value of the next validation (run after `epoch`); NaN never counts as best. */
  update(value: number, epoch: number): EarlyStopVerdict {
    const j = this.count++;
    const improved = value > this.bestValue;
    const checkpoint = value >= this.bestValue;
    if (improved) {
      this.bestValue = value;
      this.firstBest = j;
    }
    if (checkpoint) this.bestEpochValue = epoch;
    const stop = this.firstBest >= 0 ? j - this.firstBest >= this.stopStep : j + 1 >= this.stopStep;
    return { checkpoint, improved, stop };
  }

  /** Validations seen so far. */
  get validations(): number {
    return this.count;
  }

  /** The epoch of the last saved checkpoint, or null before any. */
  get bestEpoch(): number | null {
    return this.bestEpochValue;
  }

  /** The best value so far (-Infinity before any). */
  get best(): number {
    return this.bestValue;
  }

  /** A copy of what the rule remembers. */
  exportState(): EarlyStoppingState {
    return { stopStep: this.stopStep, validations: this.count, bestValue: this.bestValue, firstBest: this.firstBest, bestEpoch: this.bestEpochValue };
  }

  /** Continues from a state given by exportState; stopStep must match. */
  importState(s: EarlyStoppingState): void {
    if (s.stopStep !== this.stopStep) throw new Error(`EarlyStopping.importState: stopStep is ${s.stopStep} in the state, ${this.stopStep} here`);
    if (!Number.isInteger(s.validations) || s.validations < 0) throw new RangeError(`EarlyStopping.importState: validations must be a non-negative integer, got ${s.validations}`);
    if (!Number.isInteger(s.firstBest) || s.firstBest < -1 || s.firstBest >= s.validations) {
      throw new RangeError(`EarlyStopping.importState: firstBest ${s.firstBest} outside [-1, ${s.validations})`);
    }
    this.count = s.validations;
    this.bestValue = s.bestValue;
    this.firstBest = s.firstBest;
    this.bestEpochValue = s.bestEpoch;
  }
}
