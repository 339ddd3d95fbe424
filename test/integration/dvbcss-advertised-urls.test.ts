/**
 * examples/dvb-css bound to a wildcard address: each CII client is told wcUrl and tsUrl on the
 * host it connected to (the Host header of its handshake), and the URLs it is told work.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createNetServer } from "node:net";
import { startDvbCssServer, PTS_SELECTOR, type DvbCssServer } from "../../examples/dvb-css/server.ts";
import { CiiClient } from "../../examples/dvb-css/cii-client.ts";
import { TsClient } from "../../examples/dvb-css/ts-client.ts";
import { JsonSocket } from "../../examples/dvb-css/ws-json.ts";
import { measureWallClock, parseUdpUrl } from "../../examples/dvb-css/wc-client.ts";
import { hostFromHeader } from "../../examples/dvb-css/advertised-host.ts";

async function withServer(host: string, fn: (dvb: DvbCssServer) => Promise<void>): Promise<void> {
  const dvb = await startDvbCssServer({ host, port: 0, wcPort: 0, logLevel: "silent" });
  try {
    await fn(dvb);
  } finally {
    await dvb.stop();
  }
}

/** Connect to CII via `urlHost`, check the two URLs name that host, and use both. */
async function checkVia(dvb: DvbCssServer, urlHost: string): Promise<void> {
  const cii = await CiiClient.connect(`ws://${urlHost}:${dvb.server.port}/cii`);
  try {
    const first = await cii.next();
    assert.match(first.wcUrl!, new RegExp(`^udp://${urlHost.replace(/[.[\]]/g, "\\$&")}:\\d+$`), `wcUrl via ${urlHost}`);
    assert.equal(first.tsUrl, `ws://${urlHost}:${dvb.server.port}/ts`, `tsUrl via ${urlHost}`);
    // The advertised URLs work: wall clock answers that pass the client's checks (from the
    // address and port asked), and a Control Timestamp.
    const { candidates, rejected } = await measureWallClock({ ...parseUdpUrl(first.wcUrl!), count: 2, timeoutMs: 2000 });
    assert.deepEqual(rejected, []);
    assert.equal(candidates.length, 2);
    const ts = await TsClient.connect(first.tsUrl!, { contentIdStem: "", timelineSelector: PTS_SELECTOR });
    assert.equal(typeof (await ts.next()).contentTime, "bigint");
    ts.close();
    // A later change is sent as a change only: the client's own URLs are not sent again.
    dvb.cii.update({ presentationStatus: "transitioning" });
    assert.deepEqual(await cii.next(), { presentationStatus: "transitioning" });
    dvb.cii.update({ presentationStatus: "okay" });
    assert.deepEqual(await cii.next(), { presentationStatus: "okay" });
  } finally {
    cii.close();
  }
}

async function ipv6LoopbackWorks(): Promise<boolean> {
  const probe = createNetServer();
  return new Promise((resolve) => {
    probe.once("error", () => resolve(false));
    probe.listen(0, "::1", () => probe.close(() => resolve(true)));
  });
}

test("bound to 0.0.0.0: a client via 127.0.0.1 and one via 127.0.0.2 each get wcUrl and tsUrl on the host they used", async () => {
  await withServer("0.0.0.0", async (dvb) => {
    await checkVia(dvb, "127.0.0.1");
    await checkVia(dvb, "127.0.0.2");
    // What the server prints for a wildcard bind is a loopback URL, never udp://0.0.0.0.
    assert.equal(dvb.urls.wc, `udp://127.0.0.1:${dvb.wc.port}`);
    assert.equal(dvb.urls.ts, `ws://127.0.0.1:${dvb.server.port}/ts`);
  });
});

test("bound to ::: a client via [::1] gets bracketed IPv6 URLs, one via 127.0.0.2 IPv4 ones", async (t) => {
  if (!(await ipv6LoopbackWorks())) {
    t.skip("no IPv6 loopback (::1) on this machine");
    return;
  }
  await withServer("::", async (dvb) => {
    await checkVia(dvb, "[::1]");
    await checkVia(dvb, "127.0.0.2");
  });
});

