/**
 * examples/dvb-css: the example clients against the example server, on loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { changeContent, startDvbCssServer, PTS_SELECTOR, type DvbCssServer } from "../../examples/dvb-css/server.ts";
import { measureWallClock } from "../../examples/dvb-css/wc-client.ts";
import { CiiClient } from "../../examples/dvb-css/cii-client.ts";
import { TsClient } from "../../examples/dvb-css/ts-client.ts";
import { JsonSocket } from "../../examples/dvb-css/ws-json.ts";
import { WcType, packWc, unpackWc } from "../../examples/dvb-css/wc-message.ts";
import { udpExchange, within } from "../helpers/net-clients.ts";

const OFFSET_NS = 5_000_000_000n; // the server's wall clock runs 5 s ahead of the raw monotonic clock

async function withServer(fn: (dvb: DvbCssServer) => Promise<void>, options: { followUp?: boolean } = {}): Promise<void> {
  const dvb = await startDvbCssServer({ port: 0, wcPort: 0, wallClockOffsetNs: OFFSET_NS, logLevel: "silent", ...options });
  try {
    await fn(dvb);
  } finally {
    await dvb.stop();
  }
}

function request(originate = process.hrtime.bigint()): Buffer {
  return packWc({ type: WcType.Request, precision: 0, maxFreqError: 0, originate, receive: 0n, transmit: 0n });
}

for (const followUp of [false, true]) {
  test(`CSS-WC: the example client measures the server's offset within 1 ms on loopback (follow-up ${followUp})`, async () => {
    await withServer(async (dvb) => {
      const { best, candidates } = await measureWallClock({ host: "127.0.0.1", port: dvb.wc.port, count: 8, timeoutMs: 2000 });
      assert.equal(candidates.length, 8);
      const errorNs = best.offsetNs - OFFSET_NS;
      assert.ok(errorNs < 1_000_000n && errorNs > -1_000_000n, `offset error ${errorNs} ns`);
      assert.ok(best.dispersionNs > 0n);
      assert.equal(best.followUp, followUp);
    }, { followUp });
  });
}

test("CSS-WC: a response echoes the originate timevalue bytes exactly, with receive <= transmit", async () => {
  await withServer(async (dvb) => {
    const req = request();
    req.writeUInt32BE(1_500_000_000, 12); // nanoseconds word >= 10^9: an opaque tag to the server
    const [reply] = await udpExchange(dvb.wc.port, req);
    assert.equal(reply!.length, 32);
    assert.ok(reply!.subarray(8, 16).equals(req.subarray(8, 16)));
    const response = unpackWc(reply!);
    assert.equal(response.type, WcType.Response);
    assert.ok(response.receive <= response.transmit);
    assert.equal(reply![3], 0, "reserved byte");
  });
});

test("CSS-WC: wrong size, wrong version and non-request datagrams are ignored and counted", async () => {
  await withServer(async (dvb) => {
    const bad: Buffer[] = [];
    bad.push(request().subarray(0, 31)); // short
    bad.push(Buffer.concat([request(), Buffer.alloc(1)])); // 33 bytes
    const v1 = request(); v1[0] = 1; bad.push(v1); // version 1
    const response = request(); response[1] = WcType.Response; bad.push(response); // not a request
    const followUp = request(); followUp[1] = WcType.FollowUp; bad.push(followUp);
    const unknownType = request(); unknownType[1] = 9; bad.push(unknownType);
    const socket = createSocket("udp4");
    const replies: Buffer[] = [];
    socket.on("message", (m) => replies.push(m));
    try {
      for (const datagram of bad) socket.send(datagram, dvb.wc.port, "127.0.0.1");
      socket.send(Buffer.alloc(100), dvb.wc.port, "127.0.0.1"); // over maxDatagramBytes (64)
      // Then a good request; UDP on loopback keeps order, so its reply comes after the drops.
      const good = request();
      const answered = new Promise<void>((resolve) => socket.on("message", (m) => { if (m.subarray(8, 16).equals(good.subarray(8, 16))) resolve(); }));
      socket.send(good, dvb.wc.port, "127.0.0.1");
      await within(answered, "reply to the good request");
    } finally {
      socket.close();
    }
    assert.equal(replies.length, 1, "only the good request was answered");
    const { dropped } = dvb.wc.stats();
    assert.equal(dropped.malformed, bad.length);
    assert.equal(dropped.oversize, 1);
    assert.equal(dropped.handlerError, 0);
  });
});

test("CSS-CII: full state to a new client, then only changed properties to all clients", async () => {
  await withServer(async (dvb) => {
    const a = await CiiClient.connect(dvb.urls.cii);
    const first = await a.next();
    assert.equal(first.protocolVersion, "1.1");
    assert.equal(first.contentIdStatus, "final");
    assert.equal(first.wcUrl, dvb.urls.wc);
    assert.equal(first.tsUrl, dvb.urls.ts);
    assert.equal(first.mrsUrl, null);
    assert.deepEqual(first.timelines, [{ timelineSelector: PTS_SELECTOR, timelineProperties: { unitsPerTick: 1, unitsPerSecond: 90000 } }]);
    const b = await CiiClient.connect(dvb.urls.cii);
    assert.deepEqual(await b.next(), first);

    dvb.cii.update({ presentationStatus: "transitioning" });
    assert.deepEqual(await a.next(), { presentationStatus: "transitioning" });
    assert.deepEqual(await b.next(), { presentationStatus: "transitioning" });

    dvb.cii.update({ presentationStatus: "transitioning" }); // no change: nothing is sent
    changeContent(dvb, "dvb://233a.1004.1080");
    // contentId always comes with contentIdStatus; the unchanged presentationStatus is not re-sent.
    assert.deepEqual(await a.next(), { contentId: "dvb://233a.1004.1080", contentIdStatus: "partial" });
    assert.deepEqual(await b.next(), { contentId: "dvb://233a.1004.1080", contentIdStatus: "partial" });

    dvb.cii.update({ contentIdStatus: "final", mrsUrl: "http://mrs.example/" });
    assert.deepEqual(await a.next(), { mrsUrl: "http://mrs.example/", contentIdStatus: "final" });
    assert.equal(a.state.contentId, "dvb://233a.1004.1080");
    assert.equal(a.state.presentationStatus, "transitioning");

    // Messages from the client are ignored: the connection stays and still gets updates.
    a.socket.send("anything at all");
    dvb.cii.update({ presentationStatus: "okay" });
    assert.deepEqual(await a.next(), { presentationStatus: "okay" });
    assert.throws(() => dvb.cii.update({ contentIdStatus: "maybe" as never }), /contentIdStatus/);
    a.close(); b.close();
  });
});

test("CSS-TS: Control Timestamp on setup, new ones when the timeline changes, none when it does not", async () => {
  await withServer(async (dvb) => {
    const client = await TsClient.connect(dvb.urls.ts, { contentIdStem: "dvb://233a", timelineSelector: PTS_SELECTOR });
    const first = await client.next();
    assert.equal(first.timelineSpeedMultiplier, 1);
    assert.equal(typeof first.contentTime, "bigint");
    // 64-bit values travel as decimal strings.
    dvb.pts.setSpeed(0);
    const raw = await client.socket.next<Record<string, unknown>>();
    assert.equal(typeof raw.contentTime, "string");
    assert.equal(typeof raw.wallClockTime, "string");
    assert.equal(raw.timelineSpeedMultiplier, 0);
    assert.ok(BigInt(raw.wallClockTime as string) > first.wallClockTime);

    dvb.ts.updateAll(); // nothing changed: nothing is sent
    dvb.pts.seek(900_000n);
    const seeked = await client.next();
    assert.equal(seeked.contentTime, 900_000n);
    assert.equal(seeked.timelineSpeedMultiplier, 0);
    assert.equal(client.socket.queued, 0);

    dvb.ts.contentId = "http://elsewhere/content"; // stem no longer matches: unavailable
    const gone = await client.next();
    assert.equal(gone.contentTime, null);
    assert.equal(gone.timelineSpeedMultiplier, null);
    client.close();
  });
});

test("CSS-TS: unknown stem or selector gives an unavailable timeline; it becomes available when the content matches", async () => {
  await withServer(async (dvb) => {
    const other = await TsClient.connect(dvb.urls.ts, { contentIdStem: "dvb://ffff", timelineSelector: PTS_SELECTOR });
    const noSelector = await TsClient.connect(dvb.urls.ts, { contentIdStem: "", timelineSelector: "urn:dvb:css:timeline:temi:1:1" });
    assert.equal((await other.next()).contentTime, null);
    assert.equal((await noSelector.next()).contentTime, null);
    changeContent(dvb, "dvb://ffff.0001");
    const available = await other.next();
    assert.equal(available.contentTime, 0n);
    assert.equal(available.timelineSpeedMultiplier, 1);
    dvb.ts.detach(dvb.pts);
    assert.equal((await other.next()).contentTime, null);
    other.close(); noSelector.close();
  });
});

test("CSS-TS: bad setup-data closes the connection (1008 bad JSON or fields, 1003 binary); bad later messages are ignored", async () => {
  await withServer(async (dvb) => {
    const cases: Array<[string | Buffer, number]> = [
      ["not json", 1008],
      ["[1,2]", 1008],
      [JSON.stringify({ timelineSelector: PTS_SELECTOR }), 1008],
      [JSON.stringify({ contentIdStem: "dvb://", timelineSelector: 42 }), 1008],
      [JSON.stringify({ contentIdStem: "dvb://", timelineSelector: "" }), 1008],
      [JSON.stringify({ contentIdStem: "dvb://", timelineSelector: PTS_SELECTOR, private: [{ notype: 1 }] }), 1008],
      [Buffer.from(JSON.stringify({ contentIdStem: "dvb://", timelineSelector: PTS_SELECTOR })), 1003],
    ];
    for (const [message, code] of cases) {
      const socket = await JsonSocket.open(dvb.urls.ts);
      if (typeof message === "string") socket.ws.send(message);
      else socket.ws.send(message, { binary: true });
      const closed = await within(socket.closed, `close for ${String(message)}`);
      assert.equal(closed.code, code, String(message));
      assert.equal(socket.queued, 0, "no Control Timestamp before a valid setup");
    }
    const client = await TsClient.connect(dvb.urls.ts, { contentIdStem: "dvb://", timelineSelector: PTS_SELECTOR });
    await client.next();
    client.socket.send("garbage after setup");
    client.socket.send({ earliest: { contentTime: "1", wallClockTime: "minusinfinity" }, latest: { contentTime: "1", wallClockTime: "plusinfinity" } });
    dvb.pts.setSpeed(2);
    assert.equal((await client.next()).timelineSpeedMultiplier, 2);
    client.close();
  });
});
