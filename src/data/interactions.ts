/**
 * One split of implicit feedback in compressed sparse rows by user: the items of
 * user u are items[indptr[u] .. indptr[u+1]), sorted ascending, each with a flag
 * noisy[k] = 1 for a noisy (false-positive) interaction and 0 for a clean one.
 */
export interface Interactions {
  readonly nUsers: number;
  readonly nItems: number;
  readonly indptr: Int32Array;
  readonly items: Int32Array;
  readonly noisy: Uint8Array;
}

/** Builds the CSR form from parallel (user, item, noisy) arrays; pairs must be unique. */
export function fromTriples(
  nUsers: number,
  nItems: number,
  users: ArrayLike<number>,
  items: ArrayLike<number>,
  noisy: ArrayLike<number>,
): Interactions {
  const n = users.length;
  const indptr = new Int32Array(nUsers + 1);
  for (let k = 0; k < n; k++) indptr[users[k] + 1]++;
  for (let u = 0; u < nUsers; u++) indptr[u + 1] += indptr[u];
  const fill = indptr.slice(0, nUsers);
  const outItems = new Int32Array(n);
  const outNoisy = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const pos = fill[users[k]]++;
    outItems[pos] = items[k];
    outNoisy[pos] = noisy[k] ? 1 : 0;
  }
  // sort each user's row by item, carrying the flag
  for (let u = 0; u < nUsers; u++) sortRow(outItems, outNoisy, indptr[u], indptr[u + 1]);
  return { nUsers, nItems, indptr, items: outItems, noisy: outNoisy };
}

function sortRow(items: Int32Array, noisy: Uint8Array, lo: number, hi: number): void {
  let sorted = true;
  for (let k = lo + 1; k < hi; k++) if (items[k - 1] > items[k]) sorted = false;
  if (sorted) return;
  const order = Array.from({ length: hi - lo }, (_, i) => lo + i).sort((a, b) => items[a] - items[b]);
  const it = order.map((k) => items[k]);
  const fl = order.map((k) => noisy[k]);
  for (let i = 0; i < order.length; i++) {
    items[lo + i] = it[i];
    noisy[lo + i] = fl[i];
  }
}

/** Number of interactions. */
export function size(x: Interactions): number {
  return x.indptr[x.nUsers];
}

/** Number of noisy interactions. */
export function noisyCount(x: Interactions): number {
  let c = 0;
  for (let k = 0; k < x.noisy.length; k++) c += x.noisy[k];
  return c;
}

/** The user of every interaction, in CSR order. */
export function userOf(x: Interactions): Int32Array {
  const out = new Int32Array(size(x));
  for (let u = 0; u < x.nUsers; u++) out.fill(u, x.indptr[u], x.indptr[u + 1]);
  return out;
}

/** Whether user u interacted with item i (binary search in the sorted row). */
export function has(x: Interactions, u: number, i: number): boolean {
  let lo = x.indptr[u];
  let hi = x.indptr[u + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = x.items[mid];
    if (v === i) return true;
    if (v < i) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Users with at least one interaction. */
export function activeUsers(x: Interactions): Int32Array {
  const out: number[] = [];
  for (let u = 0; u < x.nUsers; u++) if (x.indptr[u + 1] > x.indptr[u]) out.push(u);
  return Int32Array.from(out);
}

/** Keeps only the interactions for which keep(k) is true (k indexes CSR order). */
export function filter(x: Interactions, keep: (k: number) => boolean): Interactions {
  const indptr = new Int32Array(x.nUsers + 1);
  const items: number[] = [];
  const noisy: number[] = [];
  for (let u = 0; u < x.nUsers; u++) {
    for (let k = x.indptr[u]; k < x.indptr[u + 1]; k++) {
      if (!keep(k)) continue;
      items.push(x.items[k]);
      noisy.push(x.noisy[k]);
    }
    indptr[u + 1] = items.length;
  }
  return { nUsers: x.nUsers, nItems: x.nItems, indptr, items: Int32Array.from(items), noisy: Uint8Array.from(noisy) };
}
