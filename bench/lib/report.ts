// Result rows → console tables, JSON and one hand-written SVG bar chart per phase.
import type { Phase, Target } from "./scenarios.ts";

export interface Row {
  contender: string;
  units: number;
  unitsPerSec: number;
  /** Server CPU µs per unit; for idle memory: bytes per connection. */
  cost: number | null;
  p50: number | null;
  p99: number | null;
  /** Where p50/p99 come from when not from every delivery (fixed-rate fan-out: the probe). */
  latencyFrom?: string;
  /** p50/p99 over every delivery the load generators saw, queueing in them included. */
  p50All?: number | null;
  p99All?: number | null;
  serverCpuPct: number | null;
  loadgenCpuPct: number | null;
  errors: number;
  /** Units each load-generator process received (in the cluster: worker i is on node i % 2). */
  perWorker?: number[];
  ratio?: number | null;
  note?: string;
  /** With --repeat: every round's cost, the row itself being the median one. */
  rounds?: Array<number | null>;
}

export interface PhaseResult {
  id: string; title: string; unit: string; baseline: string; target?: Target;
  rows: Row[]; skipped: Array<{ contender: string; reason: string }>; verdict?: string;
}

const f = (v: number | null | undefined, d = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d));
const us = (v: number | null): string => (v === null ? "-" : v >= 10_000 ? `${(v / 1000).toFixed(0)} ms` : v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`);

export function costLabel(p: Phase | PhaseResult): string { return p.unit === "conn" ? "KiB/conn" : `srv µs/${p.unit}`; }

/** Fills ratio (vs baseline) and the verdict against the issue's target. */
export function finish(res: PhaseResult): void {
  const base = res.rows.find((r) => r.contender === res.baseline);
  for (const r of res.rows) r.ratio = base?.cost && r.cost !== null ? r.cost / base.cost : null;
  const t = res.target;
  const sb = res.rows.find((r) => (res.target?.of ? r.contender === res.target.of : r.contender.startsWith("switchboard")));
  if (!t) return;
  const vs = res.rows.find((r) => r.contender === t.vs);
  if (!sb || !vs) { res.verdict = `target ${t.metric} <= ${t.max.toFixed(2)} x ${t.vs}: not measured (switchboard or ${t.vs} missing)`; return; }
  const pick = (r: Row) => (t.metric === "p99" ? r.p99 : r.cost);
  const a = pick(sb), b = pick(vs);
  if (a === null || b === null || !b) { res.verdict = `target vs ${t.vs}: not measurable`; return; }
  const ratio = a / b;
  res.verdict = `target: ${sb.contender} ${t.metric === "p99" ? "p99 latency" : t.metric === "mem" ? "memory/conn" : "server CPU/unit"} <= ${t.max.toFixed(2)} x ${t.vs} -> ${ratio.toFixed(2)} x: ${ratio <= t.max ? "MET" : "NOT MET"}`;
}

export function table(res: PhaseResult): string {
  const head = ["contender", `${res.unit}/s`, costLabel(res), `ratio vs ${res.baseline}`, "p50", "p99", "srv CPU %", "loadgen CPU %", "errors"];
  const body = res.rows.map((r) => [
    r.contender, res.unit === "conn" ? "-" : f(r.unitsPerSec, 0), res.unit === "conn" ? f(r.cost === null ? null : r.cost / 1024, 2) : f(r.cost, 2),
    r.ratio == null ? "-" : `${r.ratio.toFixed(2)}x`, us(r.p50), us(r.p99), f(r.serverCpuPct, 0),
    // "!" = the load generator was nearly saturated: the row may measure it, not the server
    r.loadgenCpuPct !== null && r.loadgenCpuPct >= 90 ? `${f(r.loadgenCpuPct, 0)} !` : f(r.loadgenCpuPct, 0), String(r.errors),
  ]);
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => "| " + row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(" | ") + " |";
  const out = [`### ${res.title}`, "", line(head), "|" + w.map((n, i) => (i === 0 ? "-".repeat(n + 2) : "-".repeat(n + 1) + ":")).join("|") + "|", ...body.map(line)];
  for (const s of res.skipped) out.push(`| ${s.contender}: ${s.reason} |`);
  const probed = res.rows.filter((r) => r.latencyFrom);
  if (probed.length) {
    out.push("", "p50/p99: measured by the latency probe (a few subscribers spread through the send order, read at once); " +
      "over every delivery, with the load generators' own queueing: " +
      probed.map((r) => `${r.contender} ${us(r.p50All ?? null)} / ${us(r.p99All ?? null)}`).join("; "));
  }
  const withRounds = res.rows.filter((r) => r.rounds);
  if (withRounds.length) out.push("", "rounds (" + costLabel(res) + "): " + withRounds.map((r) => `${r.contender} ${r.rounds!.map((v) => f(res.unit === "conn" && v !== null ? v / 1024 : v, 2)).join(" / ")}`).join("; "));
  if (res.verdict) out.push("", res.verdict);
  return out.join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Horizontal bars of the cost column; the baseline bar is grey, Switchboard's are green. */
export function svg(res: PhaseResult): string {
  const rows = res.rows.filter((r) => r.cost !== null);
  const W = 840, left = 150, barH = 26, gap = 10, top = 48;
  const H = top + rows.length * (barH + gap) + 30;
  const max = Math.max(1e-9, ...rows.map((r) => r.cost!));
  const scale = (W - left - 170) / max;
  const label = costLabel(res);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(res.title)}</text>`,
    `<text x="10" y="38" fill="#555">${esc(label)} (lower is better); ratio vs ${esc(res.baseline)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const v = res.unit === "conn" ? r.cost! / 1024 : r.cost!;
    const fill = r.contender === res.baseline ? "#999" : r.contender.startsWith("switchboard") ? "#2a9d5c" : "#4a78c2";
    const w = Math.max(1, r.cost! * scale);
    parts.push(
      `<text x="${left - 8}" y="${y + barH * 0.68}" text-anchor="end">${esc(r.contender)}</text>`,
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${fill}"/>`,
      `<text x="${(left + w + 6).toFixed(1)}" y="${y + barH * 0.68}">${v.toFixed(2)}${r.ratio != null ? ` (${r.ratio.toFixed(2)}x)` : ""}</text>`,
    );
  });
  if (res.verdict) parts.push(`<text x="10" y="${H - 10}" fill="#333">${esc(res.verdict)}</text>`);
  parts.push("</svg>");
  return parts.join("\n");
}
