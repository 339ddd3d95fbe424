/**
 * The judge CI uses on Autobahn|Testsuite reports (scripts/autobahn-judge.ts), on reports made
 * by hand: it must fail a run for each way the server or the docs can be wrong. The suite itself
 * runs from .ci/run (scripts/autobahn-conformance.ts), not here: it takes minutes.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { judgeConformance, judgeDefaults, messageSize, type CaseResult, type Report } from "../../scripts/autobahn-judge.ts";
import { NOTED_CASES, REFUSED_AT_DEFAULTS } from "../../scripts/autobahn-cases.ts";
import { LIMITS } from "../../src/limits.ts";

type Row = [id: string, behavior: string, closeCode: number | null, description?: string, behaviorClose?: string];

function report(rows: Row[]): Report {
  const cases = new Map<string, CaseResult>();
  const descriptions = new Map<string, string>();
  for (const [id, behavior, remoteCloseCode, description = "", behaviorClose] of rows) {
    cases.set(id, { behavior, behaviorClose: behaviorClose ?? (behavior === "FAILED" ? "FAILED" : "OK"), remoteCloseCode, reportfile: `${id}.json` });
    descriptions.set(id, description);
  }
  return { cases, describe: (id) => descriptions.get(id) ?? "" };
}

/** A conformance report as documented: two OK cases plus every noted case with its grade. */
function documentedRun(): Row[] {
  return [["1.1.1", "OK", 1000], ["12.1.1", "OK", 1000], ...NOTED_CASES.map((c): Row => [c.id, c.verdict, c.closeCode ?? null])];
}

function replaced(rows: Row[], row: Row): Row[] {
  return rows.map((r) => (r[0] === row[0] ? row : r));
}

describe("conformance run", () => {
  test("as documented: no problems", () => {
    assert.deepEqual(judgeConformance(report(documentedRun())).problems, []);
  });

  test("a FAILED case fails the run (e.g. 9.3.1 refused by a fragment limit)", () => {
    const { problems } = judgeConformance(report([...documentedRun(), ["9.3.1", "FAILED", 1008]]));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^9\.3\.1: FAILED/);
  });

  test("UNIMPLEMENTED (permessage-deflate not negotiated) fails the run", () => {
    const { problems } = judgeConformance(report(replaced(documentedRun(), ["12.1.1", "UNIMPLEMENTED", 1000, "", "UNIMPLEMENTED"])));
    assert.match(problems.join("\n"), /^12\.1\.1: UNIMPLEMENTED/m);
  });

  test("an OK case whose close was not OK fails the run", () => {
    const { problems } = judgeConformance(report(replaced(documentedRun(), ["1.1.1", "OK", 1006, "", "UNCLEAN"])));
    assert.match(problems.join("\n"), /^1\.1\.1: OK, close UNCLEAN/m);
  });

  test("a NON-STRICT case the docs do not list fails the run and points at the docs", () => {
    const { problems } = judgeConformance(report(replaced(documentedRun(), ["1.1.1", "NON-STRICT", 1000])));
    assert.match(problems.join("\n"), /^1\.1\.1: NON-STRICT/m);
    assert.match(problems.join("\n"), /NOTED_CASES/);
  });

  test("a documented case graded otherwise (now OK) fails the run: the docs would be wrong", () => {
    const noted = NOTED_CASES[0]!;
    const { problems } = judgeConformance(report(replaced(documentedRun(), [noted.id, "OK", noted.closeCode ?? null])));
    assert.match(problems.join("\n"), new RegExp(`^${noted.id.replaceAll(".", "\\.")}: OK, .*documented as ${noted.verdict}`, "m"));
  });

  test("a documented case with another close code fails the run", () => {
    const info = NOTED_CASES.find((c) => c.verdict === "INFORMATIONAL" && c.closeCode !== undefined)!;
    const { problems } = judgeConformance(report(replaced(documentedRun(), [info.id, info.verdict, info.closeCode === 1000 ? 1002 : 1000])));
    assert.match(problems.join("\n"), new RegExp(`documented as INFORMATIONAL, close code ${info.closeCode}`));
  });

  test("a documented case whose close code depends on timing passes with any code", () => {
    const loose = NOTED_CASES.find((c) => c.closeCode === undefined)!;
    for (const code of [1000, null]) {
      assert.deepEqual(judgeConformance(report(replaced(documentedRun(), [loose.id, loose.verdict, code]))).problems, []);
    }
  });
});

