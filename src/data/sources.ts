/** Where each dataset comes from: origin URLs pinned to commits, and the sha256 of every file where one is known. */

/** One file a source yields: `from` is the archive entry (zip) or the URL's file name; `to` is relative to the data dir. */
export interface FetchFile {
  from: string;
  to: string;
  /** Published sha256 of the file; null when none is known (then trust on first use). */
  sha256: string | null;
}

/** One download: a ZIP archive to extract or a single file. */
export interface FetchSource {
  dataset: string;
  url: string;
  /** sha256 of the downloaded bytes; null when not known (a zip's files are still checked one by one). */
  sha256: string | null;
  /** MD5 of the archive as its origin publishes it: a cross-check; a mismatch is reported, the per-file sha256 decides. */
  md5?: string;
  bytes?: number;
  kind: "zip" | "file";
  files: FetchFile[];
}

const SGDL_COMMIT = "718ced927756badcd5f623708bd884dc7d7d5d2b";
const TCE_COMMIT = "451779a201d2b7b9f4929d35b791caf53f94b5f4";
const DECA_COMMIT = "8b04aa8c24c08c4519f559d25e4c3da34fe97bd3";

function rawGithub(dataset: string, repo: string, commit: string, repoPath: string, to: string, sha256: string | null): FetchSource {
  const from = repoPath.slice(repoPath.lastIndexOf("/") + 1);
  const url = `https://raw.githubusercontent.com/${repo}/${commit}/${repoPath}`;
  return { dataset, url, sha256, kind: "file", files: [{ from, to, sha256 }] };
}

function ml100kEntry(name: string, sha256: string): FetchFile {
  return { from: `ml-100k/${name}`, to: `ml-100k/${name}`, sha256 };
}

/** The known sources. Hashes: data/checksums.sha256 (kept equal by a test). */
export const SOURCES: readonly FetchSource[] = [
  {
    dataset: "ml-100k",
    url: "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    sha256: null, // not known here; each extracted file is checked instead
    md5: "0e33842e24a9c977be4e0107933c0723",
    kind: "zip",
    files: [
      ml100kEntry("u.data", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
      ml100kEntry("u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
      ml100kEntry("u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
      ml100kEntry("u.info", "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b"),
      ml100kEntry("u.genre", "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"),
      ml100kEntry("u.occupation", "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d"),
      ml100kEntry("README", "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52"),
    ],
  },
  ...(
    [
      ["ml100k.train.rating", "cbb6f864effa94ecb408553cefb6a5a77b704b8fce4c6c32b3683e6c02198f59"],
      ["ml100k.valid.rating", "1208c64bcb45247c91e74e3632ecd15de87b6133d084265be1066931686623bb"],
      ["ml100k.test.negative", "add19fe465be20e6721ea3aba40f183ea94054f0b692f0e7e2b1a57bea648bc7"],
    ] as const
  ).map(([f, h]) => rawGithub("ml-100k-sgdl", "ZJU-DAILY/SGDL", SGDL_COMMIT, `data/ml100k/${f}`, `ml-100k/sgdl/${f}`, h)),
  ...(
    [
      ["yelp.train.rating", null],
      ["yelp.valid.rating", "b15a9a833b842c66d442491c405c0ebdfc7c449bef118d9e2de2eaff698e1141"],
      ["yelp.test.negative", "9d3bca71dd3f54bcd5b1e287bdc09d3f6e7d6f8b03efd666d5be9674d6144851"],
    ] as const
  ).map(([f, h]) => rawGithub("yelp", "WenjieWWJ/DenoisingRec", TCE_COMMIT, `data/yelp/${f}`, `yelp/${f}`, h)),
  ...(
    [
      ["adressa.train.rating", null],
      ["adressa.valid.rating", "715c3949f8845f99f14964b26c735e8926b0fa5e32f7639edf3983905a971ef4"],
      ["adressa.test.negative", null],
    ] as const
  ).map(([f, h]) => rawGithub("adressa", "WenjieWWJ/DenoisingRec", TCE_COMMIT, `data/adressa/${f}`, `adressa/${f}`, h)),
  // T-CE's own test file uses "(u, i)\tneg..." lines; DeCA's copy of the test positives is plain "u\ti\t1".
  rawGithub("adressa", "wangyu-ustc/DeCA", DECA_COMMIT, "data/adressa/adressa.test.negative", "adressa/deca/adressa.test.negative",
    "69f4efed142360c45571eeafe6ef81634ac8aa9d4c150e3f4be63c55609c4435"),
];

/** The names `sgdl data fetch` accepts. */
export const FETCH_NAMES: readonly string[] = [...new Set(SOURCES.map((s) => s.dataset))];
