/**
 * The kit's Rng is xoshiro128** (Blackman & Vigna). Known answers from the
 * reference algorithm, worked out independently (Python, unsigned 32-bit
 * arithmetic): state {1, 2, 3, 4} draws 11520, 0, 5927040, 70819200,
 * 2031721883, 1637235492 and ends at {1110993931, 286554632, 2431677446,
 * 2165318166}; a state with high bits set checks the int32 storage.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Rng } from "../../src/util/rng";

/** Six draws from a given state, and the state after them. */
function sixFrom(state: [number, number, number, number]): { draws: number[]; after: number[] } {
  const r = new Rng(0);
  r.setState(state);
  const draws = Array.from({ length: 6 }, () => r.nextUint32());
  return { draws, after: r.getState() };
}

describe("Rng (xoshiro128**)", () => {
  it("draws the reference stream from state {1, 2, 3, 4}", () => {
    const { draws, after } = sixFrom([1, 2, 3, 4]);
    assert.deepEqual(draws, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
    assert.deepEqual(after, [1110993931, 286554632, 2431677446, 2165318166]);
  });

  it("keeps words with the top bit set unsigned, in draws and in getState", () => {
    const { draws, after } = sixFrom([0x80000000, 0xffffffff, 0x12345678, 0x9abcdef0]);
    assert.deepEqual(draws, [4294962679, 1717984802, 1717901861, 2741321955, 3968621263, 1880372077]);
    assert.deepEqual(after, [416139289, 217812421, 2899680495, 2444150188]);
  });

  it("continues identically from a saved state, and next() stays in [0, 1)", () => {
    const a = new Rng(2020);
    for (let i = 0; i < 1000; i++) a.nextUint32();
    const saved = a.getState();
    assert.ok(saved.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff));
    const b = new Rng(1);
    b.setState(saved);
    const xs = Array.from({ length: 500 }, () => a.next());
    assert.deepEqual(Array.from({ length: 500 }, () => b.next()), xs);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });
});
