import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromiumAvailable, chromiumPath, decodeDataUrl, exportFigures } from "../../src/report/export";
import { barChart } from "../../src/report/figure";

const fig = barChart({ title: "Recall@20", categories: ["a", "b"], series: [{ name: "s", values: [1, 2] }] });

const root = fs.mkdtempSync(path.join(os.tmpdir(), "sgdl-export-test-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));

let dirs = 0;
function tmpDir(): string {
  return path.join(root, String(++dirs));
}

test("data URLs decode from base64 and from percent-encoding", () => {
  assert.equal(decodeDataUrl("data:image/png;base64,AAEC").toString("hex"), "000102");
  assert.equal(decodeDataUrl("data:image/svg+xml,%3Csvg%3E").toString("utf8"), "<svg>");
  assert.throws(() => decodeDataUrl("<svg>"), /no data URL/);
});

test("bad names are refused before chromium starts", async () => {
  await assert.rejects(exportFigures([{ name: "../up", figure: fig }], { outDir: tmpDir() }), /figure name '\.\.\/up'/);
  await assert.rejects(exportFigures([{ name: "a", figure: fig }, { name: "a", figure: fig }], { outDir: tmpDir() }), /appears twice/);
});

test("a missing chromium gives an error that says how to install it", async () => {
  const saved = process.env.SGDL_CHROMIUM;
  process.env.SGDL_CHROMIUM = path.join(tmpDir(), "no-chromium-here");
  try {
    await assert.rejects(exportFigures([{ name: "a", figure: fig }], { outDir: tmpDir() }), /chromium not found at .*apt-get install -y --no-install-recommends chromium/);
  } finally {
    if (saved === undefined) delete process.env.SGDL_CHROMIUM;
    else process.env.SGDL_CHROMIUM = saved;
  }
});

test("export writes SVG, PNG (size from IHDR), vector PDF and a provenance JSON", { timeout: 180_000 }, async (t) => {
  if (!chromiumAvailable()) {
    t.skip(`chromium not found at ${chromiumPath()}: apt-get install -y --no-install-recommends chromium (or set SGDL_CHROMIUM)`);
    return;
  }
  const outDir = tmpDir();
  const provenance = { seed: 7, config: { preset: "quick" } };
  const files = await exportFigures(
    [
      { name: "bars", figure: fig, width: 320, height: 200 },
      { name: "bars-1x", figure: fig, width: 300, height: 150 },
    ],
    { outDir, provenance, pngScale: 2 },
  );
  const names = ["bars.svg", "bars.png", "bars.pdf", "bars.json", "bars-1x.svg", "bars-1x.png", "bars-1x.pdf", "bars-1x.json"];
  assert.deepEqual(files, names.map((n) => path.join(outDir, n)));
  assert.deepEqual(fs.readdirSync(outDir).sort(), [...names].sort(), "no temporary files left behind");

  const svg = fs.readFileSync(path.join(outDir, "bars.svg"), "utf8");
  assert.ok(svg.startsWith("<svg"), svg.slice(0, 40));
  assert.match(svg, /width="320" height="200"/);

  for (const [name, w, h] of [["bars", 640, 400], ["bars-1x", 600, 300]] as const) {
    // PNG: 8-byte signature, then the IHDR chunk (length, "IHDR", width, height as big-endian uint32); CSS size x pngScale 2
    const png = fs.readFileSync(path.join(outDir, `${name}.png`));
    assert.equal(png.subarray(0, 8).toString("hex"), "89504e470d0a1a0a");
    assert.equal(png.subarray(12, 16).toString("ascii"), "IHDR");
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [w, h]);
  }

  const pdf = fs.readFileSync(path.join(outDir, "bars.pdf"));
  assert.equal(pdf.subarray(0, 5).toString("ascii"), "%PDF-");
  const pdfText = pdf.toString("latin1");
  // one page of 320 x 200 CSS px = 240 x 150 pt (1 px = 0.75 pt); text kept as fonts, not an image
  const box = /MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/.exec(pdfText);
  assert.ok(box, "the PDF has a MediaBox");
  assert.ok(Math.abs(Number(box[1]) - 240) < 1 && Math.abs(Number(box[2]) - 150) < 1, box[0]);
  assert.equal((pdfText.match(/\/Type\s*\/Page\b/g) ?? []).length, 1);
  assert.match(pdfText, /\/Font/);
  assert.doesNotMatch(pdfText, /\/Subtype\s*\/Image/);

  const meta = JSON.parse(fs.readFileSync(path.join(outDir, "bars.json"), "utf8")) as Record<string, unknown>;
  assert.deepEqual(meta.provenance, provenance);
  assert.deepEqual(meta.figure, fig);
  assert.deepEqual(meta.files, ["bars.svg", "bars.png", "bars.pdf"]);
  assert.deepEqual([meta.width, meta.height], [320, 200]);
});
