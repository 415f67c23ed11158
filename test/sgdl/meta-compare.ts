/**
 * Shared checks of the exact fast Phase II paths (linear-meta, factored-meta)
 * against the general nested-gradient path: a weighting net with spread psi,
 * relative errors that refuse meaningless (near-zero) references, and the
 * comparison of two MetaGradients. Not a test file itself.
 */
import assert from "node:assert/strict";
import type { MetaGradient } from "../../src/methods/sgdl/meta-step";
import { createWeighting, type WeightingNet } from "../../src/methods/sgdl/weighting";
import { Rng } from "../../src/util/rng";

/** A weighting net with spread psi (PyTorch init, doubled) so that d w / d psi is far from zero. */
export function spreadNet(): WeightingNet {
  const n = createWeighting({ hidden: 5, init: "pytorch" }, new Rng(13));
  for (const p of n.params.list()) for (let j = 0; j < p.data.length; j++) p.data[j] *= 2;
  return n;
}

/** Largest |a - b| relative to the largest |b|, and that largest |b|. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; scale: number } {
  assert.equal(a.length, b.length);
  let d = 0;
  let s = 0;
  for (let j = 0; j < b.length; j++) {
    d = Math.max(d, Math.abs(a[j] - b[j]));
    s = Math.max(s, Math.abs(b[j]));
  }
  return { err: s === 0 ? d : d / s, scale: s };
}

/** a equals the reference b to `tol` relative to b's largest entry, which must exceed minScale. */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-5, minScale = 1e-4): void {
  const { err, scale } = relErr(a, b);
  assert.ok(scale > minScale, `${what}: reference scale ${scale} is too small for the comparison to mean anything`);
  assert.ok(err < tol, `${what}: relative error ${err} (scale ${scale})`);
}

/** A fast path's meta loss, psi gradients and selection gradient equal the general path's. */
export function assertSameGradient(fast: MetaGradient, gen: MetaGradient, what: string): void {
  if (gen.metaLoss === null) assert.equal(fast.metaLoss, null, what);
  else assertClose([fast.metaLoss as number], [gen.metaLoss], `${what} metaLoss`);
  if (gen.psiGrads === null) assert.equal(fast.psiGrads, null, what);
  else {
    const fg = fast.psiGrads as Float32Array[];
    assert.equal(fg.length, gen.psiGrads.length);
    gen.psiGrads.forEach((g, i) => assertClose(fg[i], g, `${what} psi[${i}]`));
  }
  if (gen.selectionGrad === null) assert.equal(fast.selectionGrad, null, what);
  else assertClose(fast.selectionGrad as Float32Array, gen.selectionGrad, `${what} selectionGrad`);
}
