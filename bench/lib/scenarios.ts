// The scenarios of issue 10. Each phase is one table: a unit, a baseline (ratio = 1.00) and,
// where the issue sets one, a target ratio against a named contender.
import type { MsgKind, Path } from "./contenders.ts";

export type Mode = "echo" | "fanout-rate" | "fanout-max" | "handshake" | "idle";

export interface Target {
  vs: string; max: number; metric: "cpu" | "mem" | "p99";
  /** The contender checked (default: the first Switchboard row). */
  of?: string;
}

export interface Phase {
  id: string;
  title: string;
  unit: string;
  mode: Mode;
  baseline: string;
  target?: Target;
  /** Publisher messages per second (fanout-rate). */
  rate?: number;
  /** Messages in flight (echo per connection; fanout-max at the publisher). */
  window?: number;
}

export interface Scenario {
  id: string;
  contenders: string[];
  kind: MsgKind;
  path: Path;
  conns: number;
  phases: Phase[];
  /** Runs only when named in --only (not part of the issue-10 suite a plain run measures). */
  optIn?: boolean;
  /** Also selected by this name in --only (one name for several scenarios, e.g. "workers"). */
  group?: string;
  /** Set when the scenario cannot run yet; printed as one line. */
  unavailable?: () => string | null;
}

const RAW = ["ws-naive", "socketio", "bun", "switchboard"];
/** Issue 18: one process (library), the CLI as one process, two workers over IPC, two over Redis. */
const WORKERS = ["switchboard-app", "switchboard-app-w1", "switchboard-app-w2", "switchboard-app-w2-redis"];

