// The C handshake load generator (bench/loadgen/handshaker.c), built at bench time with the
// system C compiler. Without one the handshake phase uses the Node client and says so.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./contenders.ts";

/** Compiles the handshaker; returns its path, or the reason it cannot be had. */
export function buildHandshaker(): { path: string } | { missing: string } {
  const out = join(ROOT, "bench", ".build", "handshaker");
  mkdirSync(join(ROOT, "bench", ".build"), { recursive: true });
  const cc = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
  if (!cc) return { missing: "no C compiler (apt-get install -y gcc)" };
  const result = spawnSync(cc, ["-O2", "-o", out, join(ROOT, "bench", "loadgen", "handshaker.c"), "-lm"], { encoding: "utf8" });
  if (result.status !== 0) return { missing: `${cc} failed: ${result.stderr.split("\n")[0]}` };
  return { path: out };
}
