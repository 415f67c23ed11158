/**
 * Fixture data dirs for the loader tests. The files are committed with a
 * `.fixture` suffix (so no file in the repository carries a dataset's real
 * name); this copies a fixture tree into a temporary folder once per process,
 * under the real names the loaders look for, and returns its path.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const SOURCE = path.join(__dirname, "..", "fixtures", "data");
const made = new Map<string, string>();

function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name.replace(/\.fixture$/, ""));
    if (e.isDirectory()) copyTree(src, dst);
    else fs.copyFileSync(src, dst);
  }
}

/** The fixture tree `test/fixtures/data/<name>` under real file names, in a temporary folder. */
export function fixtureDataDir(name: "tiny" | "bad"): string {
  const existing = made.get(name);
  if (existing) return existing;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-fixture-"));
  const dir = path.join(root, name);
  copyTree(path.join(SOURCE, name), dir);
  process.on("exit", () => fs.rmSync(root, { recursive: true, force: true }));
  made.set(name, dir);
  return dir;
}
