/** Starts and stops a throw-away JupyterLab server (the project's venv, a scratch config) for the browser test. */
import { spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

export interface LabServer {
  url: string;
  logFile: string;
  /** Shuts down every kernel session (so the next notebook gets a fresh kernel and the memory back). */
  closeSessions(): Promise<void>;
  stop(): Promise<void>;
}

/** Deletes all sessions of the server at `url` through its REST API. */
async function deleteSessions(url: string): Promise<void> {
  const res = await fetch(`${url}/api/sessions`);
  if (!res.ok) throw new Error(`GET ${url}/api/sessions: HTTP ${res.status}`);
  const sessions = (await res.json()) as Array<{ id: string }>;
  for (const s of sessions) {
    await fetch(`${url}/api/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
  }
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Settings for the test server: no news or update pop-ups, no autosave, every cell kept in the DOM. */
const TEST_OVERRIDES = {
  "@jupyterlab/apputils-extension:notification": { fetchNews: "false", checkForUpdates: false },
  "@jupyterlab/docmanager-extension:plugin": { autosave: false },
  "@jupyterlab/notebook-extension:tracker": { windowingMode: "none" },
};

/** Sends `signal` to the server's whole process group (the server and the kernels it started). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Starts `jupyter lab` from the venv on a free loopback port with root_dir `workDir`; resolves when /api/status answers. */
export async function startLab(opts: { root: string; scratch: string; workDir: string; timeoutMs: number }): Promise<LabServer> {
  const jupyter = path.join(opts.root, ".venv", "bin", "jupyter");
  if (!fs.existsSync(jupyter)) throw new Error(`${jupyter} not found; run: bash scripts/setup.sh`);
  const port = await freePort();
  const dirs = {
    config: path.join(opts.scratch, "config"),
    data: path.join(opts.scratch, "data"),
    runtime: path.join(opts.scratch, "runtime"),
    settings: path.join(opts.scratch, "settings"),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(dirs.settings, "overrides.json"), JSON.stringify(TEST_OVERRIDES, null, 2));
  const logFile = path.join(opts.scratch, "server.log");
  const log = fs.openSync(logFile, "w");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_CONFIG_DIR: dirs.config,
    JUPYTER_DATA_DIR: dirs.data,
    JUPYTER_RUNTIME_DIR: dirs.runtime,
    JUPYTER_PATH: [path.join(opts.root, "jupyter"), path.join(opts.root, ".venv", "share", "jupyter")].join(path.delimiter),
  };
  const args = [
    "lab",
    "--no-browser",
    "--ip=127.0.0.1",
    `--port=${port}`,
    "--port-retries=0",
    "--allow-root",
    "--IdentityProvider.token=",
    "--ServerApp.password=",
    `--ServerApp.root_dir=${opts.workDir}`,
    `--LabApp.app_settings_dir=${dirs.settings}`,
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
  ];
  const child = spawn(jupyter, args, { cwd: opts.root, env, detached: true, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    killGroup(child, "SIGTERM");
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 5000));
    await Promise.race([gone, timer]);
    if (!exited) killGroup(child, "SIGKILL");
  };
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`jupyter lab exited early; see ${logFile}`);
    try {
      const res = await fetch(`${url}/api/status`);
      if (res.ok) return { url, logFile, stop, closeSessions: () => deleteSessions(url) };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`jupyter lab did not answer ${url}/api/status within ${opts.timeoutMs} ms; see ${logFile}`);
}
