/**
 * Prometheus metrics for one server, in a private prom-client Registry (two servers in one
 * process never share one). Nothing here runs per message: almost every metric is read at
 * scrape time, by its `collect()`, from the plain integer counters the layers keep anyway
 * (endpoint, app, cluster, supervisor stats). The exception is the task histogram and
 * counter, observed once per task call (observe/task-observer.ts).
 *
 * prom-client is loaded here, on first use, through require(): `import "switchboard"` without
 * metrics does not load it (the same pattern as ioredis in cluster/redis-bus.ts).
 */
import { createRequire } from "node:module";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type * as Prom from "prom-client";
import type { EndpointStats } from "../endpoint/endpoint.ts";
import type { AppStats } from "../app/app.ts";
import type { ClusterStats } from "../cluster/index.ts";
import type { ServiceStatus } from "../runtime/supervisor.ts";
import type { TaskOutcome } from "../app/router.ts";

/** What the server shows the metrics, all read at scrape time. */
export interface MetricsSource {
  endpoints(): EndpointStats[];
  /** Upgrades refused by the HTTP listener before any endpoint saw them (404, 503), by status. */
  listenerRefusals(): Readonly<Record<number, number>>;
  pendingHandshakes(): number;
  apps(): Array<{ path: string; stats: AppStats; members: number }>;
  cluster(): ClusterStats;
  services(): ServiceStatus[];
}

/** Task latency buckets, in seconds: 0.5 ms to 10 s. */
export const TASK_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function loadPromClient(): typeof Prom {
  return createRequire(import.meta.url)("prom-client") as typeof Prom;
}

export class ServerMetrics {
  readonly registry: Prom.Registry;
  readonly #tasks: Prom.Counter<"app" | "task" | "outcome">;
  readonly #taskSeconds: Prom.Histogram<"app" | "task">;
  readonly #loopDelay: IntervalHistogram;

