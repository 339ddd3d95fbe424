/**
 * `switchboard serve` with TLS from the config file: tls.key / tls.cert name PEM files
 * relative to the config file, the banner says https://, wss:// works, and SIGHUP re-reads
 * the files without dropping an open connection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { BIN, CLI_WAIT_MS } from "../helpers/cli.ts";
import { writeTree } from "../helpers/tree.ts";
import { connect } from "../helpers/ws-client.ts";
import { eventually, within } from "../helpers/until.ts";
import { serve } from "../../src/cli/serve.ts";
import { hasOpenssl, makePki, OPENSSL_MISSING, servedFingerprint } from "./helpers/self-signed.ts";

const skip = hasOpenssl ? false : OPENSSL_MISSING;

test("switchboard serve: tls.key / tls.cert from the config file, https:// banner, wss:// echo, SIGHUP reload", { skip }, async (t) => {
  const pki = makePki(t);
  const [first, second] = [pki.leaf("first"), pki.leaf("second")];
  const site = join(pki.dir, "site");
  writeTree(site, {
    "handlers/echo.ts": "export default { message(conn, data) { conn.send(data.toString()); } };\n",
    // Relative to the config file's folder.
    "switchboard.config.json": JSON.stringify({ port: 0, handlers: "handlers", tls: { key: "certs/server.key", cert: "certs/server.pem" } }),
  });
  writeTree(site, { "certs/.keep": "" });
  copyFileSync(first.keyFile, join(site, "certs/server.key"));
  copyFileSync(first.certFile, join(site, "certs/server.pem"));

  const runtime = mkdtempSync(join(tmpdir(), "sb-tls-cli-"));
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "silent", SWITCHBOARD_LOG_LEVEL: "warn" };
  for (const name of Object.keys(env)) if (name.startsWith("SWITCHBOARD_") && name !== "SWITCHBOARD_LOG_LEVEL") delete env[name];
  env.SWITCHBOARD_LOCK_FILE = join(runtime, "switchboard.lock");
  env.SWITCHBOARD_CONTROL_SOCKET = join(runtime, "switchboard.sock");
  const child = spawn(process.execPath, [BIN, "serve"], { cwd: site, env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await within(exited, CLI_WAIT_MS, "switchboard to exit");
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const port = await within(new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const match = /listening on https:\/\/[^\s]+:(\d+)/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`switchboard exited before listening:\n${stdout}\n${stderr}`)));
  }), CLI_WAIT_MS, "the https:// banner");

  assert.equal(await servedFingerprint(port, pki.ca), first.fingerprint256);
  const client = await connect(`wss://127.0.0.1:${port}/echo`, undefined, { ca: pki.ca });
  t.after(() => client.ws.terminate());
  client.send("hello");
  assert.equal((await client.next()).text, "hello");

  copyFileSync(second.keyFile, join(site, "certs/server.key"));
  copyFileSync(second.certFile, join(site, "certs/server.pem"));
  process.kill(child.pid!, "SIGHUP");
  await eventually("new handshakes get the second certificate", async () => (await servedFingerprint(port, pki.ca)) === second.fingerprint256);
  client.send("after reload");
  assert.equal((await client.next()).text, "after reload");
  await client.close();
});

test("serve's config: tls.passphrase decrypts tls.key, tls.ca is loaded (paths against the config file)", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("enc");
  const encrypted = pki.encryptKey(leaf, "config-passphrase");
  const site = join(pki.dir, "site-enc");
  writeTree(site, {
    "handlers/echo.ts": "export default { message(conn, data) { conn.send(data.toString()); } };\n",
    "switchboard.config.json": JSON.stringify({ port: 0, handlers: "handlers", tls: { key: "k.pem", cert: "c.pem", ca: "ca.pem", passphrase: "config-passphrase" } }),
  });
  copyFileSync(encrypted, join(site, "k.pem"));
  copyFileSync(leaf.certFile, join(site, "c.pem"));
  copyFileSync(pki.caFile, join(site, "ca.pem"));
  const runtime = mkdtempSync(join(tmpdir(), "sb-tls-cfg-"));
  const serving = await serve({ config: join(site, "switchboard.config.json") }, {
    cwd: site, env: { LOG_LEVEL: "silent", SWITCHBOARD_LOCK_FILE: join(runtime, "l"), SWITCHBOARD_CONTROL_SOCKET: join(runtime, "s") }, out: () => undefined,
  });
  t.after(async () => {
    await serving.server.stop({ timeoutMs: 2_000 });
    serving.standalone.shutdown.uninstall();
    serving.standalone.lock?.release();
  });
  assert.equal(await servedFingerprint(serving.server.port, pki.ca), leaf.fingerprint256, "the encrypted key was decrypted with the passphrase");
  assert.deepEqual([serving.server.options.tls?.context.ca].flat().map(String), [pki.ca], "tls.ca read from the file next to the config");
});
