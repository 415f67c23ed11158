import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

// ARCHITECTURE.md: "Floors, bottom up: backend and data; models; eval; training; methods;
// experiments; report; the two doors. An import only points down."
const FLOORS: Record<string, number> = {
  util: 0, "backend.ts": 0, data: 1, models: 2, eval: 3, training: 4, methods: 5, experiments: 6, report: 7,
  bench: 8, "index.ts": 8, "cli.ts": 8,
};
const SRC = path.join(__dirname, "..", "..", "src");

function floorOf(rel: string): number {
  const top = rel.split(path.sep)[0];
  const f = FLOORS[top];
  if (f === undefined) throw new Error(`src/${rel}: its folder '${top}' has no floor in this test (add it to ARCHITECTURE.md and here)`);
  return f;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []);
}

test("every import in src points to the same floor or one below", () => {
  const upward: string[] = [];
  for (const file of sources(SRC)) {
    const rel = path.relative(SRC, file);
    const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    for (const m of text.matchAll(/(?:import|export)[^"';]*?from\s+["'](\.[^"']+)["']|import\s+["'](\.[^"']+)["']|require\(["'](\.[^"']+)["']\)/g)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = path.relative(SRC, path.resolve(path.dirname(file), spec));
      if (target.startsWith("..")) continue;
      const t = target.endsWith(".ts") || target.includes(path.sep) ? target : `${target}.ts`;
      if (floorOf(t) > floorOf(rel)) upward.push(`src/${rel} imports ${spec}`);
    }
  }
  assert.deepEqual(upward, []);
});

test("the floor check sees an upward import", () => {
  // a data file importing training would be floor 1 -> 4
  assert.ok(floorOf(path.join("training", "trainer.ts")) > floorOf(path.join("data", "split.ts")));
  assert.throws(() => floorOf(path.join("nowhere", "x.ts")), /no floor/);
});
