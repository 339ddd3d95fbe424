/**
 * Certificate reload in a standalone server process: SIGHUP and `switchboard command
 * reload-tls` re-read the files; an open wss:// connection keeps echoing; a bad file keeps
 * the certificate in force and the command reports why.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTsProcess } from "../helpers/process.ts";
import { runCli } from "../helpers/control-cli.ts";
import { connect } from "../helpers/ws-client.ts";
import { eventually } from "../helpers/until.ts";
import { hasOpenssl, makePki, OPENSSL_MISSING, servedFingerprint } from "./helpers/self-signed.ts";

const skip = hasOpenssl ? false : OPENSSL_MISSING;
const FIXTURE = "test/integration/helpers/tls-standalone.fixture.ts";

test("standalone: SIGHUP and `command reload-tls` reload the certificate; open connections stay; a bad file is reported", { skip }, async (t) => {
  const pki = makePki(t);
  const [first, second, third] = [pki.leaf("first"), pki.leaf("second"), pki.leaf("third")];
  const keyFile = join(pki.dir, "server.key");
  const certFile = join(pki.dir, "server.pem");
  copyFileSync(first.keyFile, keyFile);
  copyFileSync(first.certFile, certFile);
  const socket = join(pki.dir, "ctl.sock");
  const proc = startTsProcess(FIXTURE, [], { SB_TLS_KEY: keyFile, SB_TLS_CERT: certFile, SB_SOCKET: socket, SB_LOCK: join(pki.dir, "server.lock"), LOG_LEVEL: "info" });
  t.after(() => proc.stop("SIGKILL"));
  const [, portText, pidText] = await proc.waitForLine(/READY port=(\d+) pid=(\d+)/);
  const port = Number(portText);
  const linesWith = (text: string): number => proc.output.filter((line) => line.includes(text)).length;
  assert.equal(await servedFingerprint(port, pki.ca), first.fingerprint256);
  const open = await connect(`wss://127.0.0.1:${port}/echo`, undefined, { ca: pki.ca });
  t.after(() => open.ws.terminate());

  // SIGHUP, sent to the PID the fixture printed (its own, not a group).
  copyFileSync(second.keyFile, keyFile);
  copyFileSync(second.certFile, certFile);
  process.kill(Number(pidText), "SIGHUP");
  await eventually("the reload after SIGHUP is logged", () => linesWith("TLS certificate reloaded") === 1);
  assert.equal(await servedFingerprint(port, pki.ca), second.fingerprint256, "new handshakes get the new certificate");
  open.send("after SIGHUP");
  assert.equal((await open.next()).text, "after SIGHUP", "the open connection survives");

  // The control command.
  copyFileSync(third.keyFile, keyFile);
  copyFileSync(third.certFile, certFile);
  const ok = await runCli(["command", "--json", "--socket", socket, "reload-tls"]);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(JSON.parse(ok.out).fingerprint256, third.fingerprint256);
  assert.equal(await servedFingerprint(port, pki.ca), third.fingerprint256);

  // A broken file: the command fails with the reason, the certificate in force stays.
  writeFileSync(keyFile, "garbage\n");
  const bad = await runCli(["command", "--json", "--socket", socket, "reload-tls"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err + bad.out, /tls\.key.*not PEM/);
  assert.equal(await servedFingerprint(port, pki.ca), third.fingerprint256);
  // SIGHUP with the broken file: logged, the process serves on.
  const failures = linesWith("TLS reload failed"); // the command's failure above is one
  process.kill(Number(pidText), "SIGHUP");
  await eventually("the failed reload after SIGHUP is logged", () => linesWith("TLS reload failed") === failures + 1);
  open.send("still here");
  assert.equal((await open.next()).text, "still here");
  assert.equal(proc.child.exitCode, null, "the server is still running");
  await open.close();
});
