/**
 * Writes held back until the end of the tick, then handed to the socket as ONE buffer.
 *
 * When a socket gets several messages in one turn of the event loop (a broadcast loop per
 * message of a read), corking its stream made each message a `Writable.write` (a request
 * object queued in the stream) and the uncork a `writev` of them all: per socket per tick an
 * array of chunks, a write request and a vector of buffers, which with the system call was
 * most of a 10k fan-out's CPU. Held here instead, they cost an array push each; at the end of
 * the tick they become one buffer and one plain `write`. A broadcast gives every socket the same
 * frames in the same order, so that buffer is joined once and written to every socket
 * (frame once, write many, per tick): `joinedFrames` keeps the last join and reuses it while the
 * next socket's frames are the same objects.
 *
 * Order: anything else written to the socket (a frame ws sends itself: a pong, the close reply,
 * a compressed message) goes through `socket.write`, which here first hands over the held
 * frames, so nothing overtakes them.
 */
import { Writable } from "node:stream";
import type { Socket } from "node:net";

/**
 * Up to this many bytes held frames are joined into one buffer. Above, they leave as one writev
 * of the frames themselves, as corked writes did: copying big payloads per socket (an echo of
 * 4 KiB messages) would cost more than the writev it saves.
 */
const JOIN_LIMIT = 4 * 1024;

const HELD = Symbol("switchboard.heldWrites");

/** One socket's held frames (made on its first held write, then reused). */
export class HeldWrites {
  frames: Buffer[] = [];
  /** Bytes in `frames` (counted in the socket's bufferedAmount). */
  bytes = 0;
  /** The stream itself is corked until the end of the tick (a write through ws joined this tick). */
  corked = false;
  /** On this tick's list of sockets to finish. */
  listed = false;
  readonly socket: Socket;

  constructor(socket: Socket) {
    this.socket = socket;
    (socket as HoldingSocket)[HELD] = this;
    socket.write = writeAfterHeld;
  }

  add(frame: Buffer): void {
    this.frames.push(frame);
    this.bytes += frame.length;
  }

  /** Hands the held frames to the stream, in order (one buffer when small). */
  release(): void {
    const frames = this.frames;
    const n = frames.length;
    if (n === 0) return;
    const socket = this.socket;
    const bytes = this.bytes;
    this.bytes = 0;
    if (socket.destroyed || socket.writableEnded) {
      frames.length = 0; // as corked bytes of a destroyed socket: never sent
      return;
    }
    if (n === 1) {
      const only = frames[0]!;
      frames.length = 0;
      streamWrite(socket, only);
    } else if (bytes <= JOIN_LIMIT) {
      const joined = joinedFrames(frames, bytes);
      frames.length = 0;
      streamWrite(socket, joined);
    } else {
      const corked = socket.writableCorked > 0;
      if (!corked) socket.cork();
      for (let i = 0; i < n; i++) streamWrite(socket, frames[i]!);
      frames.length = 0;
      if (!corked) socket.uncork();
    }
  }
}

interface HoldingSocket extends Socket {
  [HELD]?: HeldWrites;
}

function streamWrite(socket: Socket, chunk: Buffer): void {
  ((Object.getPrototypeOf(socket) as Writable).write as (this: Socket, chunk: Buffer) => boolean).call(socket, chunk);
}

/** The socket's `write` once it holds writes: what ws writes itself comes after what is held. */
function writeAfterHeld(this: HoldingSocket, ...args: unknown[]): boolean {
  this[HELD]?.release();
  return (Object.getPrototypeOf(this) as Writable).write.apply(this, args as Parameters<Writable["write"]>);
}

let lastFrames: Buffer[] = [];
let lastJoined: Buffer | undefined;

/** The frames as one buffer; the same frames as the last call's (a broadcast's next socket) reuse its buffer. */
function joinedFrames(frames: Buffer[], bytes: number): Buffer {
  const last = lastFrames;
  if (lastJoined !== undefined && last.length === frames.length) {
    let same = true;
    for (let i = 0; i < frames.length; i++) {
      if (last[i] !== frames[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastJoined;
  }
  lastFrames = frames.slice();
  lastJoined = Buffer.concat(frames, bytes);
  return lastJoined;
}

/** At the end of a tick: the next tick's frames are new objects, so let the last join go. */
export function forgetJoinedFrames(): void {
  lastFrames = [];
  lastJoined = undefined;
}
