/**
 * Certificates made for a test with the `openssl` CLI, in a temporary folder: one test CA
 * and leaf certificates it signed for localhost / 127.0.0.1, so that a client can trust the
 * CA (`ca` option, NODE_EXTRA_CA_CERTS) with full verification on. Each leaf is a new key and
 * certificate, so two of them have different fingerprints (a reload test).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import { tempDir } from "../../helpers/tempdir.ts";
import { within } from "../../helpers/until.ts";

export const OPENSSL_MISSING = "openssl not found: apt-get install -y openssl (the TLS tests make their certificates with it)";

/** True when the openssl CLI runs; tests skip with OPENSSL_MISSING otherwise. */
export const hasOpenssl: boolean = spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;

export interface Leaf {
  readonly keyFile: string;
  readonly certFile: string;
  readonly key: string;
  readonly cert: string;
  /** As `getPeerCertificate().fingerprint256` shows it. */
  readonly fingerprint256: string;
}

export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: string;
  /** A new leaf certificate for localhost and 127.0.0.1, signed by the CA. */
  leaf(name: string): Leaf;
  /** `leaf`'s key encrypted (AES-256) with `passphrase`: the path of the new PEM file. */
  encryptKey(leaf: Leaf, passphrase: string): string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 20_000 });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makePki(t: { after(fn: () => void | Promise<void>): void }): TestPki {
  const dir = tempDir(t, "sb-tls-");
  openssl(dir, ["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Switchboard test CA"]);
  writeFileSync(join(dir, "leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  const caFile = join(dir, "ca.pem");
  return {
    dir,
    caFile,
    ca: readFileSync(caFile, "utf8"),
    leaf(name: string): Leaf {
      openssl(dir, ["req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=localhost"]);
      openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", "leaf.ext"]);
      const keyFile = join(dir, `${name}.key`);
      const certFile = join(dir, `${name}.pem`);
      const cert = readFileSync(certFile, "utf8");
      return { keyFile, certFile, key: readFileSync(keyFile, "utf8"), cert, fingerprint256: new X509Certificate(cert).fingerprint256 };
    },
    encryptKey(leaf: Leaf, passphrase: string): string {
      const out = `${leaf.keyFile}.enc`;
      openssl(dir, ["pkey", "-in", leaf.keyFile, "-aes256", "-passout", `pass:${passphrase}`, "-out", out]);
      return out;
    },
  };
}

/** The SHA-256 fingerprint of the certificate a TLS server on 127.0.0.1:port presents (verified against `ca`). */
export function servedFingerprint(port: number, ca: string): Promise<string> {
  return within(new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ca }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once("error", reject);
  }), 5_000, "a TLS handshake");
}
