/**
 * An app's refusal as a raw socket sees it (docs/protocol.md, "Refusals"): the upgrade is
 * accepted (101), then the connection is closed at once with the refusal's code and reason,
 * with no frame before the close. Used by the app tests that once read an HTTP status.
 */
import { TestClient, withTimeout } from "../helpers/ws-client.ts";

export interface RefusedClose {
  code: number;
  reason: string;
  /** The subprotocol the refusing server selected. */
  protocol: string;
  /** Frames that arrived before the close (a refusal sends none). */
  frames: number;
}

/** Fails if the upgrade is not accepted; every wait is bounded. */
export async function refusedClose(url: string, protocols: string | string[] = "switchboard.v1"): Promise<RefusedClose> {
  const raw = new TestClient(url, protocols);
  await withTimeout(raw.opened, 5000, `the upgrade to ${url} was not accepted`);
  const protocol = raw.ws.protocol;
  const { code, reason } = await raw.waitClosed();
  return { code, reason, protocol, frames: raw.pending };
}
