/**
 * How a bus message is checked and put on the wire. One frame per publish:
 *
 *   <kind byte><publisher nodeId>\n<body>
 *
 * kind "s": body is a string sent as is (pre-serialised frames cost no JSON encoding at all);
 * kind "j": body is JSON; kind "b": body is raw bytes. The nodeId lets a node drop its own
 * messages when Redis echoes them back.
 */
import { Buffer } from "node:buffer";
import { OptionError } from "../errors.ts";
import { limitDefault } from "../limits.ts";
import type { BusPayload } from "./bus.ts";

export type PayloadKind = "s" | "j" | "b";

export interface EncodedPayload {
  readonly kind: PayloadKind;
  readonly body: string | Buffer;
}

const MAX_NODE_ID = 128;

export function checkNodeId(nodeId: unknown): string {
  if (typeof nodeId !== "string" || nodeId.length === 0 || nodeId.length > MAX_NODE_ID || /[\n\r]/.test(nodeId)) {
    throw new OptionError("nodeId", `must be a non-empty string of at most ${MAX_NODE_ID} characters without line breaks`);
  }
  return nodeId;
}

export function checkChannel(channel: unknown, maxLength = limitDefault("busMaxChannelLength")): string {
  if (typeof channel !== "string" || channel.length === 0) {
    throw new OptionError("channel", "must be a non-empty string");
  }
  if (channel.length > maxLength) {
    throw new OptionError("channel", `is ${channel.length} characters, more than busMaxChannelLength (${maxLength})`);
  }
  return channel;
}

/** Validate and encode once per publish; throws OptionError("payload") for what cannot travel. */
export function encodePayload(payload: BusPayload, maxBytes = limitDefault("busMaxPayloadBytes")): EncodedPayload {
  let encoded: EncodedPayload;
  if (typeof payload === "string") {
    encoded = { kind: "s", body: payload };
  } else if (Buffer.isBuffer(payload)) {
    encoded = { kind: "b", body: payload };
  } else {
    encoded = { kind: "j", body: toJson(payload) };
  }
  const size = byteSize(encoded.body, maxBytes);
  if (size > maxBytes) {
    throw new OptionError("payload", `is ${size} bytes encoded, more than busMaxPayloadBytes (${maxBytes})`);
  }
  return encoded;
}

/** The frame for Redis. Strings stay strings (the client writes them out once, no extra copy here). */
export function toWire(from: string, payload: EncodedPayload): string | Buffer {
  const header = payload.kind + from + "\n";
  if (typeof payload.body === "string") return header + payload.body;
  return Buffer.concat([Buffer.from(header), payload.body]);
}

export interface DecodedFrame {
  readonly from: string;
  readonly payload: BusPayload;
}

/** Parse a frame from Redis; a malformed one (someone else writing on our prefix) gives an Error. */
export function fromWire(frame: Buffer): DecodedFrame | Error {
  const newline = frame.indexOf(10);
  if (newline < 2) return new Error("malformed bus frame: no header");
  const kind = String.fromCharCode(frame[0]!);
  const from = frame.toString("utf8", 1, newline);
  const body = frame.subarray(newline + 1);
  if (kind === "b") return { from, payload: body };
  if (kind === "s") return { from, payload: body.toString("utf8") };
  if (kind === "j") {
    try {
      return { from, payload: JSON.parse(body.toString("utf8")) as unknown };
    } catch (err) {
      return new Error("malformed bus frame: bad JSON body", { cause: err });
    }
  }
  return new Error(`malformed bus frame: unknown kind ${JSON.stringify(kind)}`);
}

/** What another node receives for an encoded payload (a copy, as if it had crossed the network). */
export function decodeLocal(payload: EncodedPayload): BusPayload {
  if (payload.kind === "j") return JSON.parse(payload.body as string) as unknown;
  if (payload.kind === "b") return Buffer.from(payload.body as Buffer);
  return payload.body;
}

function toJson(payload: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (err) {
    // Circular structures and BigInt land here.
    throw new OptionError("payload", `is not JSON-serialisable (${(err as Error).message})`);
  }
  if (text === undefined) {
    throw new OptionError("payload", `is not JSON-serialisable (${typeof payload})`);
  }
  return text;
}

/** UTF-8 size, without measuring strings that cannot be over the limit (3 bytes per UTF-16 unit at most). */
function byteSize(body: string | Buffer, maxBytes: number): number {
  if (typeof body !== "string") return body.length;
  if (body.length * 3 <= maxBytes) return body.length;
  return Buffer.byteLength(body, "utf8");
}
