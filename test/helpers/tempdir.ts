/** A temporary directory removed after the test (short path: UNIX socket paths max ~107 bytes). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(t: { after(fn: () => void | Promise<void>): void }, prefix = "sb-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
