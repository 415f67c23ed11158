import { Rng } from "../util/rng";
import { filter, type Interactions } from "./interactions";

export interface Split {
  train: Interactions;
  valid: Interactions;
  test: Interactions;
  /** Noisy interactions the clean-test rule removed from the test split. */
  droppedNoisyTest: number;
}

/**
 * Seeded random split of each user's interactions by the given ratios (8:1:1 in
 * the paper), rounding so that train gets the remainder; the test split then
 * keeps clean interactions only (paper 4.1.1).
 */
export function splitPerUser(all: Interactions, ratios: readonly [number, number, number], seed: number): Split {
  const rng = new Rng(seed);
  const total = ratios[0] + ratios[1] + ratios[2];
  const part = new Uint8Array(all.items.length); // 0 train, 1 valid, 2 test
  for (let u = 0; u < all.nUsers; u++) {
    const lo = all.indptr[u];
    const n = all.indptr[u + 1] - lo;
    if (n === 0) continue;
    const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => lo + i));
    const nTest = Math.floor((n * ratios[2]) / total);
    const nValid = Math.floor((n * ratios[1]) / total);
    for (let j = 0; j < nTest; j++) part[order[j]] = 2;
    for (let j = nTest; j < nTest + nValid; j++) part[order[j]] = 1;
  }
  const train = filter(all, (k) => part[k] === 0);
  const valid = filter(all, (k) => part[k] === 1);
  const testAll = filter(all, (k) => part[k] === 2);
  const test = filter(testAll, (k) => testAll.noisy[k] === 0);
  return { train, valid, test, droppedNoisyTest: testAll.items.length - test.items.length };
}
