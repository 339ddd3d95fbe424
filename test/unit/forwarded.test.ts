/**
 * trustProxy parsing (src/transport/forwarded.ts): Forwarded (RFC 7239) and X-Forwarded-For,
 * IPv6 in brackets, ports, obfuscated identifiers, several hops, garbage, and the rule that
 * decides which hop is the client.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { clientAddress, compileTrustProxy, parseForwarded, parseXForwardedFor, UNKNOWN } from "../../src/transport/forwarded.ts";
import { OptionError } from "../../src/errors.ts";

test("Forwarded: RFC 7239 examples (§4, §7.1)", () => {
  assert.deepEqual(parseForwarded('for="_gazonk"'), [UNKNOWN]);
  assert.deepEqual(parseForwarded('For="[2001:db8:cafe::17]:4711"'), ["2001:db8:cafe::17"]);
  assert.deepEqual(parseForwarded("for=192.0.2.60;proto=http;by=203.0.113.43"), ["192.0.2.60"]);
  assert.deepEqual(parseForwarded("for=192.0.2.43, for=198.51.100.17"), ["192.0.2.43", "198.51.100.17"]);
  assert.deepEqual(parseForwarded('for=192.0.2.43, for="[2001:db8:cafe::17]", for=unknown'), ["192.0.2.43", "2001:db8:cafe::17", UNKNOWN]);
});

test("Forwarded: ports, obfuscated ports, quoted IPv4, case, elements without for", () => {
  assert.deepEqual(parseForwarded('for="192.0.2.60:8080"'), ["192.0.2.60"]);
  assert.deepEqual(parseForwarded('for="[::1]:_port"'), ["::1"]);
  assert.deepEqual(parseForwarded('for="10.0.0.1"'), ["10.0.0.1"]);
  assert.deepEqual(parseForwarded("FOR=10.0.0.1;PROTO=https"), ["10.0.0.1"]);
  assert.deepEqual(parseForwarded("proto=https, for=10.0.0.2"), [UNKNOWN, "10.0.0.2"]);
  assert.deepEqual(parseForwarded('for="[::ffff:10.1.2.3]"'), ["10.1.2.3"]);
  assert.deepEqual(parseForwarded("for=10.0.0.1;"), ["10.0.0.1"]);
  // Spaces around ";" (written by hand-made proxy configs) change no meaning: tolerated.
  assert.deepEqual(parseForwarded("for=10.0.0.1; proto=https ;by=10.0.0.9"), ["10.0.0.1"]);
});

test("Forwarded: malformed headers are refused as a whole", () => {
  for (const bad of [
    "", " ", "for=", "for", "=1.2.3.4", "for=1.2.3.4,", ",for=1.2.3.4",
    "for=2001:db8::1", // a bare IPv6 must be quoted and bracketed
    'for="[2001:db8::1"', 'for="[not-an-ip]"', 'for="[2001:db8::1]x"', 'for="[2001:db8::1]:99999x"',
    "for=1.2.3.4:80", // ':' is not a token character: a port needs quotes
    'for="1.2.3.4', 'for=1.2.3.4"', "for=999.1.1.1", "for=hostname.example",
    "for=1.2.3.4;for=5.6.7.8", // a parameter twice in one element
    "for = 1.2.3.4", 'for="1.2.3.4" garbage', "for=\u00e91.2.3.4",
  ]) {
    assert.equal(parseForwarded(bad), undefined, `should be refused: ${JSON.stringify(bad)}`);
  }
});

test("X-Forwarded-For: addresses with and without ports and brackets; anything else refuses the header", () => {
  assert.deepEqual(parseXForwardedFor("203.0.113.195"), ["203.0.113.195"]);
  assert.deepEqual(parseXForwardedFor("203.0.113.195, 70.41.3.18, 150.172.238.178"), ["203.0.113.195", "70.41.3.18", "150.172.238.178"]);
  assert.deepEqual(parseXForwardedFor("2001:db8:85a3::8a2e:370:7334, 10.0.0.1"), ["2001:db8:85a3::8a2e:370:7334", "10.0.0.1"]);
  assert.deepEqual(parseXForwardedFor("[2001:db8::1]:443,10.0.0.1:5000"), ["2001:db8::1", "10.0.0.1"]);
  assert.deepEqual(parseXForwardedFor("::ffff:192.0.2.1"), ["192.0.2.1"]);
  for (const bad of ["", "unknown", "1.2.3.4,,5.6.7.8", "1.2.3.4, garbage", "1.2.3", "[1.2.3.4]", "1.2.3.4:", "1.2.3.4:port", "<script>"]) {
    assert.equal(parseXForwardedFor(bad), undefined, `should be refused: ${JSON.stringify(bad)}`);
  }
});

test("trustProxy option: true, false, addresses and CIDRs; bad entries name the option", () => {
  assert.equal(compileTrustProxy(undefined), undefined);
  assert.equal(compileTrustProxy(false), undefined);
  assert.equal(compileTrustProxy([]), undefined);
  assert.equal(compileTrustProxy(true)!("203.0.113.9"), true);
  const trust = compileTrustProxy(["127.0.0.1", "10.0.0.0/8", "fd00::/8", "::1"])!;
  assert.equal(trust("127.0.0.1"), true);
  assert.equal(trust("::ffff:127.0.0.1"), true, "an IPv4 peer on a dual-stack socket");
  assert.equal(trust("10.200.3.4"), true);
  assert.equal(trust("11.0.0.1"), false);
  assert.equal(trust("fd12::1"), true);
  assert.equal(trust("::1"), true);
  assert.equal(trust("2001:db8::1"), false);
  assert.equal(trust("garbage"), false);
  for (const bad of [["localhost"], ["10.0.0.0/33"], ["::/129"], ["10.0.0.0/x"], [42], "yes", 3]) {
    assert.throws(() => compileTrustProxy(bad as never), (err: unknown) => err instanceof OptionError && err.option === "trustProxy", JSON.stringify(bad));
  }
});

test("clientAddress: only a trusted peer's headers count; the first untrusted hop from the right is the client", () => {
  const proxies = compileTrustProxy(["127.0.0.1", "10.0.0.0/8"])!;
  const xff = (value: string) => ({ "x-forwarded-for": value });
  // Off: headers ignored.
  assert.equal(clientAddress("127.0.0.1", xff("203.0.113.7"), undefined), "127.0.0.1");
  // An untrusted peer cannot choose its address.
  assert.equal(clientAddress("198.51.100.1", xff("203.0.113.7"), proxies), "198.51.100.1");
  // Trusted peer, one hop.
  assert.equal(clientAddress("127.0.0.1", xff("203.0.113.7"), proxies), "203.0.113.7");
  assert.equal(clientAddress("::ffff:127.0.0.1", xff("203.0.113.7"), proxies), "203.0.113.7");
  // Several hops: trusted proxies on the right are skipped; a spoofed entry on the left is not reached.
  assert.equal(clientAddress("127.0.0.1", xff("6.6.6.6, 203.0.113.7, 10.1.1.1"), proxies), "203.0.113.7");
  // Every hop trusted: the leftmost.
  assert.equal(clientAddress("127.0.0.1", xff("10.9.9.9, 10.1.1.1"), proxies), "10.9.9.9");
  // trustProxy: true: the leftmost, whatever the hops.
  assert.equal(clientAddress("192.0.2.1", xff("6.6.6.6, 203.0.113.7"), compileTrustProxy(true)), "6.6.6.6");
  // Forwarded is preferred over X-Forwarded-For.
  assert.equal(clientAddress("127.0.0.1", { forwarded: 'for="[2001:db8::5]:1234"', "x-forwarded-for": "203.0.113.7" }, proxies), "2001:db8::5");
  // Malformed: the peer stays (no fall-back to the other header either).
  assert.equal(clientAddress("127.0.0.1", xff("203.0.113.7, nonsense"), proxies), "127.0.0.1");
  assert.equal(clientAddress("127.0.0.1", { forwarded: "for=2001:db8::1", "x-forwarded-for": "203.0.113.7" }, proxies), "127.0.0.1");
  // An obfuscated or unknown client: the proxy that reported it is the best address known.
  assert.equal(clientAddress("127.0.0.1", { forwarded: 'for="_hidden", for=10.2.2.2' }, proxies), "10.2.2.2");
  assert.equal(clientAddress("127.0.0.1", { forwarded: "for=unknown" }, proxies), "127.0.0.1");
  // Repeated header lines (Node joins them with ", "; an array is handled the same).
  assert.equal(clientAddress("127.0.0.1", { "x-forwarded-for": ["203.0.113.7", "10.1.1.1"] }, proxies), "203.0.113.7");
  // No header: the peer.
  assert.equal(clientAddress("127.0.0.1", {}, proxies), "127.0.0.1");
  assert.equal(clientAddress(undefined, xff("203.0.113.7"), proxies), undefined);
});
