/**
 * CSS-WC (ETSI TS 103 286-2 clause 8): the 32-byte wall clock message, big-endian.
 *
 *   offset size field
 *        0    1 version            always 0
 *        1    1 message type       0 request, 1 response, 2 response with follow-up, 3 follow-up
 *        2    1 precision          int8, log2 seconds (-10 ≈ 1 ms)
 *        3    1 reserved           0
 *        4    4 max freq error     uint32, 1/256 ppm
 *        8    8 originate timevalue   uint32 seconds + uint32 nanoseconds
 *       16    8 receive timevalue
 *       24    8 transmit timevalue
 *
 * Pure: no sockets. Timevalues are bigint nanoseconds. The originate timevalue is also kept as
 * its raw 8 bytes, because a server must echo it exactly as received (even a nanoseconds word
 * >= 10^9 that a client may use as an opaque tag).
 */
export const WC_MESSAGE_SIZE = 32;

export const WcType = {
  Request: 0,
  Response: 1,
  ResponseWithFollowUp: 2,
  FollowUp: 3,
} as const;
export type WcTypeValue = (typeof WcType)[keyof typeof WcType];

export interface WcMessage {
  type: WcTypeValue;
  /** log2 seconds, -128..127. */
  precision: number;
  /** 1/256 ppm units, 0..2^32-1. */
  maxFreqError: number;
  originate: bigint;
  receive: bigint;
  transmit: bigint;
  /** The originate timevalue's 8 bytes as received; written back unchanged when set. */
  originateRaw?: Buffer;
}

export class WcMessageError extends Error {}

const NS = 1_000_000_000n;

export function unpackWc(data: Buffer): WcMessage {
  if (data.length !== WC_MESSAGE_SIZE) throw new WcMessageError(`wrong size: ${data.length} bytes, expected ${WC_MESSAGE_SIZE}`);
  const version = data.readUInt8(0);
  if (version !== 0) throw new WcMessageError(`unknown version ${version}`);
  const type = data.readUInt8(1);
  if (type > WcType.FollowUp) throw new WcMessageError(`unknown message type ${type}`);
  return {
    type: type as WcTypeValue,
    precision: data.readInt8(2),
    maxFreqError: data.readUInt32BE(4),
    originate: readTime(data, 8),
    receive: readTime(data, 16),
    transmit: readTime(data, 24),
    originateRaw: Buffer.from(data.subarray(8, 16)),
  };
}

export function packWc(message: WcMessage): Buffer {
  const out = Buffer.alloc(WC_MESSAGE_SIZE);
  out.writeUInt8(0, 0);
  out.writeUInt8(message.type, 1);
  out.writeInt8(message.precision, 2);
  out.writeUInt8(0, 3);
  out.writeUInt32BE(message.maxFreqError, 4);
  if (message.originateRaw !== undefined && message.originateRaw.length === 8) message.originateRaw.copy(out, 8);
  else writeTime(out, 8, message.originate);
  writeTime(out, 16, message.receive);
  writeTime(out, 24, message.transmit);
  return out;
}

function readTime(data: Buffer, offset: number): bigint {
  return BigInt(data.readUInt32BE(offset)) * NS + BigInt(data.readUInt32BE(offset + 4));
}

function writeTime(out: Buffer, offset: number, nanos: bigint): void {
  if (nanos < 0n) throw new WcMessageError("a timevalue cannot be negative");
  const seconds = nanos / NS;
  if (seconds > 0xffff_ffffn) throw new WcMessageError("a timevalue's seconds do not fit in 32 bits");
  out.writeUInt32BE(Number(seconds), offset);
  out.writeUInt32BE(Number(nanos % NS), offset + 4);
}

/** Precision in seconds → the int8 log2 encoding (rounded up: never claim better than measured). */
export function encodePrecision(seconds: number): number {
  return Math.max(-128, Math.min(127, Math.ceil(Math.log2(seconds))));
}

export function decodePrecision(encoded: number): number {
  return 2 ** encoded;
}

/** Max frequency error in ppm → 1/256 ppm units (rounded up). */
export function encodeMaxFreqError(ppm: number): number {
  return Math.min(0xffff_ffff, Math.ceil(ppm * 256));
}

export function decodeMaxFreqError(encoded: number): number {
  return encoded / 256;
}
