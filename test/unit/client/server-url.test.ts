import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveServerUrl } from "../../../client/server-url.ts";

test("ws:// and wss:// URLs are kept; http(s):// become ws(s):// as browsers do", () => {
  assert.equal(resolveServerUrl("ws://127.0.0.1:8080/app").href, "ws://127.0.0.1:8080/app");
  assert.equal(resolveServerUrl("wss://example.com/app?x=1").href, "wss://example.com/app?x=1");
  assert.equal(resolveServerUrl("http://127.0.0.1:8080/app").href, "ws://127.0.0.1:8080/app");
  assert.equal(resolveServerUrl("HTTPS://Example.com/app").href, "wss://example.com/app");
  assert.equal(resolveServerUrl("ws://127.0.0.1:8080").href, "ws://127.0.0.1:8080/");
});

test("relative URLs resolve against the page (browsers), and only when there is one", () => {
  assert.equal(resolveServerUrl("/ws", "https://chat.example/room/lobby").href, "wss://chat.example/ws");
  assert.equal(resolveServerUrl("ws", "http://127.0.0.1:8080/dir/page").href, "ws://127.0.0.1:8080/dir/ws");
  assert.equal(resolveServerUrl("//other.example:81/ws", "http://127.0.0.1/").href, "ws://other.example:81/ws");
  assert.throws(() => resolveServerUrl("/ws"), SyntaxError);
});

test("anything else is a SyntaxError that names the URL and the expected form", () => {
  for (const bad of ["localhost:8080/app", "127.0.0.1:8080", "ftp://h/p", "ws://h/p#frag", "", "a b", "ws+unix:/tmp/s:/p", "file:///tmp/x"]) {
    assert.throws(
      () => resolveServerUrl(bad),
      (err: Error) =>
        err instanceof SyntaxError &&
        err.message.includes(JSON.stringify(bad)) &&
        err.message.includes("ws://host:port/path") &&
        err.message.includes("wss://"),
      bad,
    );
  }
  assert.match((() => { try { resolveServerUrl("ws://h/p#frag"); } catch (e) { return (e as Error).message; } return ""; })(), /fragment/);
});
