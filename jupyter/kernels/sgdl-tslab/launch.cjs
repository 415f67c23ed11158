// Starts the project's own tslab (TypeScript mode) with the project root as working directory,
// so notebooks import from "./src/..." and compile against the project's @types/node.
// Jupyter runs: node <this folder>/launch.cjs <connection file>
"use strict";
const path = require("path");
const fs = require("fs");
const Module = require("module");

const root = path.resolve(__dirname, "..", "..", "..");
const tslabDir = path.join(root, "node_modules", "tslab");
const main = path.join(tslabDir, "dist", "main.js");
const configPath = process.argv[2];

if (!configPath) {
  console.error("launch.cjs: missing the connection file argument (Jupyter passes {connection_file})");
  process.exit(2);
}
if (!fs.existsSync(main)) {
  console.error(`launch.cjs: ${main} not found; run "npm ci" (or bash scripts/setup.sh) in ${root}`);
  process.exit(2);
}

// Work-around for tslab 1.0.22: its TypeScript watch host has a single timer slot, but the
// compiler keeps two timers (program update and failed-lookup invalidation). When a file
// appears in a folder the compiler watches (e.g. a new file in src/ while the kernel runs),
// the second timer hits the occupied slot and every later cell fails with
// "Unexpected pending rebuildTimer" until the kernel restarts. Here the watch host's timers
// share tslab's slot: all pending callbacks run when tslab fires it, none is lost.
function shareTimerSlot(host) {
  const arm = host.setTimeout;
  const disarm = host.clearTimeout;
  if (!arm || !disarm) return host;
  let pending = [];
  let slot = null;
  let flushing = false;
  const flush = () => {
    slot = null;
    flushing = true;
    try {
      const run = pending;
      pending = [];
      for (const t of run) t.callback(...t.args);
    } finally {
      flushing = false;
    }
    // Callbacks scheduled while flushing wait in `pending` for the next time tslab fires.
  };
  host.setTimeout = (callback, _ms, ...args) => {
    const t = { callback, args };
    pending.push(t);
    if (!slot && !flushing) slot = arm.call(host, flush, 250);
    return t;
  };
  host.clearTimeout = (t) => {
    pending = pending.filter((p) => p !== t);
    if (pending.length === 0 && slot) {
      disarm.call(host, slot);
      slot = null;
    }
  };
  return host;
}

const tsPath = require.resolve("@tslab/typescript-for-tslab", { paths: [tslabDir] });
const realTs = require(tsPath);
const patchedTs = {};
for (const key of Object.keys(realTs)) {
  if (key === "createWatchCompilerHost") continue;
  Object.defineProperty(patchedTs, key, { enumerable: true, get: () => realTs[key] });
}
Object.defineProperty(patchedTs, "createWatchCompilerHost", {
  enumerable: true,
  value: (...args) => shareTimerSlot(realTs.createWatchCompilerHost(...args)),
});
const cached = new Module(tsPath, module);
cached.filename = tsPath;
cached.loaded = true;
cached.exports = patchedTs;
require.cache[tsPath] = cached;

// zeromq 6 refuses a second send on a socket while one is pending ("Socket is busy writing",
// EBUSY), and tslab sends without awaiting (bursts of progress output crashed the kernel):
// queue each socket's sends so they go out one after another, in order. The heartbeat's Reply
// socket too: its unawaited send once failed with "Socket is closed" (EBADF) under heavy load,
// and the unhandled rejection killed the kernel in the middle of a training run.
const zmq = require(require.resolve("zeromq", { paths: [tslabDir] }));
for (const Cls of [zmq.Publisher, zmq.Router, zmq.Reply]) {
  const send = Cls.prototype.send;
  const queues = new WeakMap();
  Object.defineProperty(Cls.prototype, "send", {
    configurable: true,
    writable: true,
    value: function (msg) {
      // a send still queued when the kernel shuts its sockets is dropped, not thrown (EBADF at exit)
      const next = (queues.get(this) || Promise.resolve()).then(() => (this.closed ? undefined : send.call(this, msg)));
      queues.set(this, next.catch(() => undefined));
      return next;
    },
  });
}

process.chdir(root);
require(main).startKernel({ configPath: path.resolve(configPath), enableFindLocal: false, jsKernel: false });
