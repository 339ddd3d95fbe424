/**
 * CSS-TS client: sends setup-data, prints every Control Timestamp.
 *
 *   npx tsx --conditions=source examples/dvb-css/ts-client.ts ws://127.0.0.1:7681/ts <contentIdStem> <timelineSelector> [--count N]
 *
 * e.g. contentIdStem "dvb://" and timelineSelector "urn:dvb:css:timeline:pts".
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { TsMessageError, encodeSetupData, parseControlTimestamp, type ControlTimestamp, type SetupData } from "./ts-messages.ts";
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

  /**
   * The next Control Timestamp, validated: a TsMessageError says what is wrong with it
   * ("Control Timestamp: not JSON" for text that is not JSON, or for a binary message).
   */
  async next(timeoutMs?: number): Promise<ControlTimestamp> {
    const text = await this.socket.nextText(timeoutMs);
    if (text === undefined) throw new TsMessageError("Control Timestamp: a binary message, not JSON text");
    return parseControlTimestamp(text);
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
      if (!(err instanceof TsMessageError)) {
        console.error(err instanceof Error ? err.message : err);
        break;
      }
      // A bad message from the server is reported and skipped: the next one may be fine.
      console.error(`bad message from the server: ${err.message}`);
      continue;
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
