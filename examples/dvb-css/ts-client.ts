/**
 * CSS-TS client: sends setup-data, prints every Control Timestamp.
 *
 *   npx tsx --conditions=source examples/dvb-css/ts-client.ts ws://127.0.0.1:7681/ts <contentIdStem> <timelineSelector> [--count N]
 *
 * e.g. contentIdStem "dvb://" and timelineSelector "urn:dvb:css:timeline:pts".
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { encodeSetupData, parseControlTimestamp, type ControlTimestamp, type SetupData } from "./ts-messages.ts";
import { JsonSocket } from "./ws-json.ts";

export class TsClient {
  readonly socket: JsonSocket;

  private constructor(socket: JsonSocket) {
    this.socket = socket;
  }

  /** Connect and send the setup-data message. */
  static async connect(url: string, setup: SetupData): Promise<TsClient> {
    const socket = await JsonSocket.open(url);
    socket.send(encodeSetupData(setup));
    return new TsClient(socket);
  }

  /** The next Control Timestamp (validated). */
  async next(timeoutMs?: number): Promise<ControlTimestamp> {
    const message = await this.socket.next<unknown>(timeoutMs);
    return parseControlTimestamp(JSON.stringify(message));
  }

  close(): void {
    this.socket.close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { count: { type: "string" } } });
  const [url, contentIdStem, timelineSelector] = positionals;
  if (url === undefined || contentIdStem === undefined || timelineSelector === undefined) {
    console.log("usage: ts-client.ts ws://<host>:<port>/ts <contentIdStem> <timelineSelector> [--count N]");
    process.exitCode = 2;
    return;
  }
  const client = await TsClient.connect(url, { contentIdStem, timelineSelector });
  const count = values.count === undefined ? Infinity : Number(values.count);
  for (let i = 0; i < count; i++) {
    let ct: ControlTimestamp;
    try {
      ct = await client.next(24 * 3600 * 1000);
    } catch (err) {
      console.error(err instanceof Error ? err.message : err);
      break;
    }
    console.log(ct.contentTime === null
      ? `timeline unavailable (wall clock ${ct.wallClockTime})`
      : `contentTime ${ct.contentTime} at wallClockTime ${ct.wallClockTime}, speed ${ct.timelineSpeedMultiplier}`);
  }
  client.close();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
