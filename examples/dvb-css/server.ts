/**
 * A DVB-CSS companion-screen synchronisation server (ETSI TS 103 286-2) on Switchboard:
 *   CSS-WC  over UDP        (server.udp + wallClockHandler)
 *   CSS-CII over WebSocket  /cii
 *   CSS-TS  over WebSocket  /ts, serving a PTS timeline (90 kHz)
 *
 *   npx tsx --conditions=source examples/dvb-css/server.ts [--host 127.0.0.1] [--port 7681] [--wc-port 6677] [--follow-up] [--demo] [--max-wc-addresses 16]
 *
 * --demo pauses/resumes the timeline every 5 s and changes the programme every 20 s, so the
 * CII and TS clients have something to show.
 *
 * With --host 0.0.0.0 (or ::) each CII client is told wcUrl and tsUrl on the host it connected
 * to (advertised-host.ts), so a companion on another machine gets addresses it can reach, and
 * CSS-WC answers from the address it was asked on (wc-addresses.ts).
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { createServer, reject, UdpListener, type HandshakeRejection, type HandshakeRequest, type Server } from "switchboard";
import { hostFromHeader, isWildcard, urlHost } from "./advertised-host.ts";
import { WcAddresses } from "./wc-addresses.ts";
import type { Cii } from "./cii.ts";
import { CiiService } from "./cii-server.ts";
import { ClockTimeline } from "./timeline.ts";
import { TsService } from "./ts-server.ts";
import { monotonicWallClock, type WallClock } from "./wall-clock.ts";
import { wallClockHandler } from "./wc-server.ts";

export const PTS_SELECTOR = "urn:dvb:css:timeline:pts";

export interface DvbCssServerOptions {
  host?: string;
  port?: number;
  wcPort?: number;
  followUp?: boolean;
  contentId?: string;
  /** Shift the wall clock away from the raw monotonic clock (lets a test see a non-zero offset). */
  wallClockOffsetNs?: bigint;
  logLevel?: string;
  /**
   * With a wildcard host: most addresses that get their own CSS-WC socket (wc-addresses.ts).
   * A CII client connecting through another address is told wcUrl null. Default 16.
   */
  maxWcAddresses?: number;
}

export interface DvbCssServer {
  server: Server;
  wc: UdpListener;
  cii: CiiService;
  ts: TsService;
  pts: ClockTimeline;
  wallClock: WallClock;
  urls: { cii: string; ts: string; wc: string };
  stop(): Promise<void>;
}

