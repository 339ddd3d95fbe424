/**
 * Judges an Autobahn|Testsuite report (the fuzzing client's index.json plus one JSON file per
 * case) against the documented facts in scripts/autobahn-cases.ts. Pure but for reading the
 * report files, so a test can judge a report made by hand.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NOTED_CASES, REFUSED_AT_DEFAULTS, compareCaseIds, type NotedCase } from "./autobahn-cases.ts";

/** One case as the suite's index.json reports it. */
export interface CaseResult {
  readonly behavior: string;
  readonly behaviorClose: string;
  readonly remoteCloseCode: number | null;
  readonly reportfile: string;
}

export interface Report {
  /** Case id → result, in the suite's order. */
  readonly cases: ReadonlyMap<string, CaseResult>;
  /** The case's description, from its own report file. */
  describe(id: string): string;
}

export interface Verdict {
  /** Empty when the run is as documented. */
  readonly problems: string[];
  /** One line: what the run showed. */
  readonly summary: string;
}

export function readReport(dir: string, agent: string): Report {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as Record<string, Record<string, CaseResult>>;
  const results = index[agent];
  if (results === undefined) throw new Error(`${join(dir, "index.json")} has no results for ${agent}`);
  const cases = new Map(Object.keys(results).sort(compareCaseIds).map((id) => [id, results[id]!]));
  return {
    cases,
    describe(id) {
      const file = cases.get(id)?.reportfile;
      if (file === undefined) return "";
      const details = JSON.parse(readFileSync(join(dir, file), "utf8")) as { description?: unknown };
      return typeof details.description === "string" ? details.description : "";
    },
  };
}

/**
 * The size of the largest message a case sends, from its description: "payload of length
 * 4 * 2**20 (4M)" (9.1–9.6; the parenthesis is sometimes wrong, the formula never) or
 * "1000 text messages of payload size 4096" (9.7, 9.8). undefined when it names no size.
 */
export function messageSize(description: string): number | undefined {
  const power = /payload of length (\d+) \* 2\*\*(\d+)/.exec(description);
  if (power) return Number(power[1]) * 2 ** Number(power[2]);
  const plain = /payload size (\d+)/.exec(description);
  return plain ? Number(plain[1]) : undefined;
}

export function countByBehavior(report: Report): string {
  const count = (behavior: string): number => [...report.cases.values()].filter((r) => r.behavior === behavior).length;
  return `OK=${count("OK")} NON-STRICT=${count("NON-STRICT")} INFO=${count("INFORMATIONAL")} FAILED=${count("FAILED")} UNIMPLEMENTED=${count("UNIMPLEMENTED")}`;
}

const GOOD_CLOSE = new Set(["OK", "INFORMATIONAL"]);

/**
 * The conformance run: every case OK (its close too), except exactly the documented NON-STRICT /
 * INFORMATIONAL cases, each with its documented verdict and close code. FAILED, UNIMPLEMENTED
 * (deflate not negotiated) or any other verdict is a problem.
 */
export function judgeConformance(report: Report, noted: readonly NotedCase[] = NOTED_CASES): Verdict {
  const problems: string[] = [];
  const byId = new Map(noted.map((c) => [c.id, c]));
  let undocumented = false; // a NON-STRICT / INFO grade the docs do not list, or one they list that moved
  for (const [id, result] of report.cases) {
    const expected = byId.get(id);
    if (expected === undefined) {
      if (result.behavior !== "OK" || !GOOD_CLOSE.has(result.behaviorClose)) {
        problems.push(`${id}: ${result.behavior}, close ${result.behaviorClose} (code ${result.remoteCloseCode}); expected OK`);
        undocumented ||= result.behavior === "NON-STRICT" || result.behavior === "INFORMATIONAL";
      }
    } else if (result.behavior !== expected.verdict || (expected.closeCode !== undefined && result.remoteCloseCode !== expected.closeCode)) {
      problems.push(`${id}: ${result.behavior}, close code ${result.remoteCloseCode}; documented as ${expected.verdict}, close code ${expected.closeCode ?? "any"}`);
      undocumented = true;
    }
  }
  if (undocumented) problems.push("if the new grade is right, say so in NOTED_CASES (scripts/autobahn-cases.ts) and run `npm run docs`");
  const ran = noted.filter((c) => report.cases.has(c.id)).length;
  return { problems, summary: `${countByBehavior(report)}; ${ran} NON-STRICT/INFO cases as documented` };
}

/**
 * The default-limits run: each case's message size from its report; exactly the cases above
 * `maxPayload` are closed with 1009, every other one is OK, and the refused set is the
 * documented one. A case with no recognisable size is a problem, never a guess.
 */
export function judgeDefaults(report: Report, maxPayload: number, documented: readonly string[] = REFUSED_AT_DEFAULTS): Verdict {
  const problems: string[] = [];
  const oversize: string[] = [];
  for (const [id, result] of report.cases) {
    const size = messageSize(report.describe(id));
    if (size === undefined) {
      problems.push(`${id}: its report names no message size; cannot tell whether the defaults should refuse it`);
    } else if (size > maxPayload) {
      oversize.push(id);
      if (result.remoteCloseCode !== 1009) problems.push(`${id}: a ${size}-byte message should be closed with 1009, got ${result.remoteCloseCode} (${result.behavior})`);
    } else if (result.behavior !== "OK" || result.behaviorClose !== "OK") {
      problems.push(`${id}: a ${size}-byte message is within maxPayload; expected OK, got ${result.behavior}, close ${result.behaviorClose} (code ${result.remoteCloseCode})`);
    }
  }
  const listed = documented.filter((id) => report.cases.has(id));
  if (oversize.join(" ") !== listed.join(" ")) {
    problems.push(`the cases above maxPayload (${oversize.join(" ") || "none"}) are not REFUSED_AT_DEFAULTS in scripts/autobahn-cases.ts (${listed.join(" ") || "none"}); fix it and run \`npm run docs\``);
  }
  if (oversize.length === 0) problems.push("no case sent a message above the default maxPayload: the run proves nothing");
  return { problems, summary: `${countByBehavior(report)}; ${oversize.length} cases above maxPayload ${maxPayload.toLocaleString("en-US")} B, closed with 1009` };
}
