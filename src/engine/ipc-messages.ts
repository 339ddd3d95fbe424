/**
 * The IPC engine's messages (ipc-engine.ts in a worker, ipc-hub.ts in the primary), over an
 * IpcPort (src/cluster/ipc-port.ts), tagged `sb: "engine"`.
 */
import type { Push } from "./engine.ts";
import type { HistoryPolicy } from "./options.ts";

export const IPC_TAG = "engine";

/** What a worker asks of the hub. `policy` travels with each call: per-room overrides are functions and stay in the worker. */
export type EngineRequest =
  | { op: "hello"; nodeId: string }
  | { op: "subscribe"; room: string }
  | { op: "unsubscribe"; room: string }
  | { op: "publish"; room: string; payload: string; except?: string; idempotencyKey?: string; policy: HistoryPolicy; windowMs: number; maxKeys: number }
  | { op: "announce"; room: string; payload: string; except?: string }
  | { op: "read"; room: string; policy: HistoryPolicy }
  | { op: "add"; room: string; id: string; data?: unknown }
  | { op: "remove"; room: string; id: string }
  | { op: "members"; room: string };

export type EngineMessage =
  | { sb: typeof IPC_TAG; kind: "req"; id: number; req: EngineRequest }
  | { sb: typeof IPC_TAG; kind: "res"; id: number; ok: true; value: unknown }
  | { sb: typeof IPC_TAG; kind: "res"; id: number; ok: false; error: { name: string; message: string } }
  | { sb: typeof IPC_TAG; kind: "push"; push: Push & { except?: string } };

export function isEngineMessage(message: unknown): message is EngineMessage {
  return typeof message === "object" && message !== null && (message as { sb?: unknown }).sb === IPC_TAG;
}
