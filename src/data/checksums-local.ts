/** Hashes recorded on first use for files whose sha256 is not published: one `CHECKSUMS.local` per dataset folder. */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../util/atomic";

const LOCAL_RECORD = "CHECKSUMS.local";


/** Hashes recorded on first use, one `CHECKSUMS.local` per dataset folder, in `sha256sum` format. */
export class LocalRecords {
  private readonly cache = new Map<string, Map<string, string>>();

  constructor(private readonly dataDir: string) {}

  fileFor(to: string): string {
    return path.join(this.dataDir, to.split("/")[0], LOCAL_RECORD);
  }

  get(to: string): string | null {
    return this.load(to).get(this.key(to)) ?? null;
  }

  set(to: string, sha256: string): void {
    const m = this.load(to);
    m.set(this.key(to), sha256);
    const lines = [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, h]) => `${h}  ${k}\n`);
    writeFileAtomic(this.fileFor(to), lines.join(""));
  }

  private key(to: string): string {
    return to.split("/").slice(1).join("/");
  }

  private load(to: string): Map<string, string> {
    const file = this.fileFor(to);
    let m = this.cache.get(file);
    if (m === undefined) {
      m = new Map();
      if (fs.existsSync(file)) {
        for (const line of fs.readFileSync(file, "utf8").split("\n")) {
          const hit = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
          if (hit) m.set(hit[2], hit[1]);
        }
      }
      this.cache.set(file, m);
    }
    return m;
  }
}
