/**
 * CSS-CII server on a Switchboard WebSocket endpoint (pydvbcss's CIIServer).
 *
 * A new client gets the whole CII state at once; `update(changes)` merges the changes and sends
 * each client only the properties that differ from what it was last told (with contentIdStatus
 * whenever contentId is sent), and nothing when nothing changed. Messages from clients are
 * ignored, as the spec says.
 */
import type { Connection, Endpoint, Server } from "switchboard";
import { CII_PROTOCOL_VERSION, diffCii, isEmptyCii, mergeCii, validateCii, type Cii } from "./cii.ts";

interface CiiConnectionData {
  /** The state this client has been told so far. */
  told: Cii;
}

export interface CiiServiceOptions {
  path?: string;
  initial?: Cii;
  maxConnections?: number;
}

export class CiiService {
  readonly endpoint: Endpoint<CiiConnectionData>;
  #state: Cii;

  constructor(server: Server, options: CiiServiceOptions = {}) {
    this.#state = mergeCii({ protocolVersion: CII_PROTOCOL_VERSION }, options.initial ?? {});
    validateCii(this.#state);
    this.endpoint = server.endpoint<CiiConnectionData>(options.path ?? "/cii", {
      idPrefix: "cii",
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      defaultData: () => ({ told: {} }),
      open: (conn) => this.#tell(conn, this.#state),
      // "Any messages sent by the client are ignored by the server."
      message: () => undefined,
    });
  }

  /** The current CII state (a copy). */
  get state(): Cii {
    return structuredClone(this.#state);
  }

  /** Merge `changes` into the state and push what changed to every client. */
  update(changes: Cii): void {
    const next = mergeCii(this.#state, changes);
    validateCii(next);
    this.#state = next;
    for (const conn of this.endpoint.connections.values()) {
      const diff = diffCii(conn.data.told, next);
      if (!isEmptyCii(diff)) this.#tell(conn, diff);
    }
  }

  #tell(conn: Connection<CiiConnectionData>, message: Cii): void {
    conn.data.told = mergeCii(conn.data.told, message);
    conn.send(JSON.stringify(message));
  }
}
