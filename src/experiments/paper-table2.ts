/**
 * The paper's Table 2 as printed (R@5, R@20, N@5, N@20 per dataset), with its
 * significance marks: `dagger` is true where the paper marks "SGDL's improvement
 * over this baseline is significant at 0.05". Transcribed from the paper text.
 */
export type PaperDataset = "adressa" | "ml-100k" | "yelp";
export type PaperMetric = "recall@5" | "recall@20" | "ndcg@5" | "ndcg@20";
export interface PaperCell {
  value: number;
  dagger: boolean;
}

export interface PaperRow {
  model: "neumf" | "cdae" | "ngcf" | "lightgcn";
  method: "normal" | "wbpr" | "ir" | "tce" | "deca" | "sgcn" | "sgl" | "sgdl";
  cells: Record<PaperDataset, Record<PaperMetric, PaperCell>>;
}

const METRICS: readonly PaperMetric[] = ["recall@5", "recall@20", "ndcg@5", "ndcg@20"];
const DATASETS: readonly PaperDataset[] = ["adressa", "ml-100k", "yelp"];

/** Parses a printed row: 12 cells, Adressa, MovieLens, Yelp, each R@5 R@20 N@5 N@20, "†" kept as a flag. */
function row(model: PaperRow["model"], method: PaperRow["method"], printed: string): PaperRow {
  const v = printed.split(" ");
  if (v.length !== 12) throw new Error(`paper Table 2 row ${model}/${method}: expected 12 cells, got ${v.length}`);
  const cells = {} as Record<PaperDataset, Record<PaperMetric, PaperCell>>;
  DATASETS.forEach((d, j) => {
    const c = {} as Record<PaperMetric, PaperCell>;
    METRICS.forEach((m, k) => {
      const s = v[4 * j + k];
      c[m] = { value: Number(s.replace("\u2020", "")), dagger: s.endsWith("\u2020") };
    });
    cells[d] = c;
  });
  return { model, method, cells };
}

