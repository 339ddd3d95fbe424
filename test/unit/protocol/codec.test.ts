import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ProtocolError, encode, encodeError, encodePush, encodeReply, encodeRequest,
  isErrorReply, isPush, isReply, parse, parseRequest, parseServerMessage,
} from "../../../src/protocol/codec.ts";
import { ERROR_CODES, SUBPROTOCOL, PROTOCOL_VERSION, isErrorCode } from "../../../src/protocol/messages.ts";

test("subprotocol carries the version", () => {
  assert.equal(SUBPROTOCOL, `switchboard.v${PROTOCOL_VERSION}`);
});

test("requests parse, with and without id, data defaults to null", () => {
  assert.deepEqual(parseRequest('{"task":"chat.say","data":{"text":"hi"},"id":7}'), { task: "chat.say", data: { text: "hi" }, id: 7 });
  assert.deepEqual(parseRequest('{"task":"ping"}'), { task: "ping", data: null });
});

test("replies, error replies and pushes parse on the client side", () => {
  const reply = parseServerMessage('{"id":1,"data":[1,2]}');
  assert.ok(!(reply instanceof ProtocolError) && isReply(reply));
  const err = parseServerMessage('{"id":2,"error":{"code":"timeout","message":"too slow"}}');
  assert.ok(!(err instanceof ProtocolError) && isErrorReply(err));
  const push = parseServerMessage('{"task":"chat.said","data":"x"}');
  assert.ok(!(push instanceof ProtocolError) && isPush(push));
});

const bad: Array<[string, string, number | undefined]> = [
  ["not json", "{", undefined],
  ["bad json with a readable id", '{"id": 12, "task": "x", ', 12],
  ["array", "[1,2]", undefined],
  ["number", "42", undefined],
  ["null", "null", undefined],
  ["string", '"hi"', undefined],
  ["no task, no id", '{"data":1}', undefined],
  ["task not a string", '{"task":5,"id":3}', 3],
  ["empty task", '{"task":"","id":3}', 3],
  ["task with space", '{"task":"a b","id":4}', 4],
  ["task too long", JSON.stringify({ task: "x".repeat(129), id: 5 }), 5],
  ["negative id", '{"task":"a","id":-1}', undefined],
  ["fractional id", '{"task":"a","id":1.5}', undefined],
  ["string id", '{"task":"a","id":"1"}', undefined],
  ["unsafe id", '{"task":"a","id":9007199254740992}', undefined],
  ["unknown key", '{"task":"a","id":6,"extra":1}', 6],
  ["proto key", '{"task":"a","__proto__":{"x":1}}', undefined],
];
for (const [name, text, id] of bad) {
  test(`bad request: ${name}`, () => {
    const result = parseRequest(text);
    assert.ok(result instanceof ProtocolError, `expected a ProtocolError for ${text}`);
    assert.equal(result.code, "bad_request");
    assert.equal(result.id, id);
  });
}

test("a client may not send a reply", () => {
  const result = parseRequest('{"id":3,"data":1}');
  assert.ok(result instanceof ProtocolError);
  assert.equal(result.id, 3);
});

test("an error reply needs a known code and a message", () => {
  assert.ok(parse('{"id":1,"error":{"code":"nope","message":"x"}}') instanceof ProtocolError);
  assert.ok(parse('{"id":1,"error":{"code":"internal"}}') instanceof ProtocolError);
  assert.ok(parse('{"id":1,"error":"internal"}') instanceof ProtocolError);
  assert.ok(parseServerMessage('{"task":"a","data":1,"id":1}') instanceof ProtocolError);
});

test("encode round-trips", () => {
  assert.deepEqual(parse(encodeRequest("a", { b: 1 }, 3)), { task: "a", data: { b: 1 }, id: 3 });
  assert.deepEqual(parse(encodeReply(3, undefined)), { id: 3, data: null });
  assert.deepEqual(parse(encodeError(3, "forbidden", "no")), { id: 3, error: { code: "forbidden", message: "no" } });
  assert.deepEqual(parse(encodePush("p", [1])), { task: "p", data: [1] });
});

test("every error code is a known code", () => {
  for (const code of ERROR_CODES) assert.ok(isErrorCode(code));
  assert.ok(!isErrorCode("toString"));
});

// ── property-based: the parser never throws, and what it accepts round-trips ──────────────

const taskName = fc.stringMatching(/^[\x21-\x7e]{1,128}$/);
const requestArb = fc.record(
  { task: taskName, data: fc.jsonValue(), id: fc.nat({ max: Number.MAX_SAFE_INTEGER }) },
  { requiredKeys: ["task", "data"] },
);

test("fuzz: parse never throws on any string", () => {
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
    const result = parse(text);
    assert.ok(result instanceof ProtocolError || typeof result === "object");
    parseRequest(text);
    parseServerMessage(text);
  }), { numRuns: 3000 });
});

test("fuzz: parse never throws on any JSON value", () => {
  fc.assert(fc.property(fc.jsonValue(), (value) => {
    const text = JSON.stringify(value);
    const result = parseRequest(text);
    if (result instanceof ProtocolError) assert.equal(result.code, "bad_request");
  }), { numRuns: 3000 });
});

test("fuzz: objects with protocol keys of any type never throw, and bad ones are bad_request", () => {
  const anyValue = fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.double());
  const obj = fc.record(
    { task: anyValue, data: anyValue, id: anyValue, error: anyValue, other: anyValue },
    { requiredKeys: [] },
  );
  fc.assert(fc.property(obj, (value) => {
    const result = parse(JSON.stringify(value));
    if (!(result instanceof ProtocolError)) assert.equal(typeof result, "object");
  }), { numRuns: 3000 });
});

test("fuzz: valid requests round-trip through encode/parse", () => {
  fc.assert(fc.property(requestArb, (request) => {
    const parsed = parseRequest(encode(request));
    assert.ok(!(parsed instanceof ProtocolError), String((parsed as ProtocolError).message));
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(request)));
  }), { numRuns: 2000 });
});

test("fuzz: truncated valid requests are bad_request, never a throw", () => {
  fc.assert(fc.property(requestArb, fc.nat(), (request, cut) => {
    const text = encode(request);
    const result = parseRequest(text.slice(0, cut % text.length));
    assert.ok(result instanceof ProtocolError);
  }), { numRuns: 2000 });
});

test("an error reply may have a null id (bad_request with no readable id); other messages may not", () => {
  assert.deepEqual(parseServerMessage('{"id":null,"error":{"code":"bad_request","message":"x"}}'), { id: null, error: { code: "bad_request", message: "x" } });
  assert.ok(parse('{"id":null,"data":1}') instanceof ProtocolError);
  assert.ok(parse('{"id":null,"task":"a"}') instanceof ProtocolError);
  assert.deepEqual(parse(encodeError(null, "bad_request", "m")), { id: null, error: { code: "bad_request", message: "m" } });
});
