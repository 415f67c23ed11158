// Starts the project's own tslab (TypeScript mode) with the project root as working directory,
// so notebooks import from "./src/..." and compile against the project's tsconfig and @types/node.
// Jupyter runs: node <this folder>/launch.cjs <connection file>
"use strict";
const path = require("path");
const fs = require("fs");

const root = path.resolve(__dirname, "..", "..", "..");
const main = path.join(root, "node_modules", "tslab", "dist", "main.js");
const configPath = process.argv[2];

if (!configPath) {
  console.error("launch.cjs: missing the connection file argument (Jupyter passes {connection_file})");
  process.exit(2);
}
if (!fs.existsSync(main)) {
  console.error(`launch.cjs: ${main} not found; run "npm ci" (or bash scripts/setup.sh) in ${root}`);
  process.exit(2);
}
process.chdir(root);
require(main).startKernel({ configPath: path.resolve(configPath), enableFindLocal: false, jsKernel: false });
