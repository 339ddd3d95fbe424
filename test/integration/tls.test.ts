/**
 * TLS on the server's own port: wss:// and https:// with a certificate made in the test
 * (a test CA that the clients trust, full verification on), reload without dropping open
 * connections, a bad reload keeping the old certificate, and the start-up checks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { get as httpsGet } from "node:https";
import { spawn } from "node:child_process";
import { WebSocket } from "ws";
import { Client } from "../../client/index.ts";
import { createServer, OptionError, type Server, type ServerOptions } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { connect } from "../helpers/ws-client.ts";
import { within } from "../helpers/until.ts";
import { hasOpenssl, makePki, OPENSSL_MISSING, servedFingerprint } from "./helpers/self-signed.ts";

const skip = hasOpenssl ? false : OPENSSL_MISSING;

/** The fingerprint of the certificate a new TLS handshake with `server` gets. */
function fingerprintOf(server: Server, ca: string): Promise<string> {
  return servedFingerprint(server.port, ca);
}

function httpsJson(url: string, ca: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return within(new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    }).once("error", reject);
  }), 5_000, `an answer from ${url}`);
}

async function echoServer(t: { after(fn: () => unknown): void }, tls: NonNullable<ServerOptions["tls"]>): Promise<Server> {
  const server = await startServer({ tls }, (s) => s.endpoint("/echo", { message: (conn, data, isBinary) => { conn.send(data, isBinary); } }));
  t.after(() => server.stop({ timeoutMs: 1_000 }));
  return server;
}

test("wss:// echo and https:// /healthz on the server's port, verified against the test CA", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("one");
  const server = await echoServer(t, { key: leaf.keyFile, cert: leaf.certFile });

  assert.equal(server.url("/echo"), `wss://127.0.0.1:${server.port}/echo`);
  assert.equal(server.url("/healthz"), `https://127.0.0.1:${server.port}/healthz`);

  const client = await connect(server.url("/echo"), undefined, { ca: pki.ca });
  client.send("over tls");
  assert.equal((await client.next()).text, "over tls");
  await client.close();

  const health = await httpsJson(server.url("/healthz"), pki.ca);
  assert.equal(health.status, 200);
  assert.equal(health.body.status, "ok");
  assert.equal(server.stats().tls?.certificate.fingerprint256, leaf.fingerprint256);
});

test("PEM text works as well as file paths", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("inline");
  const server = await echoServer(t, { key: leaf.key, cert: leaf.cert });
  assert.equal(await fingerprintOf(server, pki.ca), leaf.fingerprint256);
});

test("reloadTls(): an open connection keeps echoing, new handshakes get the new certificate; a bad reload keeps it", { skip }, async (t) => {
  const pki = makePki(t);
  const first = pki.leaf("first");
  const second = pki.leaf("second");
  // The server reads these two paths; the test replaces their contents as a certificate renewal would.
  const keyFile = join(pki.dir, "server.key");
  const certFile = join(pki.dir, "server.pem");
  copyFileSync(first.keyFile, keyFile);
  copyFileSync(first.certFile, certFile);
  const server = await echoServer(t, { key: keyFile, cert: certFile });

  const open = await connect(server.url("/echo"), undefined, { ca: pki.ca });
  open.send("before");
  assert.equal((await open.next()).text, "before");
  assert.equal(await fingerprintOf(server, pki.ca), first.fingerprint256);

  copyFileSync(second.keyFile, keyFile);
  copyFileSync(second.certFile, certFile);
  const info = server.reloadTls();
  assert.equal(info.fingerprint256, second.fingerprint256);

  open.send("after reload");
  assert.equal((await open.next()).text, "after reload", "the open connection survives the reload");
  assert.equal(await fingerprintOf(server, pki.ca), second.fingerprint256, "a new handshake sees the new certificate");
  const fresh = await connect(server.url("/echo"), undefined, { ca: pki.ca });
  fresh.send("new connection");
  assert.equal((await fresh.next()).text, "new connection");

  // A broken renewal: the certificate file is not PEM. The reload fails and says why; nothing changes.
  writeFileSync(certFile, "not a certificate\n");
  assert.throws(() => server.reloadTls(), (err: unknown) => err instanceof OptionError && err.option === "tls.cert" && err.message.includes(certFile));
  // The key of the first certificate with the second certificate: a mismatch, refused too.
  copyFileSync(second.certFile, certFile);
  copyFileSync(first.keyFile, keyFile);
  assert.throws(() => server.reloadTls(), (err: unknown) => err instanceof OptionError && /does not match/.test(err.message));
  assert.equal(await fingerprintOf(server, pki.ca), second.fingerprint256, "the certificate in force stays after failed reloads");
  assert.equal(server.stats().tls?.certificate.fingerprint256, second.fingerprint256);
  open.send("still here");
  assert.equal((await open.next()).text, "still here");
  await Promise.all([open.close(), fresh.close()]);
});