export async function startDvbCssServer(options: DvbCssServerOptions = {}): Promise<DvbCssServer> {
  const host = options.host ?? "127.0.0.1";
  const maxWcAddresses = options.maxWcAddresses ?? 16;
  if (!Number.isInteger(maxWcAddresses) || maxWcAddresses < 1) throw new RangeError(`maxWcAddresses: must be a positive integer, got ${maxWcAddresses}`);
  const contentId = options.contentId ?? "dvb://233a.1004.1044;363a~20130218T0915Z--PT00H45M";
  const wallClock = monotonicWallClock(options.wallClockOffsetNs !== undefined ? { offsetNs: options.wallClockOffsetNs } : {});
  const server = createServer({ host, port: options.port ?? 7681, logger: { level: options.logLevel ?? "info" } });
  const wildcard = isWildcard(host);
  const wcPort = options.wcPort ?? 6677;
  const handle = wallClockHandler({ clock: wallClock, followUp: options.followUp ?? false });
  // A wildcard bind gets no wildcard UDP socket (it could answer from the wrong address,
  // wc-addresses.ts): the loopback one now, one per address clients connect through later.
  const loopback = host.includes(":") ? "::1" : "127.0.0.1";
  const wc = server.udp({ host: wildcard ? loopback : host, port: wcPort, maxDatagramBytes: 64, handle });
  const wcAddresses = new WcAddresses({
    maxAddresses: maxWcAddresses,
    create: (address) => new UdpListener({ host: address, port: wcPort, maxDatagramBytes: 64, handle, logger: server.log }),
    onRefused: (address, reason) => server.log.warn({ address, reason }, "no CSS-WC socket for this address: its CII clients get wcUrl null"),
  }, [[loopback, wc]]);
  const pts = new ClockTimeline({ timelineSelector: PTS_SELECTOR, unitsPerSecond: 90_000, wallClock });
  const cii = new CiiService(server, {
    initial: {
      contentId,
      contentIdStatus: "final",
      presentationStatus: "okay",
      mrsUrl: null,
      timelines: [{ timelineSelector: PTS_SELECTOR, timelineProperties: { unitsPerTick: 1, unitsPerSecond: 90_000 } }],
    },
    ...(wildcard ? { perClient: (req: HandshakeRequest) => urlsFor(req) } : {}),
  });
  const ts = new TsService(server, { contentId, wallClock });
  ts.attach(pts);
  await server.start();
  const tsUrlOn = (hostInUrl: string): string => `ws://${hostInUrl}:${server.port}${ts.endpoint.path}`;
  /** wcUrl and tsUrl on the host this client connected to (a wildcard bind). */
  async function urlsFor(req: HandshakeRequest): Promise<Cii | HandshakeRejection> {
    const connectedTo = hostFromHeader(req.headers.host);
    if (connectedTo === undefined) return reject(400, "Host header is not an IP address or DNS name");
    const address = await addressOf(connectedTo, host.includes(":") ? 0 : 4);
    const listener = address === undefined ? undefined : await wcAddresses.listenerFor(address);
    return { wcUrl: listener === undefined ? null : `udp://${connectedTo}:${listener.port}`, tsUrl: tsUrlOn(connectedTo) };
  }
  const printedHost = urlHost(wildcard ? loopback : host);
  const urls = { cii: `ws://${printedHost}:${server.port}${cii.endpoint.path}`, ts: tsUrlOn(printedHost), wc: `udp://${printedHost}:${wc.port}` };
  // The URLs are only known once bound (port 0); no client can have connected yet.
  cii.update({ wcUrl: urls.wc, tsUrl: urls.ts });
  const stop = async (): Promise<void> => {
    await server.stop();
    await wcAddresses.stop(new Set([wc]));
  };
  return { server, wc, cii, ts, pts, wallClock, urls, stop };
}

/** The IP address a URL host names (a literal as is; a DNS name looked up), or undefined. */
async function addressOf(hostInUrl: string, family: 0 | 4): Promise<string | undefined> {
  const bare = hostInUrl.replace(/^\[|\]$/g, "");
  if (isIP(bare) !== 0) return family === 4 && isIP(bare) === 6 ? undefined : bare;
  try {
    return (await lookup(bare, { family })).address;
  } catch (err) {
    // An unknown name: that client gets wcUrl null, as for an address that is not ours.
    if ((err as NodeJS.ErrnoException).code === "ENOTFOUND" || (err as NodeJS.ErrnoException).code === "EAI_AGAIN") return undefined;
    throw err;
  }
}

/** Change programme: CII clients get the new contentId (+ status), TS clients their new availability. */
export function changeContent(dvb: DvbCssServer, contentId: string): void {
  dvb.cii.update({ contentId, contentIdStatus: "partial" });
  // One step for TS clients: the new programme's timeline starts at 0, and the old programme's
  // clients must not first get that re-anchored timeline as if it were still theirs.
  dvb.ts.batch(() => {
    dvb.pts.seek(0n);
    dvb.ts.contentId = contentId;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "7681" },
      "wc-port": { type: "string", default: "6677" },
      "follow-up": { type: "boolean", default: false },
      demo: { type: "boolean", default: false },
      "max-wc-addresses": { type: "string", default: "16" },
    },
  });
  const dvb = await startDvbCssServer({
    host: values.host, port: Number(values.port), wcPort: Number(values["wc-port"]), followUp: values["follow-up"],
    maxWcAddresses: Number(values["max-wc-addresses"]),
  });
  console.log(`CSS-CII ${dvb.urls.cii}\nCSS-TS  ${dvb.urls.ts}\nCSS-WC  ${dvb.urls.wc}`);
  const timers: NodeJS.Timeout[] = [];
  if (values.demo) {
    let programme = 0;
    timers.push(setInterval(() => dvb.pts.setSpeed(dvb.pts.speed === 0 ? 1 : 0), 5_000));
    timers.push(setInterval(() => changeContent(dvb, `dvb://233a.1004.1044;${(++programme).toString(16)}`), 20_000));
  }
  const shutdown = (): void => {
    for (const timer of timers) clearInterval(timer);
    void dvb.stop();
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
