import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, resolveConfig, type RunConfigInput } from "../../src/experiments/config";
import { presetSettings } from "../../src/experiments/presets";
import { modelDefaults } from "../../src/models/registry";

function fieldOf(input: RunConfigInput): string {
  try {
    resolveConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, new RegExp(`config field '${err.field.replace(".", "\\.")}'`));
    return err.field;
  }
  assert.fail("expected a ConfigError");
}

describe("run config", () => {
  it("paper preset: the paper's batch sizes, learning rates and validation schedule", () => {
    const ml = resolveConfig({ dataset: "ml-100k-sgdl", model: "ngcf", seed: 1 });
    assert.deepEqual(
      [ml.preset, ml.batchSize, ml.lr, ml.evalFreq, ml.stopStep, ml.epochs, ml.ks, ml.method, ml.dataPreset],
      ["paper", 128, 1e-4, 5, 8, 1000, [5, 20], "normal", null],
    );
    const yelp = resolveConfig({ dataset: "yelp", model: "neumf", seed: 1 });
    assert.deepEqual([yelp.batchSize, yelp.lr, yelp.evalFreq, yelp.stopStep], [2048, 1e-3, 10, 4]);
    const adressa = resolveConfig({ dataset: "adressa", model: "lightgcn", seed: 1 });
    assert.deepEqual([adressa.batchSize, adressa.lr, adressa.evalFreq, adressa.stopStep], [1024, 1e-3, 10, 4]);
    assert.equal(resolveConfig({ dataset: "ml-100k", model: "cdae" }).lr, 1e-3);
    // the models' own defaults carry the same paper learning rates
    for (const m of ["neumf", "cdae", "ngcf", "lightgcn"] as const) assert.equal(modelDefaults(m).lr, presetSettings("paper", "ml-100k", m).lr, m);
  });

  it("explicit fields override the preset; quick uses the small synthetic data", () => {
    const c = resolveConfig({ dataset: "synthetic", model: "mf", preset: "quick", seed: 3, epochs: 2, lr: 0.5, ks: [10] });
    assert.deepEqual([c.epochs, c.lr, c.ks, c.dataPreset, c.seed], [2, 0.5, [10], "quick", 3]);
    assert.equal(resolveConfig({ dataset: "synthetic", model: "mf" }).dataPreset, "default");
  });

  it("bad fields are ConfigErrors naming the field", () => {
    assert.equal(fieldOf({ dataset: "synthetic", model: "bert" }), "model");
    assert.equal(fieldOf({ dataset: "movielens", model: "mf" }), "dataset");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", lr: -1 }), "lr");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", lr: Number.NaN }), "lr");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", epochs: 0 }), "epochs");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", batchSize: 2.5 }), "batchSize");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", seed: -3 }), "seed");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", ks: [] }), "ks");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", ks: [5, 5] }), "ks");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", method: "magic" }), "method");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", backend: "gpu" }), "backend");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", preset: "fast" }), "preset");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", dataPreset: "huge" }), "dataPreset");
    assert.equal(fieldOf({ dataset: "ml-100k", model: "mf", dataPreset: "quick" }), "dataPreset");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", modelConfig: { depth: 3 } }), "modelConfig");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", modelConfig: { dim: "big" } }), "modelConfig");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", modelConfig: { lr: 0.1 } }), "modelConfig.lr");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", methodOptions: { alpha: 1 } }), "methodOptions");
    assert.equal(fieldOf({ dataset: "synthetic", model: "mf", learningRate: 1 } as RunConfigInput), "learningRate");
  });
});
