import { Rng } from "../util/rng";
import { size, userOf, type Interactions } from "./interactions";

/**
 * Seeded uniform negative sampler: a draw for user u is uniform over the items in
 * [0, nItems) that u has no interaction with in `avoid` (the official
 * UniformSample's rejection rule). Instead of a retry loop it draws the rank r of
 * the negative among u's non-positives and finds that item by binary search in
 * u's sorted CSR row: the same distribution, one random number per draw, and no
 * loop that could run long for a user who has seen almost every item.
 */
export class NegativeSampler {
  private readonly rng: Rng;

  /** avoid: the positives to reject (normally the training split); seed or an Rng to draw from. */
  constructor(
    readonly avoid: Interactions,
    seed: number | Rng,
  ) {
    checkRows(avoid);
    this.rng = typeof seed === "number" ? new Rng(seed) : seed;
  }

  /** One negative item for user u. */
  sample(u: number): number {
    const x = this.avoid;
    if (!(Number.isInteger(u) && u >= 0 && u < x.nUsers)) throw new RangeError(`NegativeSampler: user ${u} is outside [0, ${x.nUsers})`);
    const lo = x.indptr[u];
    const deg = x.indptr[u + 1] - lo;
    const free = x.nItems - deg;
    if (free <= 0) throw new Error(`NegativeSampler: user ${u} has interacted with all ${x.nItems} items, so no negative item exists`);
    const r = this.rng.int(free);
    // the r-th non-positive is r + #{k : p_k - k <= r} for the sorted positives p_0 < p_1 < ...
    let a = 0;
    let b = deg;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (x.items[lo + mid] - mid <= r) a = mid + 1;
      else b = mid;
    }
    return r + a;
  }

  /** One negative for each user in `users`, written into `out` (allocated if absent). */
  sampleFor(users: Int32Array, out?: Int32Array): Int32Array {
    const res = out ?? new Int32Array(users.length);
    if (res.length !== users.length) throw new RangeError(`NegativeSampler.sampleFor: out has length ${res.length}, users ${users.length}`);
    for (let k = 0; k < users.length; k++) res[k] = this.sample(users[k]);
    return res;
  }
}

/** BPR training triples: one (user, positive, fresh negative) per training positive, in CSR order (unshuffled). */
export function bprTriples(
  train: Interactions,
  negatives: NegativeSampler | Rng | number,
): { users: Int32Array; pos: Int32Array; neg: Int32Array } {
  const sampler = negatives instanceof NegativeSampler ? negatives : new NegativeSampler(train, negatives);
  const users = userOf(train);
  const pos = train.items.slice(0, size(train));
  const neg = sampler.sampleFor(users);
  return { users, pos, neg };
}

/** Rows must be strictly increasing item ids in [0, nItems): the rank search relies on it. */
function checkRows(x: Interactions): void {
  for (let u = 0; u < x.nUsers; u++) {
    for (let k = x.indptr[u]; k < x.indptr[u + 1]; k++) {
      const i = x.items[k];
      const prev = k > x.indptr[u] ? x.items[k - 1] : -1;
      if (!(i >= 0 && i < x.nItems) || i <= prev)
        throw new Error(`NegativeSampler: row of user ${u} is not strictly increasing item ids in [0, ${x.nItems}) at position ${k} (item ${i})`);
    }
  }
}
