// A module resolve hook (runs on Node's hooks thread): appends every resolved URL to a file,
// synchronously, so the file is complete when the import that caused it has finished.
import { appendFileSync } from "node:fs";

let logFile;

export function initialize(data) {
  logFile = data.logFile;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(logFile, `${resolved.url}\n`);
  return resolved;
}
