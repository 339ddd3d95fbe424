/**
 * Interop: an independent Python DVB-CSS client (test/fixtures/dvbcss_client.py, pydvbcss's
 * struct layout for CSS-WC, plain JSON over websockets for CII and TS) against the example server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startDvbCssServer, PTS_SELECTOR } from "../../examples/dvb-css/server.ts";
import { findBinary } from "../helpers/binaries.ts";
import { within } from "../helpers/net-clients.ts";

const SCRIPT = fileURLToPath(new URL("../fixtures/dvbcss_client.py", import.meta.url));
const OFFSET_NS = 5_000_000_000;

/** A python3 that has the websockets module (Debian's first: CI installs python3-websockets). */
function pythonWithWebsockets(): string | undefined {
  for (const candidate of ["/usr/bin/python3", findBinary("python3")]) {
    if (candidate === undefined) continue;
    if (spawnSync(candidate, ["-c", "import websockets"], { stdio: "ignore" }).status === 0) return candidate;
  }
  return undefined;
}

test("an independent Python client: CSS-WC bytes and offset, CII first message, TS Control Timestamp", async (t) => {
  const python = pythonWithWebsockets();
  if (python === undefined) {
    t.skip("python3 websockets not found: apt-get install -y python3-websockets");
    return;
  }
  const dvb = await startDvbCssServer({ port: 0, wcPort: 0, wallClockOffsetNs: BigInt(OFFSET_NS), logLevel: "silent" });
  try {
    const stdout = await within(new Promise<string>((resolve, reject) => {
      execFile(python, [SCRIPT, "127.0.0.1", String(dvb.wc.port), dvb.urls.cii, dvb.urls.ts], { timeout: 15_000 }, (err, out, errOut) => {
        if (err) reject(new Error(`${err.message}\n${errOut}`));
        else resolve(out);
      });
    }), "python client", 20_000);
    const seen = JSON.parse(stdout) as {
      wc: { version: number; type: number; reserved: number; maxFreqError: number; offset: number; ordered: boolean };
      cii: Record<string, unknown>;
      ct: Record<string, unknown>;
      errors: string[];
    };
    assert.deepEqual(seen.errors, [], "the client found nothing wrong");
    assert.equal(seen.wc.version, 0);
    assert.equal(seen.wc.type, 1);
    assert.equal(seen.wc.reserved, 0);
    assert.equal(seen.wc.maxFreqError, 500 * 256);
    assert.ok(seen.wc.ordered, "receive <= transmit");
    // Python's time.monotonic_ns() and Node's hrtime read the same CLOCK_MONOTONIC.
    assert.ok(Math.abs(seen.wc.offset - OFFSET_NS) < 1_000_000, `offset ${seen.wc.offset}`);
    assert.equal(seen.cii.protocolVersion, "1.1");
    assert.equal(seen.cii.tsUrl, dvb.urls.ts);
    assert.equal(seen.cii.wcUrl, dvb.urls.wc);
    assert.deepEqual((seen.cii.timelines as Array<{ timelineSelector: string }>).map((x) => x.timelineSelector), [PTS_SELECTOR]);
    assert.deepEqual(Object.keys(seen.ct).sort(), ["contentTime", "timelineSpeedMultiplier", "wallClockTime"]);
    assert.match(seen.ct.contentTime as string, /^\d+$/);
    assert.match(seen.ct.wallClockTime as string, /^\d+$/);
    assert.equal(seen.ct.timelineSpeedMultiplier, 1);
  } finally {
    await dvb.stop();
  }
});
