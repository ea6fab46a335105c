// bench/nab/score: score a detector's NAB results folder with NAB v1.1's rules
// (scorer.ts) and print it beside the published scoreboard.
//
//   node bench/nab/score.ts [--detector numenta] [--results-dir DIR]
//                           [--nab-dir DIR] [--optimise] [--json] [--help]
//
// Thresholds come from config/thresholds.json unless --optimise, which runs
// NAB's optimizer (the best corpus-wide threshold per profile) and prints
// both. The NAB folder defaults to $NAB_DIR, then ../shared/data/nab beside the project.
import { parseArgs } from "node:util";
import { isUmbraError, UmbraError } from "../../src/shared/errors.ts";
import {
  checkNabDir,
  NAB_DIR_DEFAULT,
  readDetectorResults,
  readProfiles,
  readPublished,
  readThresholds,
  readWindows,
} from "./data.ts";
import { scoreDetector, type DetectorScore } from "./scorer.ts";

const USAGE = `usage: node bench/nab/score.ts [options]
  --detector NAME     detector whose results to score (default: numenta)
  --results-dir DIR   its results folder (default: <nab-dir>/results/<detector>)
  --nab-dir DIR       NAB v1.1 folder (default: $NAB_DIR or ${NAB_DIR_DEFAULT})
  --optimise          also run NAB's threshold optimizer and score at its pick
  --json              print one JSON object instead of tables
  -h, --help          this text
`;

/** Scoreboard rows shown beside ours: final_results.json key → display name. */
const SCOREBOARD: readonly (readonly [string, string])[] = [
  ["perfect", "Perfect"],
  ["ARTime", "ARTime"],
  ["numenta", "Numenta HTM"],
  ["htmjava", "HTM Java"],
  ["numentaTM", "Numenta TM"],
  ["contextOSE", "CAD OSE"],
  ["randomCutForest", "Random Cut Forest"],
  ["twitterADVec", "Twitter ADVec"],
  ["windowedGaussian", "Windowed Gaussian"],
  ["random", "Random"],
  ["null", "Null"],
];

type ProfileRun = {
  profile: string;
  /** Scored at the threshold from config/thresholds.json (absent if it has none for this detector). */
  atPublishedThreshold?: DetectorScore;
  /** Scored at the optimizer's pick (with --optimise). */
  optimised?: DetectorScore;
  /** The published normalized score, if the detector is on the scoreboard. */
  published?: number;
};

function summary(s: DetectorScore | undefined) {
  if (s === undefined) return undefined;
  const { raw, normalized, threshold, nullRaw, perfectRaw, tp, fp, fn } = s;
  return { threshold, raw, normalized, nullRaw, perfectRaw, tp, fp, fn };
}

function fmt(x: number | undefined, digits = 2): string {
  return x === undefined ? "-" : x.toFixed(digits);
}

function main(): number {
  const { values } = parseArgs({
    options: {
      detector: { type: "string", default: "numenta" },
      "results-dir": { type: "string" },
      "nab-dir": { type: "string" },
      optimise: { type: "boolean", default: false },
      optimize: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const nabDir = values["nab-dir"] ?? process.env["NAB_DIR"] ?? NAB_DIR_DEFAULT;
  const detector = values.detector;
  const optimise = values.optimise || values.optimize;
  checkNabDir(nabDir);

  const windows = readWindows(nabDir);
  const profiles = readProfiles(nabDir);
  const thresholds = readThresholds(nabDir)[detector];
  const published = readPublished(nabDir);
  if (thresholds === undefined && !optimise) {
    throw new UmbraError("usage", `config/thresholds.json has no thresholds for "${detector}": pass --optimise`, { detector });
  }
  const files = readDetectorResults(nabDir, detector, values["results-dir"]);
  const unlabelled = files.filter((f) => !Object.hasOwn(windows, f.name)).map((f) => f.name);
  if (unlabelled.length > 0) {
    throw new UmbraError("config_unreadable", `no windows in labels/combined_windows.json for ${unlabelled.join(", ")}`, { unlabelled });
  }

  const runs: ProfileRun[] = Object.entries(profiles).map(([profile, cost]) => {
    const t = thresholds?.[profile]?.threshold;
    return {
      profile,
      atPublishedThreshold: t === undefined ? undefined : scoreDetector(files, windows, cost, t),
      optimised: optimise ? scoreDetector(files, windows, cost) : undefined,
      published: published[detector]?.[profile],
    };
  });

  if (values.json) {
    const out = {
      nabDir,
      detector,
      files: files.length,
      profiles: runs.map((r) => ({
        profile: r.profile,
        published: r.published,
        atPublishedThreshold: summary(r.atPublishedThreshold),
        optimised: summary(r.optimised),
      })),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }

  const lines: string[] = [];
  lines.push(`NAB v1.1 scores for "${detector}" (${files.length} files, ${nabDir})`, "");
  lines.push(["profile".padEnd(20), "threshold".padStart(12), "raw".padStart(10), "score".padStart(8), "published".padStart(10), "diff".padStart(7), "TP win".padStart(7), "FN win".padStart(7), "FP rows".padStart(8)].join(" "));
  const row = (label: string, s: DetectorScore, pub: number | undefined) =>
    [
      label.padEnd(20),
      s.threshold.toFixed(6).padStart(12),
      s.raw.toFixed(3).padStart(10),
      s.normalized.toFixed(2).padStart(8),
      fmt(pub).padStart(10),
      (pub === undefined ? "-" : (s.normalized - pub).toFixed(2)).padStart(7),
      String(s.tp).padStart(7),
      String(s.fn).padStart(7),
      String(s.fp).padStart(8),
    ].join(" ");
  for (const r of runs) {
    if (r.atPublishedThreshold !== undefined) lines.push(row(r.profile, r.atPublishedThreshold, r.published));
  }
  if (optimise) {
    lines.push("", "optimiser (NAB's sweep: the threshold maximising the corpus raw score):");
    for (const r of runs) if (r.optimised !== undefined) lines.push(row(r.profile, r.optimised, r.published));
  }

  const names = runs.map((r) => r.profile);
  lines.push("", "published scoreboard (results/final_results.json):");
  lines.push(["detector".padEnd(20), ...names.map((n) => n.padStart(20))].join(" "));
  for (const [key, label] of SCOREBOARD) {
    const byProfile = key === "perfect" ? Object.fromEntries(names.map((n) => [n, 100])) : published[key];
    if (byProfile === undefined) continue;
    lines.push([label.padEnd(20), ...names.map((n) => fmt(byProfile[n]).padStart(20))].join(" "));
  }
  const ours = runs.map((r) => (r.optimised ?? r.atPublishedThreshold)?.normalized);
  lines.push([`this run: ${detector}`.padEnd(20), ...ours.map((x) => fmt(x).padStart(20))].join(" "));
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  if (!isUmbraError(e)) throw e;
  process.stderr.write(`bench:nab: ${e.message}\n`);
  process.exitCode = e.code === "usage" ? 2 : 1;
}
