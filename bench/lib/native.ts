// The C load generators (bench/loadgen/handshaker.c, bench/loadgen/subscriber.c), built at
// bench time with the system C compiler. Without one the phases that use them fall back to the
// Node client and say so.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./contenders.ts";

/** Compiles bench/loadgen/<name>.c; returns its path, or the reason it cannot be had. */
function buildNative(name: "handshaker" | "subscriber"): { path: string } | { missing: string } {
  const out = join(ROOT, "bench", ".build", name);
  mkdirSync(join(ROOT, "bench", ".build"), { recursive: true });
  const cc = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
  if (!cc) return { missing: "no C compiler (apt-get install -y gcc)" };
  const result = spawnSync(cc, ["-O2", "-o", out, join(ROOT, "bench", "loadgen", `${name}.c`), "-lm"], { encoding: "utf8" });
  if (result.status !== 0) return { missing: `${cc} failed: ${result.stderr.split("\n")[0]}` };
  return { path: out };
}

/** The handshake loop (phase mode "handshake"). */
export function buildHandshaker(): { path: string } | { missing: string } {
  return buildNative("handshaker");
}

/** The fan-out subscribers (scenarios whose phases are all fan-out). */
export function buildSubscriber(): { path: string } | { missing: string } {
  return buildNative("subscriber");
}
