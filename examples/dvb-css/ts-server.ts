/**
 * CSS-TS server on a Switchboard WebSocket endpoint (pydvbcss's TSServer).
 *
 * The first message from a client must be a setup-data message (JSON text). A valid one
 * selects the timeline, and the server answers at once with a Control Timestamp: the
 * timeline's correlation when the content id stem matches the current content id and an
 * attached source recognises the selector, else "unavailable" (contentTime and speed null).
 * A first message that is not valid setup-data closes the connection: 1003 for a binary
 * message, 1008 with the parse error as reason for bad JSON or missing/ill-typed fields.
 * Later messages are Actual/Earliest/Latest Presentation Timestamps: kept when valid,
 * ignored (logged) when not — they are informative only.
 *
 * When a timeline changes (or the content id, or the set of sources), every client whose
 * Control Timestamp changed gets a new one; an unchanged one is not re-sent. Changes made in
 * one `batch()` are sent as one.
 */
import { CloseCode, type Connection, type Endpoint, type Server } from "switchboard";
import type { TimelineSource } from "./timeline.ts";
import type { WallClock } from "./wall-clock.ts";
import {
  TsMessageError, controlTimestampChanged, encodeControlTimestamp, parseAptEptLpt, parseSetupData, stemMatches,
  type AptEptLpt, type ControlTimestamp, type SetupData,
} from "./ts-messages.ts";

interface TsConnectionData {
  setup?: SetupData;
  sent?: ControlTimestamp;
  aptEptLpt?: AptEptLpt;
}

export interface TsServiceOptions {
  path?: string;
  contentId: string | null;
  wallClock: WallClock;
  maxConnections?: number;
}

export class TsService {
  readonly endpoint: Endpoint<TsConnectionData>;
  readonly #wallClock: WallClock;
  readonly #sources = new Map<TimelineSource, () => void>();
  #contentId: string | null;
  #batchDepth = 0;
  #batchDirty = false;

  constructor(server: Server, options: TsServiceOptions) {
    this.#wallClock = options.wallClock;
    this.#contentId = options.contentId;
    const log = server.log.child({ component: "css-ts" });
    this.endpoint = server.endpoint<TsConnectionData>(options.path ?? "/ts", {
      idPrefix: "ts",
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      defaultData: () => ({}),
      message: (conn, data, isBinary) => {
        if (conn.data.setup === undefined) {
          this.#setup(conn, data, isBinary);
          return;
        }
        try {
          conn.data.aptEptLpt = parseAptEptLpt(data.toString("utf8"));
        } catch (err) {
          if (!(err instanceof TsMessageError)) throw err;
          log.info({ conn: conn.id, reason: err.message }, "ignored a message that is not a valid AptEptLpt");
        }
      },
    });
  }

  get contentId(): string | null {
    return this.#contentId;
  }

  /** Change the content being presented; clients whose timeline availability changes are told. */
  set contentId(value: string | null) {
    this.#contentId = value;
    this.updateAll();
  }

  attach(source: TimelineSource): void {
    if (this.#sources.has(source)) return;
    this.#sources.set(source, source.onChange(() => this.updateAll()));
    this.updateAll();
  }

  detach(source: TimelineSource): void {
    const unsubscribe = this.#sources.get(source);
    if (unsubscribe === undefined) return;
    unsubscribe();
    this.#sources.delete(source);
    this.updateAll();
  }

  /** Send a new Control Timestamp to every set-up client whose timestamp changed. */
  updateAll(): void {
    if (this.#batchDepth > 0) {
      this.#batchDirty = true;
      return;
    }
    for (const conn of this.endpoint.connections.values()) this.#update(conn);
  }

  /**
   * Run `changes` (timeline and content id changes) as one: clients are sent only the Control
   * Timestamps of the state after all of them, never one for a half-applied change.
   */
  batch(changes: () => void): void {
    this.#batchDepth += 1;
    try {
      changes();
    } finally {
      this.#batchDepth -= 1;
      if (this.#batchDepth === 0 && this.#batchDirty) {
        this.#batchDirty = false;
        this.updateAll();
      }
    }
  }

  #setup(conn: Connection<TsConnectionData>, data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      conn.close(CloseCode.UnsupportedData, "setup-data must be a JSON text message");
      return;
    }
    try {
      conn.data.setup = parseSetupData(data.toString("utf8"));
    } catch (err) {
      if (!(err instanceof TsMessageError)) throw err;
      conn.close(CloseCode.PolicyViolation, err.message.slice(0, 120));
      return;
    }
    this.#update(conn);
  }

  #update(conn: Connection<TsConnectionData>): void {
    const setup = conn.data.setup;
    if (setup === undefined) return;
    const ct = this.#controlTimestamp(setup);
    if (ct === undefined || !controlTimestampChanged(conn.data.sent, ct)) return;
    conn.data.sent = ct;
    conn.send(encodeControlTimestamp(ct));
  }

  #controlTimestamp(setup: SetupData): ControlTimestamp | undefined {
    if (stemMatches(this.#contentId, setup.contentIdStem)) {
      for (const source of this.#sources.keys()) {
        if (source.recognises(setup.timelineSelector)) return source.controlTimestamp(setup.timelineSelector);
      }
    }
    return { contentTime: null, wallClockTime: this.#wallClock.now(), timelineSpeedMultiplier: null };
  }
}