export function scenarios(quick: boolean): Scenario[] {
  const big = quick ? 2000 : 10_000;
  const bigLabel = quick ? "2k (quick; 10k in the full run)" : "10k";
  return [
    { id: "echo-text32", contenders: RAW, kind: "text32", path: "/echo", conns: 100, phases: [
      { id: "echo-text32", title: "Echo, 32 B text, 100 connections x 8 in flight", unit: "msg", mode: "echo", window: 8,
        baseline: "ws-naive", target: { vs: "ws-naive", max: 0.40, metric: "cpu" } }] },
    { id: "echo-bin4k", contenders: RAW, kind: "bin4k", path: "/echo", conns: 100, phases: [
      { id: "echo-bin4k", title: "Echo, 4 KiB binary, 100 connections x 8 in flight", unit: "msg", mode: "echo", window: 8, baseline: "ws-naive" }] },
    { id: "fanout-1k", contenders: RAW, kind: "fan32", path: "/fanout", conns: 1000, phases: [
      { id: "fanout-1k-fixed", title: "Fan-out to 1k subscribers, fixed 20 msg/s (20k deliveries/s)", unit: "delivery", mode: "fanout-rate", rate: 20,
        baseline: "ws-naive", target: { vs: "ws-naive", max: 1.0, metric: "p99" } },
      { id: "fanout-1k-max", title: "Fan-out to 1k subscribers, max rate (16 messages in flight)", unit: "delivery", mode: "fanout-max", window: 16,
        baseline: "ws-naive", target: { vs: "ws-naive", max: 0.30, metric: "cpu" } }] },
    { id: "fanout-10k", contenders: RAW, kind: "fan32", path: "/fanout", conns: big, phases: [
      { id: "fanout-10k-fixed", title: `Fan-out to ${bigLabel} subscribers, fixed 20k deliveries/s`, unit: "delivery", mode: "fanout-rate", rate: 20_000 / big,
        baseline: "ws-naive", target: { vs: "ws-naive", max: 1.0, metric: "p99" } },
      { id: "fanout-10k-max", title: `Fan-out to ${bigLabel} subscribers, max rate (4 messages in flight)`, unit: "delivery", mode: "fanout-max", window: 4,
        baseline: "ws-naive", target: { vs: "ws-naive", max: 0.30, metric: "cpu" } }] },
    { id: "idle-memory", contenders: RAW, kind: "text32", path: "/echo", conns: big, phases: [
      { id: "idle-memory", title: `Idle memory per connection, ${bigLabel} connections (RSS delta / n)`, unit: "conn", mode: "idle",
        baseline: "ws-naive", target: { vs: "ws-naive", max: 1.20, metric: "mem" } }] },
    // Issue 18: the app layer's idle cost (a connection counts once its welcome has arrived).
    { id: "app-idle-memory", contenders: ["ws-naive", "switchboard-app"], kind: "text32", path: "/echo", conns: big, phases: [
      { id: "app-idle-memory", title: `App layer: idle memory per connection, ${bigLabel} connections (RSS delta / n)`, unit: "conn", mode: "idle",
        baseline: "ws-naive", target: { vs: "ws-naive", of: "switchboard-app", max: 1.05, metric: "mem" } }] },
    { id: "handshakes", contenders: RAW, kind: "text32", path: "/echo", conns: 0, phases: [
      { id: "handshakes", title: "Handshakes (connect + upgrade + close), 2 x 16 concurrent", unit: "handshake", mode: "handshake",
        baseline: "ws-naive", target: { vs: "ws-naive", max: 1.10, metric: "cpu" } }] },
    // Issue 18: the app layer's handshake (its client waits for the switchboard.welcome push) vs raw `ws`.
    { id: "app-handshakes", contenders: ["ws-naive", "switchboard-app"], kind: "text32", path: "/echo", conns: 0, phases: [
      { id: "app-handshakes", title: "App layer: handshakes (connect + upgrade + welcome + close), 2 x 16 concurrent", unit: "handshake", mode: "handshake",
        baseline: "ws-naive", target: { vs: "ws-naive", of: "switchboard-app", max: 1.10, metric: "cpu" } }] },
    { id: "app-rpc", contenders: ["ws-rpc", "socketio", "switchboard-app"], kind: "rpc", path: "/echo", conns: 100, phases: [
      { id: "app-rpc", title: "App layer: RPC echo (JSON request -> reply; Socket.IO: acknowledged emit), 100 x 8", unit: "request", mode: "echo", window: 8,
        baseline: "ws-rpc", target: { vs: "ws-rpc", max: 0.50, metric: "cpu" } }] },
    { id: "app-room", contenders: ["ws-naive", "ws-rpc", "socketio", "switchboard-app"], kind: "room32", path: "/fanout", conns: 1000, phases: [
      { id: "app-room-1k", title: "App layer: room push to 1k members, max rate (16 in flight)", unit: "delivery", mode: "fanout-max", window: 16,
        baseline: "ws-rpc", target: { vs: "ws-naive", max: 0.30, metric: "cpu" } }] },
    { id: "cluster", contenders: ["switchboard", "switchboard-cluster"], kind: "fan32", path: "/fanout", conns: 1000, phases: [
      { id: "cluster-fanout", title: "Fan-out to 1k subscribers across two Switchboard nodes through Redis, max rate (16 in flight)",
        unit: "delivery", mode: "fanout-max", window: 16, baseline: "switchboard" }] },
    // Issue 15: the cost of room history. "Off" is historyMaxCount 0 (there is no switch that
    // skips the room engine: offsets are still assigned). Not in a default run: --only=history,history-cluster.
    { id: "history", optIn: true, contenders: ["switchboard-app-nohist", "switchboard-app", "switchboard-app-streams"], kind: "room32", path: "/fanout", conns: 1000, phases: [
      { id: "history-room-1k", title: "Room push to 1k members, one node, history off (historyMaxCount 0) vs on (100), max rate (16 in flight)",
        unit: "delivery", mode: "fanout-max", window: 16, baseline: "switchboard-app-nohist", target: { vs: "switchboard-app-nohist", of: "switchboard-app", max: 1.15, metric: "cpu" } }] },
    { id: "history-cluster", optIn: true, contenders: ["switchboard-app-cluster-nohist", "switchboard-app-cluster", "switchboard-app-cluster-streams"], kind: "room32", path: "/fanout", conns: 1000, phases: [
      { id: "history-cluster-1k", title: "Room push to 1k members over two nodes and Redis, history off (historyMaxCount 0) vs on (100), max rate (16 in flight)",
        unit: "delivery", mode: "fanout-max", window: 16, baseline: "switchboard-app-cluster-nohist" }] },
    // Issue 18: `switchboard serve --workers N` at saturation, one process vs workers (IPC or
    // Redis between them). Not in a default run: --only=workers (both scenarios).
    { id: "workers-rpc", group: "workers", optIn: true, contenders: WORKERS, kind: "rpc", path: "/echo", conns: 100, phases: [
      { id: "workers-rpc", title: "Workers: app RPC echo at saturation, 100 x 8 in flight, one process vs serve --workers", unit: "request", mode: "echo", window: 8,
        baseline: "switchboard-app" }] },
    { id: "workers-room", group: "workers", optIn: true, contenders: [...WORKERS.slice(0, 3), "switchboard-app-w2-core0", "switchboard-app-w3", ...WORKERS.slice(3)], kind: "room32", path: "/fanout", conns: 1000, phases: [
      { id: "workers-room-1k", title: "Workers: room push to 1k members spread over the workers, max rate (16 in flight)", unit: "delivery", mode: "fanout-max", window: 16,
        baseline: "switchboard-app", target: { vs: "switchboard-app", of: "switchboard-app-w2", max: 1.3, metric: "cpu" } }] },
  ];
}
