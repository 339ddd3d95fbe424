import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { UdpListener, type UdpOptions } from "../../src/transport/udp.ts";
import { createLogger } from "../../src/log.ts";
import { MalformedDatagram, OptionError } from "../../src/errors.ts";
import { udpExchange, within } from "../helpers/net-clients.ts";

const logger = createLogger({ level: "silent" });

async function listen(options: Omit<UdpOptions, "port" | "host">): Promise<UdpListener> {
  const listener = new UdpListener({ port: 0, host: "127.0.0.1", logger, ...options });
  await listener.start();
  return listener;
}

/** The handler sees every datagram that passes the size check; this resolves once it has seen `n`. */
function counter(): { seen: () => void; reached: (n: number) => Promise<void> } {
  let count = 0;
  const waiters: Array<[number, () => void]> = [];
  return {
    seen() {
      count += 1;
      for (const [n, resolve] of waiters) if (count >= n) resolve();
    },
    reached(n) {
      return count >= n ? Promise.resolve() : new Promise((resolve) => waiters.push([n, resolve]));
    },
  };
}

test("request/response: the returned value is sent back to the sender; async handlers too", async () => {
  const listener = await listen({ handle: async (message, from) => {
    assert.equal(from.address, "127.0.0.1");
    return Buffer.concat([Buffer.from("re:"), message]);
  } });
  try {
    const [reply] = await udpExchange(listener.port, Buffer.from("ping"));
    assert.equal(reply!.toString(), "re:ping");
    const stats = listener.stats();
    assert.equal(stats.received, 1);
    assert.equal(stats.replied, 1);
    assert.equal(stats.bytesIn, 4);
    assert.equal(stats.bytesOut, 7);
  } finally {
    await listener.stop();
  }
});

test("reply.send sends extra datagrams before the returned one (response + follow-up)", async () => {
  const listener = await listen({ handle: async (_message, _from, reply) => {
    await reply.send("first");
    return "second";
  } });
  try {
    const replies = await udpExchange(listener.port, Buffer.from("x"), 2);
    assert.deepEqual(replies.map(String), ["first", "second"]);
  } finally {
    await listener.stop();
  }
});

test("oversize datagrams are dropped before the handler and counted; malformed ones counted", async () => {
  const seen = counter();
  const listener = await listen({ maxDatagramBytes: 32, handle: (message) => {
    seen.seen();
    if (message[0] !== 0) throw new MalformedDatagram("first byte must be 0");
    return message;
  } });
  try {
    const { createSocket } = await import("node:dgram");
    const socket = createSocket("udp4");
    try {
      socket.send(Buffer.alloc(33), listener.port, "127.0.0.1"); // oversize: never reaches handle
      socket.send(Buffer.from([1, 2, 3]), listener.port, "127.0.0.1"); // malformed
      await within(seen.reached(1), "the malformed datagram reaches the handler");
    } finally {
      socket.close();
    }
    // A good request after both proves the listener is still serving, and orders the counters.
    const [reply] = await udpExchange(listener.port, Buffer.from([0, 9]));
    assert.deepEqual([...reply!], [0, 9]);
    assert.deepEqual(listener.stats().dropped, { oversize: 1, busy: 0, malformed: 1, handlerError: 0, sendError: 0 });
    assert.equal(listener.stats().replied, 1);
  } finally {
    await listener.stop();
  }
});

test("a throwing handler is logged and the datagram dropped; undefined means no reply", async () => {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  const seen = counter();
  const listener = new UdpListener({ port: 0, host: "127.0.0.1", logger: createLogger({ level: "error", destination }), handle: (message) => {
    seen.seen();
    const text = message.toString();
    if (text === "throw") throw new Error("handler exploded");
    if (text === "reject") return Promise.reject(new Error("handler rejected"));
    if (text === "quiet") return undefined;
    return "ok";
  } });
  await listener.start();
  try {
    const { createSocket } = await import("node:dgram");
    const socket = createSocket("udp4");
    try {
      for (const text of ["throw", "reject", "quiet"]) socket.send(Buffer.from(text), listener.port, "127.0.0.1");
      await within(seen.reached(3), "three datagrams handled");
    } finally {
      socket.close();
    }
    const [reply] = await udpExchange(listener.port, Buffer.from("hello"));
    assert.equal(reply!.toString(), "ok");
    assert.equal(listener.stats().dropped.handlerError, 2);
    assert.equal(listener.stats().replied, 1);
    assert.ok(lines.some((l) => l.includes("handler exploded")), "the throw is logged");
    assert.ok(lines.some((l) => l.includes("handler rejected")), "the rejection is logged");
  } finally {
    await listener.stop();
  }
});

test("busy: datagrams beyond maxPendingDatagrams running handlers are dropped and counted", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let busyLogged!: () => void;
  const busy = new Promise<void>((r) => (busyLogged = r));
  const destination = new Writable({ write(chunk, _enc, done) { if (String(chunk).includes("udp busy")) busyLogged(); done(); } });
  const seen = counter();
  const listener = new UdpListener({ port: 0, host: "127.0.0.1", maxPendingDatagrams: 2, logger: createLogger({ level: "debug", destination }), handle: async (message) => {
    seen.seen();
    if (message.toString() === "slow") await gate;
    return "done";
  } });
  await listener.start();
  try {
    const { createSocket } = await import("node:dgram");
    const socket = createSocket("udp4");
    let replies = 0;
    const bothSlowAnswered = new Promise<void>((resolve) => socket.on("message", () => { if (++replies === 2) resolve(); }));
    try {
      socket.send("slow", listener.port, "127.0.0.1");
      socket.send("slow", listener.port, "127.0.0.1");
      await within(seen.reached(2), "two slow handlers running");
      socket.send("fast", listener.port, "127.0.0.1"); // both slots taken: dropped
      await within(busy, "the busy drop");
      release();
      // A handler's slot frees once its reply is handed to the kernel, before the reply arrives.
      await within(bothSlowAnswered, "the two slow replies");
    } finally {
      release();
      socket.close();
    }
    const [reply] = await udpExchange(listener.port, Buffer.from("fast")); // slots free again
    assert.equal(reply!.toString(), "done");
    assert.equal(listener.stats().dropped.busy, 1);
  } finally {
    await listener.stop();
  }
});

test("stop waits for running handlers and their replies; bad options name the option", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  const listener = await listen({ handle: async () => { entered(); await gate; return "late"; } });
  const exchange = udpExchange(listener.port, Buffer.from("x"));
  await within(inHandler, "handler running");
  const stopped = listener.stop();
  release();
  const [reply] = await exchange;
  assert.equal(reply!.toString(), "late");
  await within(stopped, "stop resolves");
  assert.throws(() => new UdpListener({ port: 0, handle: "x" as never }), (e) => e instanceof OptionError && e.option === "handle");
  assert.throws(() => new UdpListener({ port: 0, handle: () => undefined, maxDatagramBytes: 0 }), (e) => e instanceof OptionError && e.option === "maxDatagramBytes");
});

test("service shape: an already aborted signal stops the listener right after start", async () => {
  const controller = new AbortController();
  controller.abort();
  const listener = new UdpListener({ port: 0, logger, handle: () => "x" });
  await listener.start(controller.signal);
  await within(listener.stop(), "stopped");
  assert.equal(listener.stats().received, 0);
});
