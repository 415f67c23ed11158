/**
 * Browser test: opens each notebook of the table below in a real JupyterLab (the project's venv,
 * headless Debian chromium through playwright-core), runs every cell through the UI
 * (click the editor, Shift+Enter), then checks that the outputs show what the table expects.
 *
 * Usage: node --import tsx test/browser/run.ts [NOTEBOOK ...]   (npm run test:browser)
 * Env: SGDL_CHROMIUM (default /usr/bin/chromium); SGDL_BROWSER_TEST=optional turns a missing
 * chromium into a skip with exit 0; SGDL_CELL_TIMEOUT seconds per cell (default 900);
 * SGDL_PRESET (default quick) and SGDL_DATA_DIR reach the kernel through the server's environment.
 * Ends with the line "N passed, N failed"; exit code 1 if any failed.
 */
import * as fs from "fs";
import * as path from "path";
import { chromium, BrowserContext, Locator, Page } from "playwright-core";
import { CHROMIUM_FLAGS, chromiumPath } from "../../src/report/export";
import { startLab, LabServer } from "./lab-server";
import { copyWithoutOutputs, CopiedNotebook } from "./notebook-copy";

interface Expectation {
  /** Text that must appear in some cell output. */
  text?: string;
  /** A CSS selector that must match inside the notebook panel. */
  selector?: string;
}

interface Case {
  notebook: string;
  expect: Expectation[];
}

const CASES: Case[] = [
  { notebook: "notebooks/01-data-and-noise.ipynb", expect: [{ text: "Table 1" }] },
  { notebook: "notebooks/06-performance-comparison.ipynb", expect: [{ text: "Table 2 (Normal and SGDL rows)" }, { selector: ".js-plotly-plot" }] },
  {
    notebook: "test/fixtures/notebooks/smoke.ipynb",
    expect: [{ text: "SGDL-SMOKE-OK" }, { selector: ".jp-OutputArea-output table" }, { selector: ".js-plotly-plot" }],
  },
];

const ROOT = path.resolve(__dirname, "..", "..");
const KERNEL = "sgdl-tslab";
const CHROMIUM = chromiumPath();
const CELL_TIMEOUT_MS = 1000 * Number(process.env.SGDL_CELL_TIMEOUT ?? "900");
const IDLE_TIMEOUT_MS = 120_000;
const EXPECT_TIMEOUT_MS = 30_000;
const PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)";
// The same stderr rule as test/notebooks/run_notebooks.py.
const ERROR_LINE =
  /^\s*(UnhandledPromiseRejection\b|Unhandled promise rejection|UncaughtException\b|Uncaught\b|(?:[A-Za-z_$][\w$]*)?Error(\s*\[[\w.-]+\])?:)/m;

