/**
 * The facts about Switchboard's RFC 6455 conformance (Autobahn|Testsuite) in one place: the
 * settings of each run, and every case the suite grades other than OK, with the reason.
 *
 * Two readers keep it honest: scripts/reference.ts renders docs/reference.md's "Conformance"
 * section from it, and scripts/autobahn-conformance.ts (run by CI) fails when the suite
 * measures a different set of NON-STRICT / INFORMATIONAL cases, other close codes for them,
 * or a different set of cases refused at the default limits. A change in ws or in our limits
 * that moves a case therefore fails CI until this file and the docs say so.
 */
import type { EndpointLimits } from "../src/options.ts";

/** Case selections (the suite's `cases` patterns) a run may use. */
export const CASE_SETS = {
  /** All 517 cases, including every permessage-deflate parameter combination (12.*, 13.*). */
  full: ["*"],
  /** Framing, pings, fragmentation, UTF-8, close handling, limits, and the deflate basics. */
  quick: ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*", "12.1.*", "13.1.*"],
  /** The limits group: every message size from 64 KiB to 16 MiB, whole, fragmented, chopped. */
  limits: ["9.*"],
} as const;

export type CaseSetName = keyof typeof CASE_SETS;

export interface RunSpec {
  /** How the echo endpoint is configured (scripts/autobahn-echo.ts). */
  readonly limits: EndpointLimits;
  /** The cases CI runs (a local run may pass `--cases quick`). */
  readonly cases: CaseSetName;
  /** What must hold, for the docs. */
  readonly expects: string;
}

export const RUNS = {
  /** Limits raised to what the suite sends, compression on: every case must pass. */
  conformance: {
    limits: { maxPayload: 16 * 1024 * 1024, maxFragments: 0, perMessageDeflate: true },
    cases: "full",
    expects: "every case OK (its closing handshake too), except exactly the NON-STRICT and INFORMATIONAL cases below, with the close codes given; nothing FAILED or UNIMPLEMENTED",
  },
  /** Switchboard's defaults: exactly the messages above `maxPayload` are refused. */
  defaults: {
    limits: {},
    cases: "limits",
    expects: "exactly the cases whose message is larger than the default `maxPayload` (from each case's report) are closed with 1009, and they are the ones listed below; every other case OK",
  },
} as const satisfies Record<string, RunSpec>;

export type RunName = keyof typeof RUNS;

export type NotedVerdict = "NON-STRICT" | "INFORMATIONAL";

export interface NotedCase {
  readonly id: string;
  readonly verdict: NotedVerdict;
  /** The close code the server sent in that case (checked too); absent where it depends on timing. */
  readonly closeCode?: number;
  readonly why: string;
}

/** Every case of the conformance run that is not graded OK. Anything else must be OK. */
export const NOTED_CASES: readonly NotedCase[] = [
  ...(["6.4.1", "6.4.2"] as const).map((id) => ({
    id, verdict: "NON-STRICT" as const, closeCode: 1007,
    why: "a text message in 3 fragments whose 2nd fragment makes it invalid UTF-8: ws checks UTF-8 when the whole message has arrived, so the connection is failed with 1007 after the 3rd fragment instead of at the first invalid byte (RFC 6455 §8.1 requires the failure, not the moment)",
  })),
  ...(["6.4.3", "6.4.4"] as const).map((id) => ({
    id, verdict: "NON-STRICT" as const, closeCode: 1007,
    why: "the same invalid UTF-8 as 3 chops of one unfragmented frame: failed with 1007 once the frame is complete, not at the first invalid byte",
  })),
  {
    // No close code pinned: one full run on a loaded machine saw the client give up on the
    // closing handshake (no code) while the 256 KiB echo was still arriving; alone it is 1000.
    id: "7.1.6", verdict: "INFORMATIONAL",
    why: "a 256 KiB message, a small one, a close and a ping back to back: the suite grades it INFORMATIONAL whatever happens (RFC 6455 leaves open whether messages sent just before a close are answered). Switchboard echoes both messages, then the close with 1000; on a loaded machine the suite's client may time the closing handshake out first (no close code), which is why the code is not checked",
  },
  {
    id: "7.13.1", verdict: "INFORMATIONAL", closeCode: 1002,
    why: "a close frame with code 5000, outside the ranges RFC 6455 §7.4 defines: the answer is undefined by the spec; Switchboard (ws) fails the connection with 1002",
  },
  {
    id: "7.13.2", verdict: "INFORMATIONAL", closeCode: 1002,
    why: "the same with close code 65535: failed with 1002",
  },
];

/**
 * The cases of the `limits` set that the DEFAULT limits refuse with 1009, as measured. The CI
 * run derives this set afresh from each case's report (its message size against the default
 * `maxPayload`) and fails if either the server's answers or this list disagree with it.
 */
export const REFUSED_AT_DEFAULTS: readonly string[] = [
  "9.1.4", "9.1.5", "9.1.6", // one text message of 4, 8, 16 MiB
  "9.2.4", "9.2.5", "9.2.6", // one binary message of 4, 8, 16 MiB
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `9.3.${n}`), // 4 MiB of text in fragments of 64 B … 4 MiB
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `9.4.${n}`), // 4 MiB of binary in fragments of 64 B … 4 MiB
];

/** Orders case ids the way the suite does: 9.3.10 after 9.3.9. */
export function compareCaseIds(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}
