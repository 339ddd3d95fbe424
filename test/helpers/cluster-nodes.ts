/**
 * Start cluster node processes (test/fixtures/cluster-node.ts) against one Redis, and tear them
 * down (each by its own PID).
 */
import { NodeProcess } from "./node-process.ts";

export const NODE_SCRIPT = "test/fixtures/cluster-node.ts";

export interface NodeSettings {
  prefix: string;
  heartbeatMs?: number;
  ttlMs?: number;
  reconnectMaxMs?: number;
}

export async function startNodes(redisUrl: string, count: number, settings: NodeSettings): Promise<NodeProcess[]> {
  const nodes = Array.from({ length: count }, (_, i) => new NodeProcess(NODE_SCRIPT, {
    REDIS_URL: redisUrl,
    PREFIX: settings.prefix,
    NODE_ID: `node-${i}`,
    HEARTBEAT_MS: String(settings.heartbeatMs ?? 100),
    TTL_MS: String(settings.ttlMs ?? 1_000),
    RECONNECT_MAX_MS: String(settings.reconnectMaxMs ?? 200),
    LOG_LEVEL: "info",
  }));
  // Process start (tsx compiling) is the slow part on a busy machine: a generous bound.
  await Promise.all(nodes.map((node) => node.waitFor((e) => e.ev === "started", "node start", 0, 30_000)));
  return nodes;
}

/** Clean exit of the ones still running; kill (by PID) any that do not exit. */
export async function stopNodes(nodes: NodeProcess[]): Promise<void> {
  await Promise.all(nodes.map(async (node) => {
    try {
      await node.exit();
    } catch (err) {
      process.stderr.write(`node did not exit cleanly (${(err as Error).message}); killing it\n`);
      await node.kill("SIGKILL");
    }
  }));
}

/** Messages a node received under a subscription tag. */
export function received(node: NodeProcess, tag: string): unknown[] {
  return node.all("msg", (e) => e.tag === tag).map((e) => e.payload);
}
