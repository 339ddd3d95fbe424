/**
 * The echo server the Autobahn|Testsuite runs against: every message goes back as it came
 * (text as text, binary as binary), on one endpoint configured as a run of
 * scripts/autobahn-cases.ts says (`conformance`: limits raised and permessage-deflate on;
 * `defaults`: Switchboard's defaults).
 *
 *   node --conditions=source --import tsx scripts/autobahn-echo.ts [--run conformance|defaults] [--port 0]
 *
 * Prints one JSON line `{"ev":"listening","url":…,"run":…}` once it accepts upgrades;
 * SIGTERM or SIGINT stops it gracefully.
 */
import { parseArgs } from "node:util";
import { createServer } from "../src/index.ts";
import { RUNS, type RunName } from "./autobahn-cases.ts";

function isRunName(name: string): name is RunName {
  return Object.hasOwn(RUNS, name);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { run: { type: "string", default: "conformance" }, port: { type: "string", default: "0" } } });
  const run = values.run;
  if (!isRunName(run)) throw new Error(`--run must be one of ${Object.keys(RUNS).join(", ")}, got ${JSON.stringify(run)}`);
  // The suite provokes protocol errors by the hundred; only worse is worth a log line.
  const server = createServer({ host: "127.0.0.1", port: Number(values.port), logger: { level: "error" } });
  server.endpoint("/echo", {
    ...RUNS[run].limits,
    message(conn, data, isBinary) {
      conn.send(data, isBinary);
    },
  });
  await server.start();
  console.log(JSON.stringify({ ev: "listening", url: server.url("/echo"), run }));
  const stop = (): void => void server.stop().then(() => console.log(JSON.stringify({ ev: "stopped" })));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exitCode = 1;
});
