import { test } from "node:test";
import assert from "node:assert/strict";
import { FramingError } from "../../../src/errors.ts";
import { LengthDecoder, LineDecoder, RawDecoder, createFraming, encodeLength } from "../../../src/transport/framing.ts";

const b = (s: string): Buffer => Buffer.from(s, "utf8");
const texts = (frames: Buffer[]): string[] => frames.map((f) => f.toString("utf8"));

function prefixed(body: Buffer): Buffer {
  return Buffer.concat(encodeLength(body));
}

test("raw: every non-empty chunk is one message", () => {
  const d = new RawDecoder();
  assert.deepEqual(texts(d.push(b("abc"))), ["abc"]);
  assert.deepEqual(d.push(Buffer.alloc(0)), []);
});

test("lines: a line split over chunks is joined", () => {
  const d = new LineDecoder(100);
  assert.deepEqual(d.push(b("hel")), []);
  assert.equal(d.pending, 3);
  assert.deepEqual(d.push(b("lo")), []);
  assert.deepEqual(texts(d.push(b(" world\nnext"))), ["hello world"]);
  assert.equal(d.pending, 4);
});

test("lines: several lines merged in one chunk come out in order; CRLF and empty lines", () => {
  const d = new LineDecoder(100);
  assert.deepEqual(texts(d.push(b("a\nb\r\n\nc\n"))), ["a", "b", "", "c"]);
  assert.equal(d.pending, 0);
});

test("lines: a line over maxLineBytes throws line_too_long, split or whole", () => {
  const d = new LineDecoder(5);
  assert.deepEqual(texts(d.push(b("12345\n"))), ["12345"]);
  assert.throws(() => d.push(b("123456\n")), (err) => err instanceof FramingError && err.code === "line_too_long");
  const split = new LineDecoder(5);
  split.push(b("123"));
  assert.throws(() => split.push(b("456")), (err) => err instanceof FramingError && err.code === "line_too_long");
});

test("lines: multi-byte UTF-8 split across chunks survives", () => {
  const d = new LineDecoder(100);
  const bytes = b("héllo ✓\n");
  const out = [...d.push(bytes.subarray(0, 2)), ...d.push(bytes.subarray(2, 9)), ...d.push(bytes.subarray(9))];
  assert.deepEqual(texts(out), ["héllo ✓"]);
});

test("length: prefix and body split at every possible byte boundary", () => {
  const stream = Buffer.concat([prefixed(b("hello")), prefixed(b("")), prefixed(b("world!"))]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new LengthDecoder(100);
    const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(texts(out), ["hello", "", "world!"], `cut at ${cut}`);
    assert.equal(d.pending, 0);
  }
});

test("length: one byte at a time", () => {
  const stream = Buffer.concat([prefixed(b("abc")), prefixed(b("defg"))]);
  const d = new LengthDecoder(100);
  const out: Buffer[] = [];
  for (const byte of stream) out.push(...d.push(Buffer.from([byte])));
  assert.deepEqual(texts(out), ["abc", "defg"]);
});

test("length: an oversize prefix throws frame_too_big before the body arrives", () => {
  const d = new LengthDecoder(10);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(11);
  assert.throws(() => d.push(header), (err) => err instanceof FramingError && err.code === "frame_too_big");
  const huge = Buffer.from([0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => new LengthDecoder(10).push(huge), FramingError);
  const exact = Buffer.alloc(4);
  exact.writeUInt32BE(10);
  assert.deepEqual(new LengthDecoder(10).push(Buffer.concat([exact, Buffer.alloc(10, 1)])).length, 1);
});

test("encoders: lines appends \\n, length prepends a big-endian length, oversize send refused", () => {
  const lines = createFraming("lines", { maxLineBytes: 10, maxFrameBytes: 10 });
  assert.equal(Buffer.concat([lines.encode(b("hi"))].flat()).toString(), "hi\n");
  const length = createFraming("length", { maxLineBytes: 10, maxFrameBytes: 4 });
  assert.deepEqual([...Buffer.concat([length.encode(b("abc"))].flat())], [0, 0, 0, 3, 0x61, 0x62, 0x63]);
  assert.throws(() => length.encode(b("12345")), FramingError);
});
