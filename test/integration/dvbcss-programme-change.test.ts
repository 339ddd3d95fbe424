/**
 * examples/dvb-css: a programme change (changeContent, what --demo does every 20 s) sends the
 * old programme's TS clients no Control Timestamp of the re-anchored timeline: only
 * "unavailable"; clients of the new programme get one timestamp of the new timeline.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { changeContent, startDvbCssServer, PTS_SELECTOR } from "../../examples/dvb-css/server.ts";
import { TsClient } from "../../examples/dvb-css/ts-client.ts";

const OLD = "dvb://233a.1004.1044;363a";
const NEW = "dvb://233a.1004.1080;1";

test("changeContent: no timestamp of the old programme's timeline after the change; one for the new one", async () => {
  const dvb = await startDvbCssServer({ port: 0, wcPort: 0, contentId: OLD, logLevel: "silent" });
  try {
    const oldOnly = await TsClient.connect(dvb.urls.ts, { contentIdStem: OLD, timelineSelector: PTS_SELECTOR });
    const newOnly = await TsClient.connect(dvb.urls.ts, { contentIdStem: NEW, timelineSelector: PTS_SELECTOR });
    const any = await TsClient.connect(dvb.urls.ts, { contentIdStem: "dvb://", timelineSelector: PTS_SELECTOR });
    // Each client's answer to its setup: the old programme is on.
    assert.equal(typeof (await oldOnly.next()).contentTime, "bigint");
    assert.equal((await newOnly.next()).contentTime, null, "the new programme is not on yet");
    assert.equal(typeof (await any.next()).contentTime, "bigint");
    dvb.pts.seek(123_456n); // somewhere into the old programme
    assert.equal((await oldOnly.next()).contentTime, 123_456n);
    assert.equal((await any.next()).contentTime, 123_456n);

    changeContent(dvb, NEW);

    // The old programme's client: exactly "unavailable", nothing of the re-anchored timeline.
    const after = await oldOnly.next();
    assert.deepEqual([after.contentTime, after.timelineSpeedMultiplier], [null, null], `got ${after.contentTime}`);
    // The new programme's clients: its timeline from 0.
    const started = await newOnly.next();
    assert.deepEqual([started.contentTime, started.timelineSpeedMultiplier], [0n, 1]);
    assert.equal((await any.next()).contentTime, 0n);

    // A sentinel on each socket (messages on one socket keep their order): back to the old
    // programme. Anything spurious sent after the change would arrive before it.
    changeContent(dvb, OLD);
    const back = await oldOnly.next();
    assert.deepEqual([back.contentTime, back.timelineSpeedMultiplier], [0n, 1], "the sentinel is the next message");
    assert.equal((await newOnly.next()).contentTime, null);
    assert.equal((await any.next()).contentTime, 0n);
    assert.equal(oldOnly.socket.queued + newOnly.socket.queued + any.socket.queued, 0);
    oldOnly.close(); newOnly.close(); any.close();
  } finally {
    await dvb.stop();
  }
});

test("TsService.batch: nested batches send once, after the outermost ends", async () => {
  const dvb = await startDvbCssServer({ port: 0, wcPort: 0, contentId: OLD, logLevel: "silent" });
  try {
    const client = await TsClient.connect(dvb.urls.ts, { contentIdStem: "", timelineSelector: PTS_SELECTOR });
    await client.next();
    dvb.ts.batch(() => {
      dvb.pts.setSpeed(0);
      dvb.ts.batch(() => dvb.pts.seek(1_000n));
      dvb.pts.seek(2_000n);
    });
    const ct = await client.next();
    assert.deepEqual([ct.contentTime, ct.timelineSpeedMultiplier], [2_000n, 0]);
    // Sentinel: the next change's timestamp is the next message, so only one was sent above.
    dvb.pts.seek(3_000n);
    assert.equal((await client.next()).contentTime, 3_000n);
    client.close();
  } finally {
    await dvb.stop();
  }
});
