/** The DVB-CSS example's pure message modules: CSS-WC binary layout, CII diffs, CSS-TS JSON. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WcType, encodeMaxFreqError, encodePrecision, packWc, unpackWc, WcMessageError } from "../../../examples/dvb-css/wc-message.ts";
import { candidateFrom } from "../../../examples/dvb-css/wc-client.ts";
import { diffCii, mergeCii, validateCii } from "../../../examples/dvb-css/cii.ts";
import { controlTimestampChanged, encodeControlTimestamp, parseControlTimestamp, parseSetupData, TsMessageError } from "../../../examples/dvb-css/ts-messages.ts";

test("CSS-WC: the 32-byte big-endian layout, field by field", () => {
  const bytes = packWc({ type: WcType.ResponseWithFollowUp, precision: -10, maxFreqError: 12800, originate: 1_000_000_002n, receive: 3n * 1_000_000_000n + 4n, transmit: 5n * 1_000_000_000n + 6n });
  assert.equal(bytes.length, 32);
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 2, 0xf6, 0, 0, 0, 0x32, 0]);
  assert.deepEqual([bytes.readUInt32BE(8), bytes.readUInt32BE(12)], [1, 2]);
  assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [3, 4]);
  assert.deepEqual([bytes.readUInt32BE(24), bytes.readUInt32BE(28)], [5, 6]);
  const back = unpackWc(bytes);
  assert.equal(back.type, 2);
  assert.equal(back.precision, -10);
  assert.equal(back.maxFreqError, 12800);
  assert.equal(back.receive, 3_000_000_004n);
});

test("CSS-WC: pydvbcss's example request packs to the same bytes", () => {
  // WCMessage(TYPE_REQUEST, precision=-10, maxFreqError=256*50, originate=(0x54764827 s, 0x33f5fc00 ns)) in pydvbcss's docs
  const expected = Buffer.from("0000f600000032005476482733f5fc00" + "00".repeat(16), "hex");
  const originate = 0x54764827n * 1_000_000_000n + 0x33f5fc00n;
  assert.ok(packWc({ type: WcType.Request, precision: -10, maxFreqError: 256 * 50, originate, receive: 0n, transmit: 0n }).equals(expected));
});

test("CSS-WC: bad messages are rejected by unpack", () => {
  const good = packWc({ type: 0, precision: 0, maxFreqError: 0, originate: 0n, receive: 0n, transmit: 0n });
  assert.throws(() => unpackWc(good.subarray(0, 31)), WcMessageError);
  assert.throws(() => unpackWc(Buffer.concat([good, Buffer.alloc(1)])), WcMessageError);
  const v = Buffer.from(good); v[0] = 1;
  assert.throws(() => unpackWc(v), /version/);
  const t = Buffer.from(good); t[1] = 4;
  assert.throws(() => unpackWc(t), /type/);
});

test("CSS-WC: precision and max frequency error encodings round up", () => {
  assert.equal(encodePrecision(0.001), -9); // 2^-10 < 1 ms: claim 2^-9
  assert.equal(encodePrecision(2 ** -10), -10);
  assert.equal(encodeMaxFreqError(50), 12800);
  assert.equal(encodeMaxFreqError(0.001), 1);
});

test("CSS-WC: offset and rtt arithmetic (t1..t4)", () => {
  // Server 1000 ns ahead; 100 ns each way; 10 ns in the server.
  const c = candidateFrom({ type: 1, precision: -20, maxFreqError: 0, originate: 0n, receive: 1100n, transmit: 1110n }, 210n, 0, 0, false);
  assert.equal(c.offsetNs, 1000n);
  assert.equal(c.rttNs, 200n);
});

test("CII: diff keeps changed properties, adds contentIdStatus to a contentId change, merges", () => {
  const old = { protocolVersion: "1.1" as const, contentId: "dvb://a", contentIdStatus: "final" as const, presentationStatus: "okay" };
  assert.deepEqual(diffCii(old, { ...old }), {});
  assert.deepEqual(diffCii(old, { ...old, contentId: "dvb://b" }), { contentId: "dvb://b", contentIdStatus: "final" });
  assert.deepEqual(diffCii(old, { ...old, presentationStatus: "fault", tsUrl: null }), { presentationStatus: "fault", tsUrl: null });
  assert.deepEqual(mergeCii(old, { mrsUrl: null }).mrsUrl, null);
  assert.throws(() => validateCii({ presentationStatus: "two  spaces" }), /presentationStatus/);
  assert.throws(() => validateCii({ timelines: [{ timelineSelector: "x", timelineProperties: { unitsPerTick: 1.5, unitsPerSecond: 1 } }] }), /timelines/);
  assert.throws(() => validateCii({ nonsense: 1 } as never), /unknown property/);
});

test("CSS-TS: setup-data parsing and Control Timestamp encoding", () => {
  assert.deepEqual(parseSetupData('{"contentIdStem":"","timelineSelector":"urn:x"}'), { contentIdStem: "", timelineSelector: "urn:x" });
  for (const bad of ["", "null", "{}", '{"contentIdStem":1,"timelineSelector":"a"}', '{"contentIdStem":"a"}']) {
    assert.throws(() => parseSetupData(bad), TsMessageError, bad);
  }
  const big = 2n ** 62n + 1n; // past 2^53: a JSON number would lose it
  const text = encodeControlTimestamp({ contentTime: big, wallClockTime: 7n, timelineSpeedMultiplier: 1 });
  assert.equal(text, `{"contentTime":"${big}","wallClockTime":"7","timelineSpeedMultiplier":1}`);
  assert.equal(parseControlTimestamp(text).contentTime, big);
  assert.throws(() => parseControlTimestamp('{"contentTime":null,"wallClockTime":"1","timelineSpeedMultiplier":1}'), TsMessageError);
  assert.throws(() => parseControlTimestamp('{"contentTime":"01","wallClockTime":"1","timelineSpeedMultiplier":1}'), TsMessageError);
  const unavailable = { contentTime: null, wallClockTime: 1n, timelineSpeedMultiplier: null };
  assert.equal(controlTimestampChanged({ ...unavailable, wallClockTime: 99n }, unavailable), false);
  assert.equal(controlTimestampChanged(undefined, unavailable), true);
  assert.equal(controlTimestampChanged({ contentTime: 1n, wallClockTime: 1n, timelineSpeedMultiplier: 1 }, { contentTime: 1n, wallClockTime: 1n, timelineSpeedMultiplier: 0 }), true);
});
