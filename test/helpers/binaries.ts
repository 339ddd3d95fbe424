/**
 * Tests that need an external program find it here. Where it is missing the test is skipped
 * with one line that says how to install it (never passed silently).
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export function findBinary(name: string, candidates: string[] = []): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, name));
  for (const path of [...candidates, ...dirs]) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here: try the next place
    }
  }
  return undefined;
}

/** The skip message for a missing binary: one clear line. */
export function missing(name: string, debianPackage: string): string {
  return `${name} not found: install it with "apt-get install -y ${debianPackage}"`;
}