/** A failed check; `shot` says whether a screenshot of the page would show anything. */
class CaseFailure extends Error {
  constructor(
    message: string,
    readonly shot = true,
  ) {
    super(message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true or `timeoutMs` passes; throws CaseFailure with `what` on timeout. */
async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new CaseFailure(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(200);
  }
}

/** Waits until the status bar shows the notebook's kernel as idle. */
async function waitIdle(page: Page, timeoutMs: number): Promise<void> {
  const bar = page.locator("#jp-main-statusbar");
  await waitUntil("the kernel to be idle (status bar '| Idle')", timeoutMs, async () => {
    await failOnDialog(page);
    const text = (await bar.textContent().catch(() => "")) ?? "";
    return text.includes("| Idle");
  });
}

/** Throws CaseFailure if JupyterLab shows a dialog (cannot open, select kernel, kernel died...). */
async function failOnDialog(page: Page): Promise<void> {
  const dialog = page.locator(".jp-Dialog");
  if ((await dialog.count()) > 0) {
    const text = ((await dialog.first().textContent().catch(() => "")) ?? "").replace(/\s+/g, " ").trim();
    throw new CaseFailure(`JupyterLab shows a dialog: ${text}`);
  }
}

/** Text of a cell's stderr outputs as JupyterLab shows them. */
async function stderrOf(cell: Locator): Promise<string> {
  const outs = cell.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  return (await outs.allTextContents()).join("\n");
}

/** Runs every code cell of the open notebook with Shift+Enter, in order, and fails on the first error. */
async function runAllCells(page: Page, nb: CopiedNotebook): Promise<void> {
  const panel = page.locator(PANEL);
  const cells = panel.locator(".jp-Notebook .jp-Cell");
  await waitUntil("all cells to be rendered", 30_000, async () => (await cells.count()) >= nb.runs.length);
  let count = 0;
  for (let i = 0; i < nb.runs.length; i++) {
    if (!nb.runs[i]) continue;
    const cell = cells.nth(i);
    count++;
    await cell.locator(".jp-InputArea-editor").click();
    await page.keyboard.press("Shift+Enter");
    const prompt = cell.locator(".jp-InputPrompt");
    const want = `[${count}]:`;
    const pressed = Date.now();
    let seenRunning = false;
    let last = "";
    await waitUntil(`cell ${i} to finish (prompt ${want})`, CELL_TIMEOUT_MS, async () => {
      await failOnDialog(page);
      last = ((await prompt.textContent()) ?? "").trim();
      if (last === "[*]:") seenRunning = true;
      // A cell that ends without an execution count (tslab's "unexpected error") shows "[ ]:" again.
      return last === want || (last !== "[*]:" && (seenRunning || Date.now() - pressed > 10_000));
    });
    if (last !== want) {
      const stderr = await stderrOf(cell);
      throw new CaseFailure(`cell ${i} finished with prompt ${last}, expected ${want}${stderr ? `; stderr:\n${stderr}` : ""}`);
    }
    const stderr = await stderrOf(cell);
    const m = ERROR_LINE.exec(stderr);
    if (m) throw new CaseFailure(`cell ${i} printed an error on stderr: ${stderr.slice(m.index).trimStart().split("\n")[0]}\n${stderr}`);
  }
  await waitIdle(page, IDLE_TIMEOUT_MS);
  await sleep(500);
  // Errors that timers or promises print after their cell finished land in the last cell that ran.
  for (let i = 0; i < nb.runs.length; i++) {
    if (!nb.runs[i]) continue;
    const stderr = await stderrOf(cells.nth(i));
    if (ERROR_LINE.test(stderr)) throw new CaseFailure(`cell ${i} shows an error on stderr:\n${stderr}`);
  }
}

/** Checks each expectation of a case inside the open notebook panel. */
async function checkExpectations(page: Page, expect: Expectation[]): Promise<void> {
  const panel = page.locator(PANEL);
  for (const e of expect) {
    if (e.text !== undefined) {
      const text = e.text;
      const hits = panel.locator(".jp-OutputArea-output").filter({ hasText: text });
      await waitUntil(`output text ${JSON.stringify(text)}`, EXPECT_TIMEOUT_MS, async () => (await hits.count()) > 0);
    }
    if (e.selector !== undefined) {
      const hits = panel.locator(e.selector);
      await waitUntil(`selector ${JSON.stringify(e.selector)}`, EXPECT_TIMEOUT_MS, async () => (await hits.count()) > 0);
    }
  }
}

/** Opens one notebook in JupyterLab (a copy without outputs in `workDir`/`folder`, `workDir` being the server's root), runs it and checks it; throws on failure. */
async function runCase(page: Page, server: LabServer, workDir: string, folder: string, c: Case): Promise<void> {
  await page.goto("about:blank");
  await server.closeSessions();
  const src = path.join(ROOT, c.notebook);
  if (!fs.existsSync(src)) throw new CaseFailure(`${c.notebook} does not exist`, false);
  // The server hides dot-folders: serve the copy under a visible name.
  const parts = c.notebook.split("/").map((p) => p.replace(/^\./, "_"));
  parts.unshift(folder);
  const nb = copyWithoutOutputs(src, path.join(workDir, ...parts));
  if (nb.kernel !== KERNEL) {
    throw new CaseFailure(`metadata.kernelspec.name is ${JSON.stringify(nb.kernel)}, expected "${KERNEL}"`, false);
  }
  await page.goto(`${server.url}/lab/tree/${parts.map(encodeURIComponent).join("/")}?reset`, { waitUntil: "domcontentloaded" });
  const panel = page.locator(PANEL);
  await waitUntil("the notebook panel to open", 60_000, async () => {
    await failOnDialog(page);
    return panel.isVisible();
  });
  await waitIdle(page, IDLE_TIMEOUT_MS);
  await runAllCells(page, nb);
  await checkExpectations(page, c.expect);
}

/** Saves a screenshot of the page for a failed case; returns its path (or undefined if that failed too). */
async function screenshot(page: Page, c: Case): Promise<string | undefined> {
  const dir = path.join(ROOT, ".cache", "browser");
  const file = path.join(dir, `${path.basename(c.notebook, ".ipynb")}-failure.png`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
    return file;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const only = process.argv.slice(2).map((a) => path.relative(ROOT, path.resolve(a)));
  const cases = only.length ? CASES.filter((c) => only.includes(c.notebook)) : CASES;
  if (only.length && cases.length !== only.length) {
    console.error(`unknown notebook(s); the table lists: ${CASES.map((c) => c.notebook).join(", ")}`);
    return 2;
  }
  if (!fs.existsSync(CHROMIUM)) {
    const msg = `browser test: ${CHROMIUM} not found; install it with: bash scripts/install-chromium.sh`;
    if (process.env.SGDL_BROWSER_TEST === "optional") {
      console.log(`SKIP ${msg} (SGDL_BROWSER_TEST=optional)`);
      return 0;
    }
    console.error(`FAIL ${msg} (or set SGDL_BROWSER_TEST=optional to skip)`);
    console.log(`0 passed, ${cases.length} failed`);
    return 1;
  }

  const scratch = path.join(ROOT, ".cache", "browser", `run-${process.pid}`);
  fs.rmSync(scratch, { recursive: true, force: true });
  const workDir = path.join(scratch, "work");
  fs.mkdirSync(workDir, { recursive: true });
  process.env.SGDL_PRESET = process.env.SGDL_PRESET ?? "quick";

  let server: LabServer | undefined;
  let context: BrowserContext | undefined;
  const cleanup = async (): Promise<void> => {
    const ctx = context;
    context = undefined;
    if (ctx) await ctx.close().catch(() => undefined);
    const srv = server;
    server = undefined;
    if (srv) await srv.stop();
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      void cleanup().finally(() => process.exit(130));
    });
  }

  let passed = 0;
  let failed = 0;
  try {
    const t0 = Date.now();
    server = await startLab({ root: ROOT, scratch, workDir, timeoutMs: 60_000 });
    console.log(`jupyter lab up at ${server.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s (log: ${path.relative(ROOT, server.logFile)})`);
    context = await chromium.launchPersistentContext(path.join(scratch, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1400, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    // The debugger extension complains about tslab, which has no debugger: not a failure.
    page.on("pageerror", (e) => {
      if (!/No active debugger session/.test(e.message)) pageErrors.push(e.message);
    });
    for (const [i, c] of cases.entries()) {
      const started = Date.now();
      pageErrors.length = 0;
      try {
        await runCase(page, server, workDir, `case-${i + 1}`, c);
        passed++;
        console.log(`PASS ${c.notebook} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        const why = e instanceof Error ? (e instanceof CaseFailure ? e.message : e.stack ?? e.message) : String(e);
        console.log(`FAIL ${c.notebook} (${((Date.now() - started) / 1000).toFixed(1)} s): ${why}`);
        const shot = e instanceof CaseFailure && !e.shot ? undefined : await screenshot(page, c);
        if (shot) console.log(`  screenshot: ${path.relative(process.cwd(), shot)}`);
        if (pageErrors.length) console.log(`  page errors:\n    ${pageErrors.join("\n    ")}`);
        console.log(`  server log: ${path.relative(process.cwd(), server.logFile)}`);
      }
    }
  } catch (e) {
    failed = cases.length - passed;
    console.error(`FAIL browser test set-up: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await cleanup();
  }
  if (failed === 0) fs.rmSync(scratch, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
