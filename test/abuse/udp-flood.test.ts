/**
 * A bounded flood of bad datagrams (oversize, malformed, ones whose handler throws, returns a
 * value that is not a datagram, or fires a reply.send() it never awaits) leaves a UDP listener
 * serving: a normal request still gets its answer, nothing is unhandled, and every datagram
 * received is accounted for exactly once in the counters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { UdpListener, type UdpStats } from "../../src/transport/udp.ts";
import { MalformedDatagram } from "../../src/errors.ts";
import { udpClient, udpExchange, within } from "../helpers/net-clients.ts";

const logger = pino({ level: "silent" });
const MAX_DATAGRAM = 64;

/** Every datagram received ends in exactly one of these (a reply counts once per answered request). */
function accountedFor(stats: UdpStats): number {
  const d = stats.dropped;
  return stats.replied + d.oversize + d.busy + d.malformed + d.handlerError + d.sendError;
}

/** A listener with a handler for every kind of bad datagram; "ping…" is the one good request. */
async function floodTarget(): Promise<UdpListener> {
  const listener = new UdpListener({
    port: 0, host: "127.0.0.1", maxDatagramBytes: MAX_DATAGRAM, logger,
    handle(message, _from, reply) {
      const text = message.toString();
      if (text.startsWith("ping")) return `pong${text.slice(4)}`;
      if (text === "bad") throw new MalformedDatagram("not a request");
      if (text === "boom") throw new Error("handler bug");
      if (text === "number") return 42 as unknown as string; // not a datagram
      if (text === "fire") { void reply.send(42 as unknown as string); return undefined; } // rejects; never awaited
      return undefined;
    },
  });
  await listener.start();
  return listener;
}

/**
 * Bounded: `rounds` rounds of 10 of each datagram, each round followed by a good request.
 * Datagrams are handled in arrival order, so its answer also says the round before it was
 * handled (and the pauses keep the loopback receive buffer from overflowing).
 */
async function flood(listener: UdpListener, kinds: Buffer[], rounds = 10): Promise<void> {
  const client = udpClient();
  try {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 10; i++) {
        for (const datagram of kinds) {
          await new Promise<void>((resolve, reject) => client.send(datagram, listener.port, "127.0.0.1", (err) => (err ? reject(err) : resolve())));
        }
      }
      const [answer] = await udpExchange(listener.port, Buffer.from(`ping-${round}`));
      assert.equal(answer!.toString(), `pong-${round}`);
    }
  } finally {
    client.close();
  }
}

test("a bounded flood of oversize, malformed, throwing and wrong-reply datagrams: each counted once; good requests answered", async () => {
  const listener = await floodTarget();
  try {
    await flood(listener, [Buffer.alloc(MAX_DATAGRAM + 100, 1), Buffer.from("bad"), Buffer.from("boom"), Buffer.from("number")]);
    const stats = listener.stats();
    assert.equal(stats.received > 0, true);
    assert.equal(accountedFor(stats), stats.received, `every datagram counted once: ${JSON.stringify(stats)}`);
    assert.equal(stats.dropped.oversize > 0 && stats.dropped.malformed > 0 && stats.dropped.handlerError > 0, true);
    // After the counters were read: the listener still serves.
    const [again] = await udpExchange(listener.port, Buffer.from("ping-last"));
    assert.equal(again!.toString(), "pong-last");
  } finally {
    await within(listener.stop(), "udp stop");
  }
});

test("a flood of handlers that fire a failing reply.send() and never await it: counted as send errors, nothing unhandled", async () => {
  const listener = await floodTarget();
  try {
    await flood(listener, [Buffer.from("fire")], 5);
    const stats = listener.stats();
    assert.equal(stats.dropped.sendError > 0, true);
    assert.equal(accountedFor(stats), stats.received, `every datagram counted once: ${JSON.stringify(stats)}`);
    const [again] = await udpExchange(listener.port, Buffer.from("ping-last"));
    assert.equal(again!.toString(), "pong-last");
  } finally {
    await within(listener.stop(), "udp stop");
  }
});
