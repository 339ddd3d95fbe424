// Latency histogram in µs: exact below 1 ms, 1 % log buckets above; mergeable across processes.
const LINEAR = 1000;
const STEP = Math.log(1.01);
export const HIST_SIZE = LINEAR + 1400; // up to ~1000 s

export function newHist(): Float64Array { return new Float64Array(HIST_SIZE); }

export function record(h: Float64Array, micros: number): void {
  const v = micros < 0 ? 0 : micros;
  const b = v < LINEAR ? Math.floor(v) : Math.min(HIST_SIZE - 1, LINEAR + Math.floor(Math.log(v / LINEAR) / STEP));
  h[b]! += 1;
}

export function merge(into: Float64Array, from: ArrayLike<number>): void {
  for (let i = 0; i < HIST_SIZE; i++) into[i]! += from[i] ?? 0;
}

/** The value (µs) below which fraction q of the samples lie, or null without samples. */
export function percentile(h: Float64Array, q: number): number | null {
  let total = 0;
  for (let i = 0; i < HIST_SIZE; i++) total += h[i]!;
  if (total === 0) return null;
  const want = total * q;
  let acc = 0;
  for (let i = 0; i < HIST_SIZE; i++) {
    acc += h[i]!;
    if (acc >= want) return i < LINEAR ? i : LINEAR * Math.exp((i - LINEAR) * STEP);
  }
  return null;
}

/** Sparse form for IPC: [index, count, index, count, ...]. */
export function toSparse(h: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < HIST_SIZE; i++) if (h[i]! > 0) out.push(i, h[i]!);
  return out;
}

export function fromSparse(s: number[]): Float64Array {
  const h = newHist();
  for (let i = 0; i + 1 < s.length; i += 2) h[s[i]!] = s[i + 1]!;
  return h;
}
