/**
 * A DVB-CSS companion-screen synchronisation server (ETSI TS 103 286-2) on Switchboard:
 *   CSS-WC  over UDP        (server.udp + wallClockHandler)
 *   CSS-CII over WebSocket  /cii
 *   CSS-TS  over WebSocket  /ts, serving a PTS timeline (90 kHz)
 *
 *   npx tsx --conditions=source examples/dvb-css/server.ts [--host 127.0.0.1] [--port 7681] [--wc-port 6677] [--follow-up] [--demo]
 *
 * --demo pauses/resumes the timeline every 5 s and changes the programme every 20 s, so the
 * CII and TS clients have something to show.
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { createServer, type Server, type UdpListener } from "switchboard";
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
  const contentId = options.contentId ?? "dvb://233a.1004.1044;363a~20130218T0915Z--PT00H45M";
  const wallClock = monotonicWallClock(options.wallClockOffsetNs !== undefined ? { offsetNs: options.wallClockOffsetNs } : {});
  const server = createServer({ host, port: options.port ?? 7681, logger: { level: options.logLevel ?? "info" } });
  const wc = server.udp({ host, port: options.wcPort ?? 6677, maxDatagramBytes: 64, handle: wallClockHandler({ clock: wallClock, followUp: options.followUp ?? false }) });
  const pts = new ClockTimeline({ timelineSelector: PTS_SELECTOR, unitsPerSecond: 90_000, wallClock });
  const cii = new CiiService(server, {
    initial: {
      contentId,
      contentIdStatus: "final",
      presentationStatus: "okay",
      mrsUrl: null,
      timelines: [{ timelineSelector: PTS_SELECTOR, timelineProperties: { unitsPerTick: 1, unitsPerSecond: 90_000 } }],
    },
  });
  const ts = new TsService(server, { contentId, wallClock });
  ts.attach(pts);
  await server.start();
  const urls = { cii: server.url("/cii"), ts: server.url("/ts"), wc: `udp://${host.includes(":") ? `[${host}]` : host}:${wc.port}` };
  // The URLs are only known once bound (port 0); no client can have connected yet.
  cii.update({ wcUrl: urls.wc, tsUrl: urls.ts });
  return { server, wc, cii, ts, pts, wallClock, urls, stop: () => server.stop() };
}

/** Change programme: CII clients get the new contentId (+ status), TS clients their new availability. */
export function changeContent(dvb: DvbCssServer, contentId: string): void {
  dvb.cii.update({ contentId, contentIdStatus: "partial" });
  // The new programme's timeline starts at 0; re-anchor it before clients are told it exists.
  dvb.pts.seek(0n);
  dvb.ts.contentId = contentId;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "7681" },
      "wc-port": { type: "string", default: "6677" },
      "follow-up": { type: "boolean", default: false },
      demo: { type: "boolean", default: false },
    },
  });
  const dvb = await startDvbCssServer({ host: values.host, port: Number(values.port), wcPort: Number(values["wc-port"]), followUp: values["follow-up"] });
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
