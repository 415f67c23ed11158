import * as fs from "node:fs";
import * as path from "node:path";

/** The nearest folder above this file that holds package.json (the project root); the working directory if none. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}
