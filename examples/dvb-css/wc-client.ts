/**
 * CSS-WC client: sends wall clock requests and estimates the server's wall clock.
 *
 *   npx tsx --conditions=source examples/dvb-css/wc-client.ts udp://127.0.0.1:6677 [count]
 *
 * For each request/response (t1 sent, t2 received by the server, t3 sent by the server, t4
 * received back; t1/t4 on our clock, t2/t3 on the server's wall clock):
 *   offset     = ((t2 + t3) - (t1 + t4)) / 2          server wall clock − our clock
 *   rtt        = (t4 - t1) - (t3 - t2)
 *   dispersion = server precision + our precision + rtt/2
 *                + our max freq error × (t4 - t1) + server max freq error × (t3 - t2)
 * (ETSI TS 103 286-2 annex C; pydvbcss's Candidate). The candidate with the lowest dispersion wins.
 * A type-2 response waits (bounded) for its type-3 follow-up, whose transmit timevalue replaces t3.
 *
 * A reply is used only when it comes from the server's address and port (anyone can send a
 * datagram to our port) and its receive timevalue is not after its transmit timevalue (else the
 * server's clock or packing is broken and the offset would be nonsense). Other replies are
 * reported in `rejected`, and the request keeps waiting for a good one.
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import { lookup } from "node:dns/promises";
import { pathToFileURL } from "node:url";
import { measurePrecision } from "./wall-clock.ts";
import { WcMessageError, WcType, decodeMaxFreqError, decodePrecision, packWc, unpackWc, type WcMessage } from "./wc-message.ts";

export interface WcCandidate {
  offsetNs: bigint;
  rttNs: bigint;
  dispersionNs: bigint;
  t1: bigint; t2: bigint; t3: bigint; t4: bigint;
  followUp: boolean;
}

export interface WcClientOptions {
  host: string;
  port: number;
  /** Requests to send, one after another (bounded). */
  count?: number;
  /** Wait for each response at most this long. */
  timeoutMs?: number;
  /** Our clock, ns. Default: process.hrtime.bigint(). */
  clock?: () => bigint;
  /** Our max frequency error, ppm. */
  maxFreqErrorPpm?: number;
}

export function candidateFrom(response: WcMessage, t4: bigint, clientPrecisionSecs: number, clientMfePpm: number, followUp: boolean): WcCandidate {
  const t1 = response.originate, t2 = response.receive, t3 = response.transmit;
  const offsetNs = (t2 + t3 - (t1 + t4)) / 2n;
  const rttNs = t4 - t1 - (t3 - t2);
  const seconds =
    decodePrecision(response.precision) + clientPrecisionSecs +
    (Number(rttNs) / 2 + (clientMfePpm / 1e6) * Number(t4 - t1) + (decodeMaxFreqError(response.maxFreqError) / 1e6) * Number(t3 - t2)) / 1e9;
  return { offsetNs, rttNs, dispersionNs: BigInt(Math.ceil(seconds * 1e9)), t1, t2, t3, t4, followUp };
}

export interface WcMeasurement {
  best: WcCandidate;
  candidates: WcCandidate[];
  /** Requests that got no usable answer in time. */
  lost: number;
  /** Why each reply that was not used was refused (wrong source, receive after transmit). */
  rejected: string[];
}

/** Why a reply to our request cannot be used, or undefined when it can. */
export function replyProblem(message: WcMessage, from: RemoteInfo, server: { address: string; port: number }): string | undefined {
  if (from.address !== server.address || from.port !== server.port) {
    return `reply from ${from.address}:${from.port}, not from the server ${server.address}:${server.port}`;
  }
  if (message.receive > message.transmit) return `receive timevalue ${message.receive} is after transmit timevalue ${message.transmit}`;
  return undefined;
}