  constructor(source: MetricsSource) {
    const prom = loadPromClient();
    const registry = new prom.Registry();
    this.registry = registry;
    // Event-loop delay, sampled by libuv (no timer of ours); reset at each scrape, so each
    // scrape reports the interval since the previous one.
    this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.#loopDelay.enable();
    const loopDelay = this.#loopDelay;

    /** A gauge whose values are set from `read()` at each scrape (old label sets are dropped). */
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (set: (labels: Prom.LabelValues<L>, value: number) => void) => void): void => {
      new prom.Gauge<L>({
        name, help, labelNames, registers: [registry],
        collect() {
          this.reset();
          read((labels, value) => this.set(labels, value));
        },
      });
    };
    /** A counter whose totals are copied from the layers' own counters at each scrape. */
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (add: (labels: Prom.LabelValues<L>, value: number) => void) => void): void => {
      new prom.Counter<L>({
        name, help, labelNames, registers: [registry],
        collect() {
          this.reset();
          read((labels, value) => this.inc(labels, value));
        },
      });
    };
    const perEndpoint = (pick: (e: EndpointStats) => number) => (add: (labels: { endpoint: string }, value: number) => void) => {
      for (const e of source.endpoints()) add({ endpoint: e.path }, pick(e));
    };

    gauge("switchboard_connections", "Open WebSocket connections, per endpoint.", ["endpoint"], perEndpoint((e) => e.connections));
    gauge("switchboard_pending_handshakes", "Upgrade requests being decided (ws validating, or a handshake hook running).", [], (set) => set({}, source.pendingHandshakes()));
    counter("switchboard_connections_accepted_total", "Upgrades accepted, per endpoint.", ["endpoint"], perEndpoint((e) => e.accepted));
    counter("switchboard_handshakes_refused_total", 'Upgrades refused, by endpoint and HTTP status (endpoint="" when refused before routing: unknown path, stopping, pending cap).', ["endpoint", "status"], (add) => {
      for (const [status, n] of Object.entries(source.listenerRefusals())) add({ endpoint: "", status }, n);
      for (const e of source.endpoints()) for (const [status, n] of Object.entries(e.refusedByStatus)) add({ endpoint: e.path, status }, n);
    });
    counter("switchboard_closes_total", "Closed connections, by endpoint and close code (1005: no code, 1006: no close frame).", ["endpoint", "code"], (add) => {
      for (const e of source.endpoints()) for (const [code, n] of Object.entries(e.closesByCode)) add({ endpoint: e.path, code }, n);
    });
    counter("switchboard_messages_received_total", "Messages received, per endpoint.", ["endpoint"], perEndpoint((e) => e.messagesIn));
    counter("switchboard_messages_sent_total", "Messages written (replies, pushes, broadcast deliveries), per endpoint.", ["endpoint"], perEndpoint((e) => e.messagesOut));
    counter("switchboard_message_bytes_received_total", "Payload bytes received, per endpoint.", ["endpoint"], perEndpoint((e) => e.bytesIn));
    counter("switchboard_message_bytes_sent_total", "Payload bytes written, per endpoint (text messages count UTF-16 units: bytes for ASCII).", ["endpoint"], perEndpoint((e) => e.bytesOut));
    counter("switchboard_broadcast_deliveries_total", "Connections reached by endpoint.broadcast().", ["endpoint"], perEndpoint((e) => e.broadcastDeliveries));
    counter("switchboard_slow_consumer_total", 'Sends refused to slow consumers, by endpoint and action ("drop": message dropped, "close": connection closed with 4000).', ["endpoint", "action"], (add) => {
      for (const e of source.endpoints()) {
        add({ endpoint: e.path, action: "drop" }, e.slowConsumerDrops);
        add({ endpoint: e.path, action: "close" }, e.slowConsumerCloses);
      }
    });

    this.#tasks = new prom.Counter({ name: "switchboard_tasks_total", help: "Task calls, by app, task and outcome (ok, an error code, or disconnected).", labelNames: ["app", "task", "outcome"], registers: [registry] });
    this.#taskSeconds = new prom.Histogram({ name: "switchboard_task_duration_seconds", help: "Task call latency, by app and task.", labelNames: ["app", "task"], buckets: TASK_DURATION_BUCKETS, registers: [registry] });
    counter("switchboard_app_pushes_total", 'App pushes (replies are not pushes), by app and outcome ("sent", "dropped", "closed_slow").', ["app", "outcome"], (add) => {
      for (const { path, stats } of source.apps()) {
        add({ app: path, outcome: "sent" }, stats.pushes.sent);
        add({ app: path, outcome: "dropped" }, stats.pushes.dropped);
        add({ app: path, outcome: "closed_slow" }, stats.pushes.closedSlow);
      }
    });
    counter("switchboard_app_bad_messages_total", "Frames that were not valid protocol messages, by app.", ["app"], (add) => {
      for (const { path, stats } of source.apps()) add({ app: path }, stats.badMessages);
    });
    gauge("switchboard_rooms", "Rooms with members on this node, by app.", ["app"], (set) => {
      for (const { path, stats } of source.apps()) set({ app: path }, stats.rooms);
    });
    gauge("switchboard_room_members", "Room memberships on this node (a connection in 3 rooms counts 3), by app.", ["app"], (set) => {
      for (const { path, members } of source.apps()) set({ app: path }, members);
    });

    gauge("switchboard_cluster_up", "1 while the cluster bus is connected (always 1 in memory).", [], (set) => set({}, source.cluster().status === "up" ? 1 : 0));
    counter("switchboard_cluster_messages_total", 'Cluster bus messages, by event ("published", "delivered", "dropped": published while Redis was away).', ["event"], (add) => {
      const { bus } = source.cluster();
      add({ event: "published" }, bus.published);
      add({ event: "delivered" }, bus.delivered);
      add({ event: "dropped" }, bus.dropped);
    });
    counter("switchboard_cluster_outages_total", "Times the cluster bus lost Redis.", [], (add) => add({}, source.cluster().bus.outages));

    gauge("switchboard_event_loop_lag_seconds", 'Event-loop delay since the previous scrape, by stat ("mean", "p50", "p99", "max").', ["stat"], (set) => {
      // Empty until the loop has been sampled once: report 0, not NaN.
      const seconds = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
      set({ stat: "mean" }, seconds(loopDelay.mean));
      set({ stat: "p50" }, seconds(loopDelay.percentile(50)));
      set({ stat: "p99" }, seconds(loopDelay.percentile(99)));
      set({ stat: "max" }, seconds(loopDelay.max));
      loopDelay.reset();
    });

    gauge("switchboard_service_state", "Supervised services: 1 for the state each one is in.", ["service", "state"], (set) => {
      for (const s of source.services()) set({ service: s.name, state: s.state }, 1);
    });
    counter("switchboard_service_restarts_total", "Restarts of each supervised service.", ["service"], (add) => {
      for (const s of source.services()) add({ service: s.name }, s.restarts);
    });
  }

  /** One finished task call (per call, never per frame). */
  taskDone(app: string, task: string, outcome: TaskOutcome, durationMs: number): void {
    this.#tasks.inc({ app, task, outcome });
    this.#taskSeconds.observe({ app, task }, durationMs / 1000);
  }

  /** The Prometheus text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    this.#loopDelay.disable();
  }
}
