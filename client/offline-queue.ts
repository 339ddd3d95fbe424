/**
 * Frames written while the connection is down, kept in order and sent once when it is back.
 * Bounded: when full, a new frame is refused (the caller is told), never an old one dropped
 * silently.
 */

/** Default bound; the same figure as `maxOfflineQueue` in src/limits.ts (a test checks). */
export const DEFAULT_MAX_OFFLINE_QUEUE = 1_000;

export interface QueuedFrame {
  readonly text: string;
  /** The request id of a call, so a failed call can be taken out of the queue. */
  readonly id?: number;
}

export class OfflineQueue {
  private frames: QueuedFrame[] = [];
  constructor(readonly max: number = DEFAULT_MAX_OFFLINE_QUEUE) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`maxOfflineQueue must be an integer >= 0, got ${max}`);
  }

  get size(): number {
    return this.frames.length;
  }

  /** False when the queue is full (the frame was not queued). */
  push(frame: QueuedFrame): boolean {
    if (this.frames.length >= this.max) return false;
    this.frames.push(frame);
    return true;
  }

  /** Take a call's frame out (its timeout passed before the connection came back). */
  remove(id: number): void {
    this.frames = this.frames.filter((frame) => frame.id !== id);
  }

  /** Hand every frame to `send` in order; each leaves the queue as it is sent (so: once). */
  drain(send: (frame: QueuedFrame) => boolean): void {
    while (this.frames.length > 0) {
      const frame = this.frames[0]!;
      if (!send(frame)) return; // the socket went away mid-drain: keep the rest for next time
      this.frames.shift();
    }
  }

  clear(): QueuedFrame[] {
    const frames = this.frames;
    this.frames = [];
    return frames;
  }
}
