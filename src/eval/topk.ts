/**
 * Top-K selection over one row of a users x items score matrix, skipping masked
 * items, without sorting the row: a fixed-size min-heap whose root is the worst
 * of the K best so far, O(nItems log K).
 *
 * Order: higher score first; among equal scores the LOWER item index first.
 * Masked items are left out entirely (never ranked), unlike the official code,
 * which sets them to -1024 and could rank them when fewer than K items remain.
 */

/** A row-major block of scores. */
export type Scores = Float32Array | Float64Array;

/**
 * Indices of the k best items of scores[offset .. offset + nItems), best first,
 * ties to the lower index; items in `masked` (lists of item ids, any order,
 * e.g. CSR rows of train / valid) are skipped. Returns fewer than k indices when
 * fewer than k items are unmasked. Throws a RangeError on a NaN score.
 */
export function topKIndices(
  scores: Scores,
  offset: number,
  nItems: number,
  k: number,
  masked: readonly Int32Array[] = [],
): Int32Array {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`topKIndices: k must be a non-negative integer, got ${k}`);
  if (offset < 0 || offset + nItems > scores.length) {
    throw new RangeError(`topKIndices: row [${offset}, ${offset + nItems}) is outside the score array of length ${scores.length}`);
  }
  const heap = new Heap(Math.min(k, nItems));
  if (heap.capacity === 0) return new Int32Array(0);
  const skip = mergedMask(masked, nItems);
  let start = 0;
  for (let m = 0; m <= skip.length; m++) {
    const end = m < skip.length ? skip[m] : nItems;
    if (end > start) heap.scan(scores, offset, start, end);
    start = Math.max(start, end + 1);
  }
  return heap.drainBestFirst();
}

/** The masked items of one row, merged and sorted ascending (duplicates kept, harmless). */
function mergedMask(masked: readonly Int32Array[], nItems: number): Int32Array {
  let total = 0;
  for (const list of masked) total += list.length;
  const out = new Int32Array(total);
  let at = 0;
  for (const list of masked) {
    out.set(list, at);
    at += list.length;
  }
  out.sort();
  if (total > 0 && (out[0] < 0 || out[total - 1] >= nItems)) {
    throw new RangeError(`topKIndices: masked item ${out[0] < 0 ? out[0] : out[total - 1]} is outside [0, ${nItems})`);
  }
  return out;
}

/** Min-heap of (score, item) by "worse first": lower score, or equal score and higher index. */
class Heap {
  readonly capacity: number;
  private readonly score: Float64Array;
  private readonly item: Int32Array;
  private size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.score = new Float64Array(capacity);
    this.item = new Int32Array(capacity);
  }

  /** Offers items start .. end-1 in increasing index order. */
  scan(scores: Scores, offset: number, start: number, end: number): void {
    const cap = this.capacity;
    for (let i = start; i < end; i++) {
      const s = scores[offset + i];
      if (s !== s) throw new RangeError(`topKIndices: score of item ${i} is NaN`);
      if (this.size < cap) {
        this.push(s, i);
      } else if (s > this.score[0]) {
        // items arrive by increasing index, so an equal score never displaces the root
        this.score[0] = s;
        this.item[0] = i;
        this.siftDown(0);
      }
    }
  }

  /** Empties the heap into an array ordered best first. */
  drainBestFirst(): Int32Array {
    const out = new Int32Array(this.size);
    for (let j = this.size - 1; j >= 0; j--) {
      out[j] = this.item[0];
      this.size--;
      this.score[0] = this.score[this.size];
      this.item[0] = this.item[this.size];
      this.siftDown(0);
    }
    return out;
  }

  private worse(a: number, b: number): boolean {
    const sa = this.score[a];
    const sb = this.score[b];
    return sa < sb || (sa === sb && this.item[a] > this.item[b]);
  }

  private swap(a: number, b: number): void {
    const s = this.score[a];
    this.score[a] = this.score[b];
    this.score[b] = s;
    const it = this.item[a];
    this.item[a] = this.item[b];
    this.item[b] = it;
  }

  private push(s: number, i: number): void {
    let c = this.size++;
    this.score[c] = s;
    this.item[c] = i;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!this.worse(c, p)) break;
      this.swap(c, p);
      c = p;
    }
  }

  private siftDown(at: number): void {
    let p = at;
    for (;;) {
      const l = 2 * p + 1;
      if (l >= this.size) return;
      const r = l + 1;
      const c = r < this.size && this.worse(r, l) ? r : l;
      if (!this.worse(c, p)) return;
      this.swap(c, p);
      p = c;
    }
  }
}
