import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, OptionError, LIMITS } from "../../../src/index.ts";
import { chooseProtocol } from "../../../src/endpoint/handshake.ts";
import { ConnectionIds, prefixForPath } from "../../../src/endpoint/ids.ts";
import { describeCloseCode, isSendableCloseCode, CloseCode } from "../../../src/protocol/close-codes.ts";

const silent = { logger: { level: "silent" } };

test("createServer: safe defaults from the limits table", () => {
  const server = createServer(silent);
  assert.equal(server.options.maxPayload, 1024 * 1024);
  assert.equal(server.options.maxPayload, LIMITS.maxPayload.default);
  assert.equal(server.options.perMessageDeflate, false);
  assert.equal(server.options.host, "127.0.0.1");
  assert.equal(server.options.port, 8080);
});

test("createServer: an unknown option or a bad value is an OptionError naming it", () => {
  assert.throws(() => createServer({ ...silent, maxPayload: -1 }), (err: unknown) => err instanceof OptionError && err.option === "maxPayload" && /integer ≥ 1/.test(err.message));
  assert.throws(() => createServer({ ...silent, maxPaylod: 10 } as never), (err: unknown) => err instanceof OptionError && err.option === "maxPaylod" && /unknown option/.test(err.message));
  assert.throws(() => createServer({ ...silent, port: 70000 }), /option "port"/);
  assert.throws(() => createServer({ ...silent, heartbeatMs: 1.5 }), /option "heartbeatMs"/);
  assert.throws(() => createServer({ ...silent, slowConsumer: "ignore" as never }), /option "slowConsumer"/);
  assert.throws(() => createServer({ ...silent, perMessageDeflate: { serverMaxWindowBits: 20 } }), /perMessageDeflate.serverMaxWindowBits/);
});

test("endpoint(): path, hooks and options are checked up front", () => {
  const server = createServer(silent);
  assert.throws(() => server.endpoint("echo"), /must start with "\/"/);
  assert.throws(() => server.endpoint("/a?b"), /no query/);
  assert.throws(() => server.endpoint("/a", { message: "nope" as never }), /option "message": must be a function/);
  assert.throws(() => server.endpoint("/a", { maxConnections: -5 }), /option "maxConnections"/);
  assert.throws(() => server.endpoint("/a", { idPrefix: "has space" }), /option "idPrefix"/);
  assert.throws(() => server.endpoint("/a", { protocols: ["bad protocol"] }), /option "protocols"/);
  assert.throws(() => server.endpoint("/a", { onMessage() {} } as never), /unknown option for endpoint \/a/);
  server.endpoint("/a");
  assert.throws(() => server.endpoint("/a"), /already mounted at \/a/);
});

test("endpoint limits inherit from the server and can be overridden", () => {
  const server = createServer({ ...silent, maxPayload: 2048, slowConsumer: "drop" });
  const inherits = server.endpoint("/a");
  const overrides = server.endpoint("/b", { maxPayload: 10, slowConsumer: "close" });
  assert.equal(inherits.limits.maxPayload, 2048);
  assert.equal(inherits.limits.slowConsumer, "drop");
  assert.equal(overrides.limits.maxPayload, 10);
  assert.equal(overrides.limits.slowConsumer, "close");
});

test("chooseProtocol: server's order wins; none offered → none; no match → undefined", () => {
  assert.equal(chooseProtocol(["v2", "v1"], ["v1", "v2"]), "v2");
  assert.equal(chooseProtocol(["v2", "v1"], ["v1"]), "v1");
  assert.equal(chooseProtocol(["v2", "v1"], []), "");
  assert.equal(chooseProtocol(["v2", "v1"], ["v3"]), undefined);
  assert.equal(chooseProtocol(undefined, ["v3"]), "");
});

test("connection ids: a counter per prefix; prefixes from paths", () => {
  const ids = new ConnectionIds();
  assert.deepEqual([ids.next("a"), ids.next("b"), ids.next("a")], ["a-1", "b-1", "a-2"]);
  assert.equal(prefixForPath("/"), "root");
  assert.equal(prefixForPath("/games/tetris/"), "games-tetris");
});

test("close codes: sendable ones, names, and which ones a client may retry", () => {
  for (const code of [1000, 1001, 1008, 1011, 3000, 4000, 4999]) assert.ok(isSendableCloseCode(code), String(code));
  for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) assert.ok(!isSendableCloseCode(code), String(code));
  assert.deepEqual(describeCloseCode(CloseCode.SlowConsumer), { code: 4000, name: "SlowConsumer", retryable: true, meaning: "slow consumer: send buffer over maxBufferedBytes" });
  assert.equal(describeCloseCode(CloseCode.PolicyViolation).retryable, false);
  assert.equal(describeCloseCode(4500).name, "Application");
});

test("every limit in the table says what happens when it is hit", () => {
  for (const [key, spec] of Object.entries(LIMITS)) {
    assert.equal(spec.name, key);
    assert.ok(spec.whenHit.length > 10, key);
    assert.ok(spec.default >= spec.min, key);
  }
});
