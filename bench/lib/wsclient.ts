// A raw WebSocket client connection over `net`: does the HTTP upgrade itself, then hands
// every server frame to a callback. Optional post-open steps (socket.io's "40/ns," connect,
// an app's room join) run before the connection counts as ready.
import net from "node:net";
import { FrameParser, maskedFrame } from "./frames.ts";

export interface Step { send?: string; expect?: string }
export interface Target { host: string; port: number; path: string; steps: Step[]; localAddress?: string }

export interface RawConn {
  sock: net.Socket;
  /** Replaced by the user once ready; receives (buf, start, end, opcode). */
  onMessage: (buf: Buffer, start: number, end: number, opcode: number) => void;
  /** Called after each socket read has been parsed (lets the user batch its reaction). */
  onRead?: () => void;
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const PONG_EIO = maskedFrame(1, Buffer.from("3")).frame; // engine.io pong, pre-built

function textFrame(s: string): Buffer { return maskedFrame(1, Buffer.from(s)).frame; }

export const CLOSE_FRAME = maskedFrame(8, Buffer.from([0x03, 0xe8])).frame;

/** Connects and resolves when the upgrade and every step are done; rejects on error or timeout. */
export function connect(t: Target, timeoutMs = 10_000): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const opts: net.NetConnectOpts = { host: t.host, port: t.port, noDelay: true };
    if (t.localAddress) opts.localAddress = t.localAddress;
    const sock = net.connect(opts);
    const conn: RawConn = { sock, onMessage: () => {} };
    let head: Buffer | null = Buffer.alloc(0);
    let step = 0;
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`handshake timeout ${t.path}`)), timeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true; clearTimeout(timer); sock.destroy(); reject(err);
    };
    let sentUpTo = -1;
    const advance = () => {
      while (step < t.steps.length) {
        const s = t.steps[step]!;
        if (s.send !== undefined && sentUpTo < step) { sock.write(textFrame(s.send)); sentUpTo = step; }
        if (s.expect !== undefined) return; // the parser moves on when it arrives
        step++;
      }
      settled = true; clearTimeout(timer); resolve(conn);
    };
    const parser = new FrameParser((buf, start, end, opcode) => {
      if (opcode === 1 && end - start === 1 && buf[start] === 0x32) { sock.write(PONG_EIO); return; } // engine.io ping
      if (opcode === 9) { sock.write(maskedFrame(10, Buffer.from(buf.subarray(start, end))).frame); return; } // ws ping → pong
      if (!settled) {
        const s = t.steps[step];
        if (s?.expect !== undefined && buf.toString("utf8", start, Math.min(end, start + s.expect.length)) === s.expect) { step++; advance(); }
        return;
      }
      conn.onMessage(buf, start, end, opcode);
    });
    sock.on("connect", () => {
      sock.write(`GET ${t.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on("data", (chunk: Buffer) => {
      if (head === null) { parser.push(chunk); conn.onRead?.(); return; }
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) { if (head.length > 16384) fail(new Error("oversized handshake reply")); return; }
      const status = head.toString("latin1", 0, Math.min(end, 16));
      if (!status.startsWith("HTTP/1.1 101")) return fail(new Error(`upgrade refused: ${head.toString("latin1", 0, end).split("\r\n")[0]}`));
      const rest = head.subarray(end + 4);
      head = null;
      advance();
      if (rest.length) parser.push(rest);
    });
    sock.on("error", (err) => fail(err));
    sock.on("close", () => fail(new Error("closed during handshake")));
  });
}
