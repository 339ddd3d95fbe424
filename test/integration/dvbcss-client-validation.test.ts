/**
 * The DVB-CSS example clients (TypeScript in examples/dvb-css, Python in
 * test/fixtures/dvbcss_client.py) against fake servers that send bad data: a CII message of the
 * wrong shape, a wall clock reply from another port or with receive after transmit, a Control
 * Timestamp that is not JSON. Each client reports what is wrong, and does not crash.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createServer, type Server } from "switchboard";
import { CiiClient } from "../../examples/dvb-css/cii-client.ts";
import { TsClient } from "../../examples/dvb-css/ts-client.ts";
import { measureWallClock } from "../../examples/dvb-css/wc-client.ts";
import { WcType, packWc, unpackWc } from "../../examples/dvb-css/wc-message.ts";
import { CiiMessageError } from "../../examples/dvb-css/cii.ts";
import { TsMessageError } from "../../examples/dvb-css/ts-messages.ts";
import { findBinary } from "../helpers/binaries.ts";
import { within } from "../helpers/net-clients.ts";

const PTS = "urn:dvb:css:timeline:pts";
const GOOD_CT = JSON.stringify({ contentTime: "10", wallClockTime: "20", timelineSpeedMultiplier: 1 });

/** A fake CSS-CII / CSS-TS server: /cii sends `cii` on open; /ts answers setup-data with `ts`. */
async function fakeWsServer(cii: string[], ts: string[]): Promise<Server> {
  const server = createServer({ host: "127.0.0.1", port: 0, logger: { level: "silent" } });
  server.endpoint("/cii", { open: (conn) => { for (const m of cii) conn.send(m); } });
  server.endpoint("/ts", { message: (conn) => { for (const m of ts) conn.send(m); } });
  await server.start();
  return server;
}

type Misbehaviour = "other-port" | "receive-after-transmit";

/**
 * A fake CSS-WC server: request number n (from 1) gets one answer per entry of `answers(n)`,
 * in that way ("good": correctly; "other-port": correct, but sent from another socket).
 */
async function fakeWcServer(answers: (n: number) => Array<Misbehaviour | "good">): Promise<{ port: number; close(): void }> {
  const bind = async (): Promise<Socket> => {
    const socket = createSocket("udp4");
    socket.on("error", (err) => { throw err; });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return socket;
  };
  const main = await bind();
  const other = await bind();
  let requests = 0;
  main.on("message", (data, from) => {
    const request = unpackWc(data);
    const now = process.hrtime.bigint();
    for (const way of answers(++requests)) {
      const reply = { ...request, type: WcType.Response, receive: now, transmit: way === "receive-after-transmit" ? now - 1_000n : now + 1_000n };
      (way === "other-port" ? other : main).send(packWc(reply), from.port, from.address);
    }
  });
  return { port: main.address().port, close: () => { main.close(); other.close(); } };
}

test("CII client: a message that is not JSON, not an object, or has a property of the wrong shape is reported; the state is kept", async () => {
  const bad: Array<[string, RegExp]> = [
    ["not json", /CII message: not JSON/],
    ["[1,2]", /not a JSON object/],
    [JSON.stringify({ contentIdStatus: "maybe" }), /contentIdStatus/],
    [JSON.stringify({ wcUrl: "http://127.0.0.1:6677" }), /wcUrl: must be udp:\/\/<host>:<port>/],
    [JSON.stringify({ tsUrl: 42 }), /tsUrl/],
    [JSON.stringify({ timelines: [{ timelineSelector: PTS, timelineProperties: { unitsPerTick: "1", unitsPerSecond: 90000 } }] }), /timelines/],
    [JSON.stringify({ presentationStatus: "okay  extra" }), /presentationStatus/],
    [JSON.stringify({ private: [{ notype: 1 }] }), /private/],
  ];
  const server = await fakeWsServer([JSON.stringify({ protocolVersion: "1.1", contentId: "dvb://1" }), ...bad.map(([m]) => m),
    JSON.stringify({ contentId: "dvb://2", contentIdStatus: "final", futureProperty: true })], []);
  try {
    const client = await CiiClient.connect(server.url("/cii"));
    assert.deepEqual(await client.next(), { protocolVersion: "1.1", contentId: "dvb://1" });
    for (const [message, error] of bad) {
      await assert.rejects(client.next(), (err: unknown) => err instanceof CiiMessageError && error.test(err.message), message);
      assert.equal(client.state.contentId, "dvb://1", "a bad message leaves the state alone");
    }
    // Still connected; an unknown property (a later protocol version's) is left out, not an error.
    assert.deepEqual(await client.next(), { contentId: "dvb://2", contentIdStatus: "final" });
    client.close();
  } finally {
    await server.stop();
  }
});

