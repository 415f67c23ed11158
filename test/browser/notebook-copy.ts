/** Copies a notebook without its saved outputs, so the browser test sees only what this run produced. */
import * as fs from "fs";
import * as path from "path";

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
}

interface NotebookJson {
  cells: NotebookCell[];
  metadata?: { kernelspec?: { name?: string } };
}

/** What the test needs to know about a copied notebook: per cell, whether it is code that runs. */
export interface CopiedNotebook {
  file: string;
  kernel: string | undefined;
  runs: boolean[];
}

/** Writes `src` to `dest` with every code cell's outputs and execution count cleared. */
export function copyWithoutOutputs(src: string, dest: string): CopiedNotebook {
  const nb = JSON.parse(fs.readFileSync(src, "utf8")) as NotebookJson;
  if (!Array.isArray(nb.cells)) throw new Error(`${src}: not a notebook (no "cells" array)`);
  const runs = nb.cells.map((c) => {
    if (c.cell_type !== "code") return false;
    c.outputs = [];
    c.execution_count = null;
    const text = Array.isArray(c.source) ? c.source.join("") : c.source;
    return text.trim().length > 0;
  });
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, JSON.stringify(nb, null, 1));
  return { file: dest, kernel: nb.metadata?.kernelspec?.name, runs };
}
