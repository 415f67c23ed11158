import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { Adam } from "../../src/training/adam";
import { createWeighting, psiTensors, weights, weightsOf, WEIGHTING_CODE, type WeightingNet } from "../../src/methods/sgdl/weighting";
import { Rng } from "../../src/util/rng";

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** A hidden-2 net with hand-set psi: w1 = [1, -1], b1 = [0, 0.5], w2 = [2, -1], b2 = 0.1. */
function handNet(): WeightingNet {
  const net = createWeighting({ hidden: 2 }, new Rng(1));
  net.params.get("w1").data.set([1, -1]);
  net.params.get("b1").data.set([0, 0.5]);
  net.params.get("w2").data.set([2, -1]);
  net.params.get("b2").data.set([0.1]);
  return net;
}

/** g(L) of handNet in float64: sigmoid(2 relu(L) - relu(0.5 - L) + 0.1). */
function handG(l: number): number {
  return sigmoid(2 * Math.max(0, l) - Math.max(0, 0.5 - l) + 0.1);
}

describe("weighting net g(L; psi) (Eq. 5)", () => {
  before(async () => {
    await initBackend("cpu");
  });

  it("computes sigmoid(relu(L w1 + b1) w2 + b2) per sample", () => {
    // L = 0.3: hidden = relu([0.3, 0.2]) = [0.3, 0.2]; y = 0.6 - 0.2 + 0.1 = 0.5; sigmoid(0.5) = 0.6224593
    // L = 0.8: hidden = relu([0.8, -0.3]) = [0.8, 0];   y = 1.6 + 0.1 = 1.7;      sigmoid(1.7) = 0.8455347
    // L = 0:   hidden = [0, 0.5];                        y = -0.5 + 0.1 = -0.4;    sigmoid(-0.4) = 0.4013123
    const w = weightsOf(handNet(), Float32Array.from([0.3, 0.8, 0]));
    const want = [0.6224593, 0.8455347, 0.4013123];
    w.forEach((x, k) => assert.ok(Math.abs(x - want[k]) < 1e-6, `w[${k}] = ${x}, want ${want[k]}`));
  });

  it("has 2 d_w parameters without biases (the paper's count) and 3 d_w + 1 with them", () => {
    assert.equal(createWeighting({ hidden: 64, bias: false }, new Rng(1)).params.size(), 128);
    assert.equal(createWeighting({ hidden: 64 }, new Rng(1)).params.size(), 3 * 64 + 1);
    assert.deepEqual(createWeighting({ hidden: 64, bias: false }, new Rng(1)).params.list().map((p) => p.name), ["w1", "w2"]);
  });

  it("initialises as PyTorch's nn.Linear for 'pytorch' and Xavier-uniform with zero biases for 'xavier'", () => {
    const h = 100;
    const code = createWeighting(WEIGHTING_CODE, new Rng(3)).params;
    // nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in 1 for layer 1, 100 for layer 2 (bound 0.1)
    const bounds: Record<string, number> = { w1: 1, b1: 1, w2: 0.1, b2: 0.1 };
    for (const p of code.list()) {
      const max = Math.max(...Array.from(p.data, Math.abs));
      assert.ok(max <= bounds[p.name], `${p.name}: max |x| ${max} > ${bounds[p.name]}`);
      if (p.data.length >= 100) assert.ok(max > 0.9 * bounds[p.name], `${p.name}: max |x| ${max} far below the bound ${bounds[p.name]}`);
    }
    const xav = createWeighting({ hidden: h, init: "xavier" }, new Rng(3)).params;
    const xb = Math.sqrt(6 / (1 + h)); // Glorot: sqrt(6 / (fan_in + fan_out)) = 0.2437 for [1 x 100] and [100 x 1]
    for (const name of ["w1", "w2"]) {
      const max = Math.max(...Array.from(xav.get(name).data, Math.abs));
      assert.ok(max <= xb && max > 0.9 * xb, `${name}: max |x| ${max} vs bound ${xb}`);
    }
    assert.ok(xav.get("b1").data.every((x) => x === 0) && xav.get("b2").data[0] === 0);
  });

  it("detaches its loss input: d/dx sum g(x^2) x^2 = g(x^2) 2x, no g' term", () => {
    const net = handNet();
    const x0 = [0.4, 0.9];
    const grad = tf.tidy(() => {
      const psi = psiTensors(net.params);
      return tf.grad((x: tf.Tensor) => {
        const l = tf.square(x) as tf.Tensor1D;
        return tf.sum(tf.mul(weights(psi, l), l));
      })(tf.tensor1d(x0));
    });
    const g = grad.dataSync();
    grad.dispose();
    // x = 0.4: L = 0.16, g = sigmoid(0.32 - 0.34 + 0.1) = sigmoid(0.08); x = 0.9: L = 0.81, g = sigmoid(1.62 + 0.1)
    x0.forEach((x, k) => {
      const want = handG(x * x) * 2 * x;
      assert.ok(Math.abs(g[k] - want) < 1e-6, `x=${x}: ${g[k]} vs ${want}`);
    });
  });

  it("has the right gradient w.r.t. psi (central differences in float64)", () => {
    const net = createWeighting({ hidden: 5, init: "pytorch" }, new Rng(9));
    const losses = Float32Array.from([0.05, 0.4, 0.7, 1.3, 2.2]);
    const coef = [0.3, -1.1, 0.7, 0.2, -0.5];
    // J(psi) = sum_k coef_k g(L_k; psi), evaluated in float64 from the stored float32 psi
    const J = (): number => {
      const [w1, b1, w2, b2] = ["w1", "b1", "w2", "b2"].map((n) => Array.from(net.params.get(n).data));
      let s = 0;
      losses.forEach((l, k) => {
        let y = b2[0];
        for (let j = 0; j < 5; j++) y += w2[j] * Math.max(0, l * w1[j] + b1[j]);
        s += coef[k] * sigmoid(y);
      });
      return s;
    };
    const list = net.params.list();
    const grads = tf.tidy(() => {
      const ts = list.map((p) => tf.tensor(p.data.slice(), [...p.shape]));
      return tf.grads((...xs: tf.Tensor[]) => {
        const psi: Record<string, tf.Tensor> = {};
        list.forEach((p, i) => (psi[p.name] = xs[i]));
        return tf.sum(tf.mul(tf.tensor1d(coef), weights(psi, tf.tensor1d(losses))));
      })(ts);
    });
    const analytic = grads.map((g) => g.dataSync().slice());
    tf.dispose(grads);
    let maxAbs = 0;
    list.forEach((p, i) => {
      for (let j = 0; j < p.data.length; j++) {
        const x0 = p.data[j];
        p.data[j] = x0 + 1e-3;
        const hi = p.data[j];
        const jHi = J();
        p.data[j] = x0 - 1e-3;
        const lo = p.data[j];
        const jLo = J();
        p.data[j] = x0;
        const numeric = (jHi - jLo) / (hi - lo);
        maxAbs = Math.max(maxAbs, Math.abs(analytic[i][j]));
        assert.ok(Math.abs(analytic[i][j] - numeric) < 1e-4 + 1e-3 * Math.abs(numeric), `${p.name}[${j}]: ${analytic[i][j]} vs ${numeric}`);
      }
    });
    assert.ok(maxAbs > 1e-2, "the gradient is (nearly) zero: the check proves nothing");
  });

  it("is updated by the kit's Adam as dense parameters", () => {
    const net = handNet();
    const before = weightsOf(net, Float32Array.from([0.3]))[0];
    const adam = new Adam({ lr: 0.1 });
    // a gradient of +1 on b2: the first Adam step moves b2 by -lr (m_hat / sqrt(v_hat) = 1), 0.1 -> 0.0
    adam.step([[net.params.get("b2"), { kind: "dense", grad: Float32Array.from([1]) }]]);
    assert.ok(Math.abs(net.params.get("b2").data[0] - 0) < 1e-6);
    const after = weightsOf(net, Float32Array.from([0.3]))[0];
    assert.ok(Math.abs(after - sigmoid(0.4)) < 1e-6 && after < before);
  });

  it("rejects a bad config", () => {
    assert.throws(() => createWeighting({ hidden: 0 }, new Rng(1)), /hidden/);
    assert.throws(() => createWeighting({ init: "he" as "xavier" }, new Rng(1)), /init/);
  });
});
