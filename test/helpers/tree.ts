/** Temporary file trees for loader/CLI tests: { "a/b.ts": "…" } → files on disk, removed after. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export function makeTree(t: { after(fn: () => void | Promise<void>): void }, files: Record<string, string>, prefix = "sb-tree-"): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeTree(root, files);
  return root;
}

export function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}

/** A handler file that echoes, with a marker so a test can tell which file answered. */
export function echoWithTag(tag: string): string {
  return `export default { message(conn, data) { conn.send(${JSON.stringify(tag)} + ":" + data.toString()); } };\n`;
}