test("reloadTls(options) takes new material given in code", { skip }, async (t) => {
  const pki = makePki(t);
  const first = pki.leaf("a");
  const second = pki.leaf("b");
  const server = await echoServer(t, { key: first.key, cert: first.cert });
  server.reloadTls({ key: second.key, cert: second.cert });
  assert.equal(await fingerprintOf(server, pki.ca), second.fingerprint256);
});

test("an encrypted key: the right passphrase serves, a wrong or missing one is refused at start-up naming tls.passphrase", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("locked");
  const keyFile = pki.encryptKey(leaf, "correct horse");
  const server = await echoServer(t, { key: keyFile, cert: leaf.certFile, passphrase: "correct horse" });
  assert.equal(await fingerprintOf(server, pki.ca), leaf.fingerprint256);
  for (const passphrase of ["wrong", undefined]) {
    assert.throws(() => createServer({ port: 0, logger: { level: "silent" }, tls: { key: keyFile, cert: leaf.certFile, ...(passphrase === undefined ? {} : { passphrase }) } }),
      (err: unknown) => err instanceof OptionError && err.option === "tls.passphrase" && err.message.includes(keyFile), String(passphrase));
  }
});

test("start-up checks name the option and the path: missing file, not PEM, key/cert mismatch, unknown key", { skip }, (t) => {
  const pki = makePki(t);
  const one = pki.leaf("one");
  const two = pki.leaf("two");
  const missing = join(pki.dir, "nope.pem");
  const notPem = join(pki.dir, "garbage.pem");
  writeFileSync(notPem, "hello\n");
  const fails = (tls: object, option: string, text: RegExp | string): void => {
    assert.throws(() => createServer({ port: 0, logger: { level: "silent" }, tls: tls as never }), (err: unknown) => {
      assert.ok(err instanceof OptionError, String(err));
      assert.equal(err.option, option);
      if (typeof text === "string") assert.ok(err.message.includes(text), err.message);
      else assert.match(err.message, text);
      return true;
    });
  };
  fails({ key: one.keyFile, cert: missing }, "tls.cert", missing);
  fails({ key: missing, cert: one.certFile }, "tls.key", "ENOENT");
  fails({ key: one.keyFile, cert: notPem }, "tls.cert", "is not PEM");
  fails({ key: two.keyFile, cert: one.certFile }, "tls", /key \(file .*two\.key\) does not match the certificate/);
  fails({ key: one.keyFile }, "tls.cert", "is required");
  fails({ key: one.keyFile, cert: one.certFile, ciphers: "x" }, "tls.ciphers", "unknown TLS option");
  assert.throws(() => createServer({ port: 0, logger: { level: "silent" } }).reloadTls(), /without the tls option/);
});

test("the client library over wss://: a WebSocket class that trusts the CA, or NODE_EXTRA_CA_CERTS in a child process", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("client");
  const server = await startServer({ tls: { key: leaf.keyFile, cert: leaf.certFile } }, (s) => {
    s.app("/app").task("add", ({ data }) => (data as { a: number; b: number }).a + (data as { a: number; b: number }).b);
  });
  t.after(() => server.stop({ timeoutMs: 1_000 }));
  assert.equal(server.url("/app"), `wss://127.0.0.1:${server.port}/app`);

  // In code: the client takes any WebSocket class; this one passes `ca` to ws.
  const ca = pki.ca;
  class TrustingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { ca });
    }
  }
  const client = new Client<{ add: { data: { a: number; b: number }; reply: number } }>(server.url("/app"), { WebSocket: TrustingWebSocket, reconnect: false });
  t.after(() => client.close());
  assert.equal(await within(client.call("add", { a: 2, b: 3 }), 5_000, "a call over wss://"), 5);

  // A process that trusts the CA through NODE_EXTRA_CA_CERTS, with the client's default WebSocket (ws, loaded on demand).
  const script = `import { Client } from ${JSON.stringify(new URL("../../client/index.ts", import.meta.url).href)};
const client = new Client(${JSON.stringify(server.url("/app"))}, { reconnect: false });
client.on("error", (err) => { console.log("ERROR " + err.message); process.exit(1); });
console.log("SUM " + await client.call("add", { a: 20, b: 22 }));
await client.close();`;
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", script], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.caFile }, stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  t.after(() => { if (child.exitCode === null) child.kill("SIGKILL"); });
  const code = await within(new Promise<number | null>((resolve) => child.once("exit", resolve)), 20_000, "the child client to finish");
  assert.equal(code, 0, output);
  assert.match(output, /SUM 42/);
});
