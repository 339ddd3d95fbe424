// Client-side RFC 6455 framing for the load generator: frames are built ONCE with a random
// mask key; only the 15-digit timestamp inside is patched (and masked) before each write.
import { randomBytes } from "node:crypto";

/** The marker that starts the timestamp in every payload: "~" + 15 decimal digits (µs). */
export const TS_MARK = 0x7e;
export const TS_LEN = 16;
export const TS_PLACEHOLDER = "~000000000000000";

export interface FramePart {
  opcode: 1 | 2;
  /** Text payload (must contain TS_PLACEHOLDER once if it carries the timestamp). */
  text?: string;
  /** Binary payload size: "~" + 15 digits at offset 0, then random bytes. */
  binSize?: number;
}

/** A pre-built unit: one or more frames (socket.io binary = placeholder text + attachment). */
export interface Unit {
  buf: Buffer;
  /** Absolute positions to patch: payload byte index of "~" and the frame's mask key offset. */
  patches: Array<{ at: number; keyAt: number; payloadIndex: number }>;
}

export function maskedFrame(opcode: number, payload: Buffer): { frame: Buffer; keyAt: number; payloadAt: number } {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(hdr + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) { frame[1] = 0x80 | 126; frame.writeUInt16BE(len, 2); }
  else { frame[1] = 0x80 | 127; frame.writeBigUInt64BE(BigInt(len), 2); }
  const key = randomBytes(4);
  key.copy(frame, hdr);
  for (let i = 0; i < len; i++) frame[hdr + 4 + i] = payload[i]! ^ key[i & 3]!;
  return { frame, keyAt: hdr, payloadAt: hdr + 4 };
}

export function buildUnit(parts: FramePart[]): Unit {
  const bufs: Buffer[] = [];
  const patches: Unit["patches"] = [];
  let pos = 0;
  for (const p of parts) {
    let payload: Buffer;
    if (p.text !== undefined) payload = Buffer.from(p.text, "utf8");
    else { payload = randomBytes(p.binSize ?? 0); Buffer.from(TS_PLACEHOLDER).copy(payload, 0); }
    const { frame, keyAt, payloadAt } = maskedFrame(p.opcode, payload);
    const idx = payload.indexOf(TS_PLACEHOLDER);
    if (idx >= 0) patches.push({ at: pos + payloadAt + idx, keyAt: pos + keyAt, payloadIndex: idx });
    bufs.push(frame);
    pos += frame.length;
  }
  return { buf: Buffer.concat(bufs), patches };
}

/** `count` units back to back in one buffer, so a batch of k units is one subarray = one write. */
export function buildBatch(parts: FramePart[], count: number): { buf: Buffer; unitLen: number; patches: Unit["patches"] } {
  const units = Array.from({ length: count }, () => buildUnit(parts));
  const unitLen = units[0]!.buf.length;
  const patches: Unit["patches"] = [];
  units.forEach((u, i) => { for (const p of u.patches) patches.push({ at: p.at + i * unitLen, keyAt: p.keyAt + i * unitLen, payloadIndex: p.payloadIndex }); });
  return { buf: Buffer.concat(units.map((u) => u.buf)), unitLen, patches };
}

const digits = Buffer.alloc(15);
/** Writes the 15-digit timestamp (µs) into every patch point of the first `units` units. */
export function stamp(batch: { buf: Buffer; unitLen: number; patches: Unit["patches"] }, units: number, tsMicros: number): void {
  let v = Math.floor(tsMicros);
  for (let i = 14; i >= 0; i--) { digits[i] = 48 + (v % 10); v = Math.floor(v / 10); }
  const end = units * batch.unitLen;
  const buf = batch.buf;
  for (const p of batch.patches) {
    if (p.at >= end) break;
    for (let i = 0; i < 15; i++) {
      const k = p.payloadIndex + 1 + i;
      buf[p.at + 1 + i] = digits[i]! ^ buf[p.keyAt + (k & 3)]!;
    }
  }
}

/** Reads the timestamp after the "~" marker in a server payload, or -1 when there is none. */
export function readStamp(buf: Buffer, start: number, end: number): number {
  let i = start;
  if (buf[i] !== TS_MARK) {
    const lim = Math.min(end, start + 96);
    i = buf.indexOf(TS_MARK, start);
    if (i < 0 || i >= lim) return -1;
  }
  if (i + TS_LEN > end) return -1;
  let v = 0;
  for (let j = i + 1; j < i + TS_LEN; j++) {
    const c = buf[j]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Monotonic µs, comparable across processes on one machine (CLOCK_MONOTONIC). */
export function nowMicros(): number {
  const t = process.hrtime();
  return t[0] * 1e6 + Math.floor(t[1] / 1e3);
}

/**
 * Minimal parser for server frames (never masked). Calls onMessage(buf, start, end, opcode)
 * for each complete data frame; keeps a tail only when a frame straddles chunks.
 */
export class FrameParser {
  private tail: Buffer | null = null;
  constructor(private readonly onMessage: (buf: Buffer, start: number, end: number, opcode: number) => void) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.tail) { buf = Buffer.concat([this.tail, chunk]); this.tail = null; }
    let pos = 0;
    const n = buf.length;
    while (pos + 2 <= n) {
      const b1 = buf[pos + 1]! & 0x7f;
      let hdr = 2;
      let len = b1;
      if (b1 === 126) { if (pos + 4 > n) break; len = buf.readUInt16BE(pos + 2); hdr = 4; }
      else if (b1 === 127) { if (pos + 10 > n) break; len = Number(buf.readBigUInt64BE(pos + 2)); hdr = 10; }
      if (pos + hdr + len > n) break;
      this.onMessage(buf, pos + hdr, pos + hdr + len, buf[pos]! & 0x0f);
      pos += hdr + len;
    }
    if (pos < n) this.tail = buf.subarray(pos);
  }
}
