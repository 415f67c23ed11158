import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as aq from "arquero";
import { formatNumber, tableHtml, tableText } from "../../src/report/table";

test("numbers are printed as the paper prints them", () => {
  assert.equal(formatNumber(1672520), "1,672,520");
  assert.equal(formatNumber(0.93694), "0.9369");
  assert.equal(formatNumber(0.5, 2), "0.5");
  assert.equal(formatNumber(null), "");
  assert.equal(formatNumber("x"), "x");
});

test("HTML table carries an escaped caption and formatted cells", () => {
  const t = aq.table({ dataset: ["ml-100k", "yelp"], users: [943, 45548] });
  const html = tableHtml(t, { caption: "Table 1 <stats>" });
  assert.match(html, /<figcaption[^>]*>Table 1 &lt;stats&gt;<\/figcaption>/);
  assert.match(html, /45,548/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 3); // header + 2 rows
});

test("plain-text table right-aligns every column to its widest cell", () => {
  const t = aq.table({ a: [1, 22000], name: ["x", "yy"] });
  const lines = tableText(t).split("\n");
  // widths: a = max(1, "22,000".length = 6) = 6; name = max(4, 2) = 4
  assert.deepEqual(lines, ["     a  name", "     1     x", "22,000    yy"]);
});