/** Table 2: performance comparison (paper 4.2). */
export const PAPER_TABLE2: readonly PaperRow[] = [
  row("neumf", "normal", "0.1533† 0.3208† 0.1224† 0.1808† 0.1023† 0.2687† 0.2890† 0.2765† 0.0129† 0.0393† 0.0129† 0.0215†"),
  row("neumf", "wbpr", "0.1538† 0.3207† 0.1225† 0.1809† 0.1025† 0.2689† 0.2891† 0.2769† 0.0128† 0.0392† 0.0127† 0.0214†"),
  row("neumf", "ir", "0.1541† 0.3212† 0.1229† 0.1830† 0.1054† 0.2704† 0.2928† 0.2758† 0.0132† 0.0407† 0.0131† 0.0229†"),
  row("neumf", "tce", "0.1537† 0.3220† 0.1267† 0.1839† 0.1025† 0.2821† 0.2923† 0.2845† 0.0119† 0.0396† 0.0119† 0.0211†"),
  row("neumf", "deca", "0.1597 0.3205† 0.1226† 0.1799† 0.1024† 0.2723† 0.2904† 0.2801† 0.0129† 0.0394† 0.0129† 0.0216†"),
  row("neumf", "sgdl", "0.1598 0.3291 0.1272 0.1853 0.1135 0.2844 0.3279 0.3032 0.0155 0.0469 0.0158 0.0260"),
  row("cdae", "normal", "0.1445† 0.3159† 0.0987† 0.1886† 0.0904† 0.2185† 0.2617† 0.2356† 0.0145† 0.0436† 0.0149† 0.0277†"),
  row("cdae", "wbpr", "0.1443† 0.3158† 0.0987† 0.1890† 0.0908† 0.2184† 0.2619† 0.2346† 0.0148† 0.0437† 0.0151† 0.0278†"),
  row("cdae", "ir", "0.1444 0.3152† 0.0981† 0.1893† 0.0909† 0.2186† 0.2612† 0.2358† 0.0153† 0.0438 0.0152† 0.0278†"),
  row("cdae", "tce", "0.1415† 0.3106† 0.0991 0.1840† 0.0912† 0.2158† 0.2642 0.2386† 0.0147† 0.0439 0.0151† 0.0279†"),
  row("cdae", "deca", "0.1447† 0.3159† 0.0991 0.1888† 0.0917† 0.2189† 0.2641 0.2378† 0.0158† 0.0438 0.0154† 0.0292†"),
  row("cdae", "sgdl", "0.1450 0.3181 0.0993 0.1956 0.0921 0.2220 0.2643 0.2404 0.0162 0.0439 0.0172 0.0296"),
  row("ngcf", "normal", "0.0769† 0.1322† 0.0571† 0.0769† 0.1285† 0.3103† 0.3694† 0.3392† 0.0267† 0.0736† 0.0262† 0.0417†"),
  row("ngcf", "wbpr", "0.0770† 0.1324† 0.0572† 0.0769† 0.1287† 0.3105† 0.3692† 0.3395† 0.0265† 0.0739† 0.0265† 0.0417†"),
  row("ngcf", "ir", "0.0772† 0.1337† 0.0570† 0.0768† 0.1280† 0.3104† 0.3701† 0.3395† 0.0269† 0.0737† 0.0261† 0.0412†"),
  row("ngcf", "deca", "0.0760† 0.1326† 0.0571† 0.0766† 0.1304† 0.3113† 0.3729† 0.3401 0.0277 0.0739† 0.0262 0.0418"),
  row("ngcf", "sgcn", "0.0773† 0.1336† 0.0543† 0.0770 0.1288† 0.3112† 0.3768 0.3401 0.0267† 0.0734† 0.0265 0.0443"),
  row("ngcf", "sgl", "0.0775† 0.1345 0.0576 0.0768† 0.1303† 0.3141† 0.3763† 0.3360† 0.0279 0.0750 0.0264† 0.0409†"),
  row("ngcf", "sgdl", "0.0788 0.1347 0.0579 0.0771 0.1309 0.3186 0.3745 0.3404 0.0273 0.0746 0.0267 0.0420"),
  row("lightgcn", "normal", "0.0951† 0.1817† 0.0713† 0.0994† 0.1258† 0.3173† 0.3678† 0.3358† 0.0334† 0.0912† 0.0332† 0.0515†"),
  row("lightgcn", "wbpr", "0.0958† 0.1845† 0.0733† 0.1006† 0.1262† 0.3189† 0.3701† 0.3510 0.0333† 0.0911† 0.0331† 0.0512†"),
  row("lightgcn", "ir", "0.0953† 0.1822† 0.0726† 0.1003† 0.1285† 0.3194† 0.3681† 0.3361† 0.0305† 0.0909† 0.0326† 0.0510†"),
  row("lightgcn", "deca", "0.0974† 0.1855† 0.0758† 0.1162† 0.1293† 0.3076† 0.3575† 0.3270† 0.0337 0.0911† 0.0332† 0.0524"),
  row("lightgcn", "sgcn", "0.0941† 0.1899† 0.0765† 0.1160† 0.1282† 0.3210† 0.3602† 0.3318† 0.0335† 0.0916 0.0346 0.0528"),
  row("lightgcn", "sgl", "0.0980† 0.1770† 0.0741† 0.0999† 0.1299† 0.3156† 0.3638† 0.3343† 0.0341 0.0915 0.0344 0.0526"),
  row("lightgcn", "sgdl", "0.1134 0.2105 0.0844 0.1178 0.1378 0.3335 0.3844 0.3513 0.0339 0.0918 0.0341 0.0525"),
];

/** The printed value of one cell, or undefined when the paper has no such row. */
export function paperValue(model: string, method: string, dataset: PaperDataset, metric: PaperMetric): number | undefined {
  return PAPER_TABLE2.find((r) => r.model === model && r.method === method)?.cells[dataset][metric].value;
}
