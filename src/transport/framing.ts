/**
 * TCP framings as pure, socket-free decoders and encoders: a byte stream in, whole frames out.
 * Kept apart from `tcp.ts` so every split and merge of chunks can be tested without a socket.
 *
 * - "raw":    every chunk the socket reads is one message (no framing at all).
 * - "lines":  messages end with "\n" (a preceding "\r" is stripped too); `maxLineBytes` bounds
 *             a line still waiting for its "\n".
 * - "length": a 4-byte big-endian unsigned length, then that many bytes; `maxFrameBytes` bounds
 *             the length, checked as soon as the prefix is read (before any body is buffered).
 */
import { FramingError } from "../errors.ts";

export type FramingName = "raw" | "lines" | "length";

export interface FrameDecoder {
  /** Feed one chunk; returns the frames it completed (possibly none). Throws FramingError. */
  push(chunk: Buffer): Buffer[];
  /** Bytes held back waiting for the rest of a frame. */
  readonly pending: number;
}

export interface Framing {
  readonly name: FramingName;
  decoder(): FrameDecoder;
  /** The bytes to write for one message. */
  encode(data: Buffer): Buffer | Buffer[];
}

export interface FramingLimits {
  maxLineBytes: number;
  maxFrameBytes: number;
}

export function createFraming(name: FramingName, limits: FramingLimits): Framing {
  switch (name) {
    case "raw":
      return { name, decoder: () => new RawDecoder(), encode: (data) => data };
    case "lines":
      return { name, decoder: () => new LineDecoder(limits.maxLineBytes), encode: encodeLine };
    case "length":
      return { name, decoder: () => new LengthDecoder(limits.maxFrameBytes), encode: (data) => encodeLength(data, limits.maxFrameBytes) };
  }
}

export class RawDecoder implements FrameDecoder {
  readonly pending = 0;
  push(chunk: Buffer): Buffer[] {
    return chunk.length === 0 ? [] : [chunk];
  }
}

const NEWLINE = 0x0a;
const CR = 0x0d;

export class LineDecoder implements FrameDecoder {
  readonly #max: number;
  #parts: Buffer[] = [];
  #pending = 0;

  constructor(maxLineBytes: number) {
    this.#max = maxLineBytes;
  }

  get pending(): number {
    return this.#pending;
  }

  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      this.#check(this.#pending + piece.length);
      const line = this.#parts.length === 0 ? piece : Buffer.concat([...this.#parts, piece]);
      this.#parts = [];
      this.#pending = 0;
      lines.push(line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#check(this.#pending + rest.length);
      this.#parts.push(rest);
      this.#pending += rest.length;
    }
    return lines;
  }

  #check(length: number): void {
    // Counts every byte before the "\n", a trailing "\r" included.
    if (length > this.#max) throw new FramingError("line_too_long", `line longer than maxLineBytes (${this.#max})`);
  }
}

export function encodeLine(data: Buffer): Buffer[] {
  return [data, Buffer.from("\n")];
}

const PREFIX = 4;

export class LengthDecoder implements FrameDecoder {
  readonly #max: number;
  #buffer: Buffer = Buffer.alloc(0);
  /** Body length of the frame being read, or -1 while its prefix is incomplete. */
  #need = -1;

  constructor(maxFrameBytes: number) {
    this.#max = maxFrameBytes;
  }

  get pending(): number {
    return this.#buffer.length;
  }

  push(chunk: Buffer): Buffer[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#need === -1) {
        if (this.#buffer.length < PREFIX) break;
        const length = this.#buffer.readUInt32BE(0);
        if (length > this.#max) {
          throw new FramingError("frame_too_big", `frame of ${length} bytes is over maxFrameBytes (${this.#max})`);
        }
        this.#need = length;
        this.#buffer = this.#buffer.subarray(PREFIX);
      }
      if (this.#buffer.length < this.#need) break;
      frames.push(this.#buffer.subarray(0, this.#need));
      this.#buffer = this.#buffer.subarray(this.#need);
      this.#need = -1;
    }
    // Do not keep a large chunk alive through a small leftover view of it.
    if (this.#buffer.length > 0 && this.#buffer.buffer.byteLength > this.#buffer.length * 4) this.#buffer = Buffer.from(this.#buffer);
    return frames;
  }
}

export function encodeLength(data: Buffer, maxFrameBytes = 0xffff_ffff): Buffer[] {
  if (data.length > maxFrameBytes) {
    throw new FramingError("frame_too_big", `cannot send a frame of ${data.length} bytes: over maxFrameBytes (${maxFrameBytes})`);
  }
  const prefix = Buffer.allocUnsafe(PREFIX);
  prefix.writeUInt32BE(data.length, 0);
  return [prefix, data];
}
