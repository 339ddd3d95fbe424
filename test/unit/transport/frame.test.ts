import { test } from "node:test";
import assert from "node:assert/strict";
import * as ws from "ws";
import { encodeFrame, prepare } from "../../../src/transport/websocket.ts";

const wsFrame = (data: Buffer, binary: boolean) =>
  Buffer.concat((ws as unknown as { Sender: { frame(d: Buffer, o: object): Buffer[] } }).Sender.frame(data, { fin: true, rsv1: false, opcode: binary ? 2 : 1, mask: false, readOnly: false }));

test("encodeFrame writes the same bytes as ws's own frame builder, at every length boundary", () => {
  for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70_000]) {
    const payload = Buffer.alloc(length, 0x61);
    assert.deepEqual(encodeFrame(payload, true), wsFrame(payload, true), `binary ${length}`);
    assert.deepEqual(encodeFrame(payload.toString(), false), wsFrame(payload, false), `text ${length}`);
  }
});

test("encodeFrame measures text in UTF-8 bytes, not characters", () => {
  const text = "héllo → 世界 🎉";
  assert.deepEqual(encodeFrame(text, false), wsFrame(Buffer.from(text), false));
});

test("prepare keeps the original data and the binary flag", () => {
  const prepared = prepare("hi");
  assert.equal(prepared.isBinary, false);
  assert.equal(prepared.data, "hi");
  assert.equal(prepare(new Uint8Array([1, 2])).isBinary, true);
  assert.equal(prepare(Buffer.from("x"), false).isBinary, false);
});
