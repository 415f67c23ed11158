/**
 * Where a run ran, for its result record: backend and why, library and Node
 * versions, platform, CPU, and the code's git commit with a dirty flag.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import type { BackendInfo } from "../backend";
import { OPTIMIZER_SEMANTICS } from "../training/adam";
import { projectRoot } from "../util/project-root";

export { projectRoot };

export interface Environment {
  backend: string;
  backendReason: string;
  matmulPatch: boolean;
  tfjs: string;
  node: string;
  tslab: string | null;
  platform: string;
  cpu: string;
  /** `git rev-parse HEAD` of the project, or null outside a git checkout. */
  commit: string | null;
  /** Tracked files differ from the commit (null when unknown). */
  dirty: boolean | null;
  optimizer: string;
}


/** The version field of an installed package, or null if it is not installed. */
function packageVersion(name: string): string | null {
  try {
    const file = require.resolve(`${name}/package.json`, { paths: [projectRoot()] });
    const pkg: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    if (typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string") return pkg.version;
    return null;
  } catch {
    return null;
  }
}

/** Output of a git command in the project root, or null if git or the checkout is missing. */
function git(args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd: projectRoot(), encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10000 }).trim();
  } catch {
    return null;
  }
}

/** The environment of this process, with the backend that runs. */
export function collectEnvironment(backend: BackendInfo): Environment {
  const cpus = os.cpus();
  const commit = git(["rev-parse", "HEAD"]);
  const status = commit === null ? null : git(["status", "--porcelain", "--untracked-files=no"]);
  return {
    backend: backend.name,
    backendReason: backend.reason,
    matmulPatch: backend.matmulPatch,
    tfjs: backend.tfjsVersion,
    node: process.version,
    tslab: packageVersion("tslab"),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus.length > 0 ? `${cpus[0].model.trim()} x ${cpus.length}` : "unknown",
    commit,
    dirty: status === null ? null : status.length > 0,
    optimizer: OPTIMIZER_SEMANTICS,
  };
}
