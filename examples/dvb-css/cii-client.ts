/**
 * CSS-CII client: connects, prints every CII message and the state it builds up.
 *
 *   npx tsx --conditions=source examples/dvb-css/cii-client.ts ws://127.0.0.1:7681/cii [--count N]
 *
 * The client mirrors the server's state: each message carries some properties; an absent one
 * keeps its previous value. Every message is checked (cii.ts parseCiiMessage): one that is not
 * a JSON object, or has a property of the wrong shape, is reported and leaves the state alone.
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { CiiMessageError, mergeCii, parseCiiMessage, type Cii } from "./cii.ts";
import { JsonSocket } from "./ws-json.ts";

export class CiiClient {
  readonly socket: JsonSocket;
  state: Cii = {};

  private constructor(socket: JsonSocket) {
    this.socket = socket;
  }

  static async connect(url: string): Promise<CiiClient> {
    return new CiiClient(await JsonSocket.open(url));
  }

  /** Wait for the next CII message, check it, apply it to `state`, and return it. CiiMessageError: a bad message (the state is unchanged). */
  async next(timeoutMs?: number): Promise<Cii> {
    const text = await this.socket.nextText(timeoutMs);
    if (text === undefined) throw new CiiMessageError("CII message: a binary message, not JSON text");
    const message = parseCiiMessage(text);
    this.state = mergeCii(this.state, message);
    return message;
  }

  close(): void {
    this.socket.close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { count: { type: "string" } } });
  const url = positionals[0];
  if (url === undefined) {
    console.log("usage: cii-client.ts ws://<host>:<port>/cii [--count N]");
    process.exitCode = 2;
    return;
  }
  const client = await CiiClient.connect(url);
  const count = values.count === undefined ? Infinity : Number(values.count);
  for (let i = 0; i < count; i++) {
    let message: Cii;
    try {
      message = await client.next(24 * 3600 * 1000);
    } catch (err) {
      if (!(err instanceof CiiMessageError)) {
        console.error(err instanceof Error ? err.message : err);
        break;
      }
      console.error(`bad message from the server: ${err.message}`);
      continue;
    }
    console.log(JSON.stringify({ received: message, state: client.state }, null, 2));
  }
  client.close();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