test("bound to one address: that address is advertised whatever the Host header says", async () => {
  await withServer("127.0.0.1", async (dvb) => {
    const socket = await JsonSocket.open(`ws://127.0.0.1:${dvb.server.port}/cii`, 5_000, { host: "example.com" });
    const first = await socket.next();
    assert.equal(first.wcUrl, `udp://127.0.0.1:${dvb.wc.port}`);
    assert.equal(first.tsUrl, `ws://127.0.0.1:${dvb.server.port}/ts`);
    socket.close();
  });
});

test("bound to 0.0.0.0: a DNS name in Host is advertised; a Host that is no host name is refused with 400", async () => {
  await withServer("0.0.0.0", async (dvb) => {
    const named = await JsonSocket.open(`ws://127.0.0.1:${dvb.server.port}/cii`, 5_000, { host: `LocalHost:${dvb.server.port}` });
    const first = await named.next();
    assert.equal(first.wcUrl, `udp://localhost:${dvb.wc.port}`, "localhost is 127.0.0.1: the loopback socket");
    assert.equal(first.tsUrl, `ws://localhost:${dvb.server.port}/ts`);
    named.close();
    // An address that is not this machine's (behind NAT, say) gets no wall clock socket: wcUrl null.
    const elsewhere = await JsonSocket.open(`ws://127.0.0.1:${dvb.server.port}/cii`, 5_000, { host: "192.0.2.1" });
    const told = await elsewhere.next();
    assert.equal(told.wcUrl, null);
    assert.equal(told.tsUrl, `ws://192.0.2.1:${dvb.server.port}/ts`);
    elsewhere.close();
    for (const host of ["evil.example/path", "a b", "[not-v6]:80", "under_score.example"]) {
      await assert.rejects(JsonSocket.open(`ws://127.0.0.1:${dvb.server.port}/cii`, 5_000, { host }), /400/, host);
    }
  });
});

test("hostFromHeader: IP literals and DNS names, with or without a port; anything else is undefined", () => {
  assert.equal(hostFromHeader("127.0.0.2:7681"), "127.0.0.2");
  assert.equal(hostFromHeader("[::1]:7681"), "[::1]");
  assert.equal(hostFromHeader("[FE80::1]"), "[fe80::1]");
  assert.equal(hostFromHeader("Living-Room.example."), "living-room.example.");
  for (const bad of [undefined, ["a", "b"], "", ":80", "::1", "[::1", "host:port", "x/y", "a@b", `${"a".repeat(64)}.example`]) {
    assert.equal(hostFromHeader(bad), undefined, String(bad));
  }
});

test("maxWcAddresses bounds the wall clock sockets a wildcard server opens for its clients; it is validated", async () => {
  const dvb = await startDvbCssServer({ host: "0.0.0.0", port: 0, wcPort: 0, logLevel: "silent", maxWcAddresses: 2 });
  try {
    // The loopback socket is the first of the two; 127.0.0.2 gets the second, 127.0.0.3 none.
    const via2 = await CiiClient.connect(`ws://127.0.0.2:${dvb.server.port}/cii`);
    assert.match((await via2.next()).wcUrl!, /^udp:\/\/127\.0\.0\.2:\d+$/);
    const via3 = await CiiClient.connect(`ws://127.0.0.3:${dvb.server.port}/cii`);
    const told = await via3.next();
    assert.equal(told.wcUrl, null);
    assert.equal(told.tsUrl, `ws://127.0.0.3:${dvb.server.port}/ts`);
    via2.close(); via3.close();
  } finally {
    await dvb.stop();
  }
  for (const bad of [0, 1.5, -1]) {
    await assert.rejects(startDvbCssServer({ host: "0.0.0.0", port: 0, wcPort: 0, logLevel: "silent", maxWcAddresses: bad }), /maxWcAddresses/);
  }
});
