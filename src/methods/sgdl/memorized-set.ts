/**
 * A compact, JSON-friendly encoding of a memorized set M_t (Section 3.1.1) for
 * result records: a bitmask over the training split's interactions in CSR
 * order (users ascending, items ascending within a user), bit k set iff
 * interaction k is memorized. Bit k lives in byte k >> 3 at position k & 7
 * (least significant bit first); the bytes are base64 (RFC 4648, padded).
 * The length n = |D_train| is stored beside it, so ML-100K's 66,899
 * interactions take 8,363 bytes, about 11 kB of base64.
 */

/** The base64 bitmask of memorized indices (ascending or not) over n interactions. */
export function encodeMemorizedSet(indices: ArrayLike<number>, n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`encodeMemorizedSet: length must be a non-negative integer, got ${n}`);
  const bytes = new Uint8Array(Math.ceil(n / 8));
  for (let j = 0; j < indices.length; j++) {
    const k = indices[j];
    if (!(Number.isInteger(k) && k >= 0 && k < n)) throw new RangeError(`encodeMemorizedSet: index ${k} is outside [0, ${n})`);
    bytes[k >> 3] |= 1 << (k & 7);
  }
  return Buffer.from(bytes).toString("base64");
}

/** The memorized flags (1 = memorized) of all n interactions from the base64 bitmask. */
export function decodeMemorizedFlags(encoded: string, n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`decodeMemorizedSet: length must be a non-negative integer, got ${n}`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) throw new Error("decodeMemorizedSet: the encoding is not padded base64");
  const bytes = Buffer.from(encoded, "base64");
  const want = Math.ceil(n / 8);
  if (bytes.length !== want) throw new Error(`decodeMemorizedSet: ${bytes.length} bytes encode ${8 * bytes.length} bits, but ${n} interactions need ${want} bytes`);
  if (n % 8 !== 0 && bytes[want - 1] >> (n % 8) !== 0) throw new Error(`decodeMemorizedSet: bits beyond interaction ${n - 1} are set`);
  const flags = new Uint8Array(n);
  for (let k = 0; k < n; k++) flags[k] = (bytes[k >> 3] >> (k & 7)) & 1;
  return flags;
}

/** The memorized indices (ascending, CSR order of the train split) from the base64 bitmask over n interactions. */
export function decodeMemorizedSet(encoded: string, n: number): Int32Array {
  const flags = decodeMemorizedFlags(encoded, n);
  let m = 0;
  for (let k = 0; k < n; k++) m += flags[k];
  const out = new Int32Array(m);
  let at = 0;
  for (let k = 0; k < n; k++) if (flags[k]) out[at++] = k;
  return out;
}