test("TS client: a Control Timestamp that is not JSON is reported as not JSON; a bad shape by its field; good ones still arrive", async () => {
  const server = await fakeWsServer([], ["{contentTime: 1", GOOD_CT, JSON.stringify({ contentTime: 5, wallClockTime: "1", timelineSpeedMultiplier: 1 })]);
  try {
    const client = await TsClient.connect(server.url("/ts"), { contentIdStem: "", timelineSelector: PTS });
    await assert.rejects(client.next(), (err: unknown) => err instanceof TsMessageError && err.message === "Control Timestamp: not JSON");
    assert.deepEqual(await client.next(), { contentTime: 10n, wallClockTime: 20n, timelineSpeedMultiplier: 1 });
    await assert.rejects(client.next(), /contentTime must be an integer string or null/);
    client.close();
  } finally {
    await server.stop();
  }
});

test("WC client: a reply from another port, or with receive after transmit, is refused and reported; a good one is still used", async () => {
  for (const way of ["other-port", "receive-after-transmit"] as const) {
    const fake = await fakeWcServer(() => [way]);
    try {
      const measuring = measureWallClock({ host: "127.0.0.1", port: fake.port, count: 1, timeoutMs: 300 });
      const expected = way === "other-port" ? /reply from 127\.0\.0\.1:\d+, not from the server 127\.0\.0\.1:\d+/ : /receive timevalue \d+ is after transmit timevalue \d+/;
      await assert.rejects(within(measuring, way), (err: Error) => /no usable response/.test(err.message) && expected.test(err.message), way);
    } finally {
      fake.close();
    }
  }
  // Bad replies first, then a good one to the same request: the good one is the candidate.
  const fake = await fakeWcServer(() => ["other-port", "receive-after-transmit", "good"]);
  try {
    const { candidates, rejected } = await within(measureWallClock({ host: "127.0.0.1", port: fake.port, count: 1, timeoutMs: 2000 }), "measure");
    assert.equal(candidates.length, 1);
    assert.equal(rejected.length, 2);
    assert.match(rejected[0]!, /not from the server/);
    assert.match(rejected[1]!, /after transmit/);
  } finally {
    fake.close();
  }
});

const SCRIPT = fileURLToPath(new URL("../fixtures/dvbcss_client.py", import.meta.url));

function pythonWithWebsockets(): string | undefined {
  for (const candidate of ["/usr/bin/python3", findBinary("python3")]) {
    if (candidate === undefined) continue;
    if (spawnSync(candidate, ["-c", "import websockets"], { stdio: "ignore" }).status === 0) return candidate;
  }
  return undefined;
}

function runPython(python: string, args: string[]): Promise<{ errors: string[]; wc: unknown; cii: unknown; ct: unknown }> {
  return within(new Promise((resolve, reject) => {
    execFile(python, [SCRIPT, ...args], { timeout: 15_000 }, (err, out, errOut) => {
      if (err) reject(new Error(`${err.message}\n${errOut}`));
      else resolve(JSON.parse(out) as { errors: string[]; wc: unknown; cii: unknown; ct: unknown });
    });
  }), "python client", 20_000);
}

test("Python client: reports a WC reply from another port, receive after transmit, a bad CII shape and a non-JSON Control Timestamp", async (t) => {
  const python = pythonWithWebsockets();
  if (python === undefined) {
    t.skip("python3 websockets not found: apt-get install -y python3-websockets");
    return;
  }
  const cases: Array<[string, string, RegExp]> = [
    [JSON.stringify({ protocolVersion: "1.1", wcUrl: "udp://127.0.0.1" }), "not json", /^ct: not JSON$/],
    [JSON.stringify({ contentIdStatus: "maybe" }), JSON.stringify({ contentTime: 1, wallClockTime: "1", timelineSpeedMultiplier: 1 }), /^ct: contentTime must be an integer string or null$/],
  ];
  for (const [index, [cii, ct, ctError]] of cases.entries()) {
    // Request 1 is answered from another port, request 2 with receive after transmit.
    const wc = await fakeWcServer((n) => (n === 1 ? ["other-port"] : ["receive-after-transmit"]));
    const server = await fakeWsServer([cii], [ct]);
    try {
      const seen = await runPython(python, ["--count", "2", "--timeout", "0.3", "127.0.0.1", String(wc.port), server.url("/cii"), server.url("/ts")]);
      const [e1, e2, e3, e4, ciiError, ctErr, ...rest] = seen.errors;
      assert.match(e1!, /^wc: reply from 127\.0\.0\.1:\d+, not from the server 127\.0\.0\.1:\d+$/);
      assert.equal(e2, "wc: no usable reply to request 1");
      assert.match(e3!, /^wc: receive timevalue \d+ is after transmit timevalue \d+$/);
      assert.equal(e4, "wc: no usable reply to request 2");
      assert.match(ciiError!, index === 0 ? /^cii: wcUrl: must be udp:\/\/<host>:<port> or null$/ : /^cii: contentIdStatus: must be "partial" or "final" or null$/);
      assert.match(ctErr!, ctError);
      assert.deepEqual(rest, []);
      assert.equal(seen.wc, null, "no usable wall clock reply");
    } finally {
      wc.close();
      await server.stop();
    }
  }
});