describe("defaults run", () => {
  const limit = LIMITS.maxPayload.default;
  const sized = (mib: number): string => `Send text message message with payload of length ${mib} * 2**20 (${mib}M).`;
  /** Every documented refusal (4 MiB) closed with 1009, plus a 1 MiB and a many-small-messages case OK. */
  function documentedRefusals(): Row[] {
    return [
      ["9.1.3", "OK", 1000, sized(1)],
      ...REFUSED_AT_DEFAULTS.map((id): Row => [id, "FAILED", 1009, sized(4)]),
      ["9.7.6", "OK", 1000, "Send 1000 text messages of payload size 4096 to measure implementation/network RTT"],
    ];
  }

  test("exactly the oversize cases closed with 1009: no problems", () => {
    const verdict = judgeDefaults(report(documentedRefusals()), limit);
    assert.deepEqual(verdict.problems, []);
    assert.match(verdict.summary, new RegExp(`${REFUSED_AT_DEFAULTS.length} cases above maxPayload`));
  });

  test("an oversize message that is echoed (not refused) fails the run", () => {
    const { problems } = judgeDefaults(report(replaced(documentedRefusals(), ["9.1.4", "OK", 1000, sized(4)])), limit);
    assert.match(problems.join("\n"), /^9\.1\.4: a 4194304-byte message should be closed with 1009, got 1000/m);
  });

  test("an oversize message refused with another code fails the run (e.g. 1008 from the fragment limit)", () => {
    const { problems } = judgeDefaults(report(replaced(documentedRefusals(), ["9.3.1", "FAILED", 1008, sized(4)])), limit);
    assert.match(problems.join("\n"), /^9\.3\.1: .* got 1008/m);
  });

  test("a message within maxPayload that is refused fails the run", () => {
    const { problems } = judgeDefaults(report(replaced(documentedRefusals(), ["9.1.3", "FAILED", 1009, sized(1)])), limit);
    assert.match(problems.join("\n"), /^9\.1\.3: a 1048576-byte message is within maxPayload/m);
  });

  test("a refused set other than the documented one fails the run", () => {
    const rows = replaced(documentedRefusals(), ["9.1.3", "FAILED", 1009, sized(1)]);
    const { problems } = judgeDefaults(report(rows), 512 * 1024); // now 9.1.3 is oversize too
    assert.match(problems.join("\n"), /are not REFUSED_AT_DEFAULTS/);
  });

  test("a case whose report names no size fails the run instead of being guessed", () => {
    const { problems } = judgeDefaults(report([...documentedRefusals(), ["9.9.9", "OK", 1000, "Send something"]]), limit);
    assert.match(problems.join("\n"), /^9\.9\.9: its report names no message size/m);
  });

  test("a run with nothing oversize proves nothing", () => {
    const { problems } = judgeDefaults(report([["9.1.1", "OK", 1000, "payload of length 64 * 2**10 (64k)"]]), limit, []);
    assert.match(problems.join("\n"), /proves nothing/);
  });
});

test("messageSize reads the suite's descriptions (the formula, not the sometimes wrong parenthesis)", () => {
  assert.equal(messageSize("Send fragmented text message message with message payload of length 4 * 2**20 (8M). Sent out in fragments of 4M."), 4 * 2 ** 20);
  assert.equal(messageSize("Send binary message message with payload of length 64 * 2**10 (64k)."), 64 * 1024);
  assert.equal(messageSize("Send 1000 binary messages of payload size 0 to measure implementation/network RTT"), 0);
  assert.equal(messageSize("Send close with close code 5000"), undefined);
});