export async function measureWallClock(options: WcClientOptions): Promise<WcMeasurement> {
  const clock = options.clock ?? (() => process.hrtime.bigint());
  const count = options.count ?? 8;
  const timeoutMs = options.timeoutMs ?? 1000;
  const precision = measurePrecision();
  const mfe = options.maxFreqErrorPpm ?? 500;
  // Replies are compared with the server's address, so a host name is resolved first.
  const resolved = await lookup(options.host);
  const server = { address: resolved.address, port: options.port };
  const socket = createSocket(resolved.family === 6 ? "udp6" : "udp4");
  const candidates: WcCandidate[] = [];
  const rejected: string[] = [];
  let lost = 0;
  try {
    for (let i = 0; i < count; i++) {
      const candidate = await exchange(socket, server, clock, timeoutMs, precision, mfe, rejected);
      if (candidate === undefined) lost += 1;
      else candidates.push(candidate);
    }
  } finally {
    socket.close();
  }
  if (candidates.length === 0) {
    const why = rejected.length === 0 ? "" : ` (replies refused: ${[...new Set(rejected)].join("; ")})`;
    throw new Error(`no usable response from udp://${options.host}:${options.port} to ${count} requests${why}`);
  }
  const best = candidates.reduce((a, b) => (b.dispersionNs < a.dispersionNs ? b : a));
  return { best, candidates, lost, rejected };
}

function exchange(
  socket: ReturnType<typeof createSocket>, server: { address: string; port: number }, clock: () => bigint,
  timeoutMs: number, precision: number, mfe: number, rejected: string[],
): Promise<WcCandidate | undefined> {
  return new Promise((resolve) => {
    let pending: { response: WcMessage; t4: bigint } | undefined;
    const finish = (candidate: WcCandidate | undefined): void => {
      clearTimeout(timer);
      socket.off("message", onMessage);
      resolve(candidate);
    };
    // No answer (or no follow-up) in time: use what we have.
    const timer = setTimeout(() => finish(pending && candidateFrom(pending.response, pending.t4, precision, mfe, false)), timeoutMs);
    const t1 = clock();
    const onMessage = (data: Buffer, from: RemoteInfo): void => {
      const t4 = clock();
      let message: WcMessage;
      try {
        message = unpackWc(data);
      } catch (err) {
        if (err instanceof WcMessageError) return; // not ours: ignore
        throw err;
      }
      if (message.originate !== t1) return; // a late answer to an earlier request
      const problem = replyProblem(message, from, server);
      if (problem !== undefined) {
        rejected.push(problem);
        return;
      }
      if (message.type === WcType.Response) finish(candidateFrom(message, t4, precision, mfe, false));
      else if (message.type === WcType.ResponseWithFollowUp) pending = { response: message, t4 };
      else if (message.type === WcType.FollowUp) {
        const first = pending ?? { response: message, t4 };
        finish(candidateFrom({ ...first.response, transmit: message.transmit }, first.t4, precision, mfe, true));
      }
    };
    socket.on("message", onMessage);
    const request: WcMessage = { type: WcType.Request, precision: 0, maxFreqError: 0, originate: t1, receive: 0n, transmit: 0n };
    socket.send(packWc(request), server.port, server.address);
  });
}

export function parseUdpUrl(url: string): { host: string; port: number } {
  const match = /^udp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
  if (!match) throw new Error(`expected udp://<host>:<port>, got ${url}`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

async function main(argv: string[]): Promise<void> {
  const [url, countArg] = argv;
  if (url === undefined || url === "--help") {
    console.log("usage: wc-client.ts udp://<host>:<port> [count=8]");
    process.exitCode = url === undefined ? 2 : 0;
    return;
  }
  const { host, port } = parseUdpUrl(url);
  const { best, candidates, lost, rejected } = await measureWallClock({ host, port, count: Number(countArg ?? 8) });
  console.log(JSON.stringify({
    offsetNs: best.offsetNs.toString(),
    dispersionNs: best.dispersionNs.toString(),
    rttNs: best.rttNs.toString(),
    followUp: best.followUp,
    responses: candidates.length,
    lost,
    rejected,
  }, null, 2));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
