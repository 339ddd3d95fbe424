/**
 * Import a user's .ts/.js file (handler or config) and return its exports as an ES module
 * would have them. A file outside any `"type": "module"` package is CommonJS to Node, so tsx
 * compiles its `export default` to `module.exports = { __esModule: true, default }`; here that
 * is unwrapped so the caller sees the same `default` either way.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);

/**
 * `version` (from 1, `switchboard serve --watch`) imports the file afresh: the URL gets
 * `?v=N`, a new key in the ESM cache, and a CommonJS file is dropped from require.cache (which
 * the ESM loader consults by file name, whatever the query). The old module stays in memory:
 * ES modules cannot be unloaded (limit watchMaxReloads). Only this file is fresh: what it imports
 * comes from the cache.
 */
export async function importFile(file: string, version?: number): Promise<Record<string, unknown>> {
  let url = pathToFileURL(file).href;
  if (version !== undefined) {
    delete require.cache[file];
    url += `?v=${version}`;
  }
  const mod = (await import(url)) as Record<string, unknown>;
  const cjs = mod.default as Record<string, unknown> | undefined;
  if (typeof cjs === "object" && cjs !== null && cjs.__esModule === true) {
    const { __esModule: _marker, ...exports } = cjs;
    return exports;
  }
  return mod;
}
