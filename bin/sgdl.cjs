#!/usr/bin/env node
// The `sgdl` command: runs the TypeScript CLI (src/cli.ts) through tsx, no build step.
"use strict";
require("tsx/cjs");
const { main } = require("../src/cli.ts");
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
