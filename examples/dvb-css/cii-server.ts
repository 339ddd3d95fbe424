/**
 * CSS-CII server on a Switchboard WebSocket endpoint (pydvbcss's CIIServer).
 *
 * A new client gets the whole CII state at once; `update(changes)` merges the changes and sends
 * each client only the properties that differ from what it was last told (with contentIdStatus
 * whenever contentId is sent), and nothing when nothing changed. Messages from clients are
 * ignored, as the spec says.
 *
 * `perClient(req)` gives properties that differ per client (wcUrl and tsUrl when the server is
 * bound to a wildcard address: each client is told the host it connected to). They are worked
 * out once, at the handshake, and override the shared state for that client.
 */
import { HandshakeRejection, type Connection, type Endpoint, type HandshakeRequest, type Server } from "switchboard";
import { CII_PROTOCOL_VERSION, diffCii, isEmptyCii, mergeCii, validateCii, type Cii } from "./cii.ts";

interface CiiConnectionData {
  /** The state this client has been told so far. */
  told: Cii;
  /** Properties that are this client's own (from `perClient`), over the shared state. */
  own: Cii;
}

export interface CiiServiceOptions {
  path?: string;
  initial?: Cii;
  maxConnections?: number;
  /** Per-client properties, from the handshake; a HandshakeRejection refuses the client. */
  perClient?: (req: HandshakeRequest) => Cii | HandshakeRejection | Promise<Cii | HandshakeRejection>;
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
      defaultData: () => ({ told: {}, own: {} }),
      ...(options.perClient !== undefined ? { handshake: this.#handshake(options.perClient) } : {}),
      open: (conn) => this.#tell(conn, mergeCii(this.#state, conn.data.own)),
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
      const diff = diffCii(conn.data.told, mergeCii(next, conn.data.own));
      if (!isEmptyCii(diff)) this.#tell(conn, diff);
    }
  }

  #handshake(perClient: NonNullable<CiiServiceOptions["perClient"]>) {
    return async (req: HandshakeRequest): Promise<HandshakeRejection | { data: Partial<CiiConnectionData> }> => {
      const own = await perClient(req);
      if (own instanceof HandshakeRejection) return own;
      validateCii(own);
      return { data: { own } };
    };
  }

  #tell(conn: Connection<CiiConnectionData>, message: Cii): void {
    conn.data.told = mergeCii(conn.data.told, message);
    conn.send(JSON.stringify(message));
  }
}
