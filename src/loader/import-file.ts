/**
 * Import a user's .ts/.js file (handler or config) and return its exports as an ES module
 * would have them. A file outside any `"type": "module"` package is CommonJS to Node, so tsx
 * compiles its `export default` to `module.exports = { __esModule: true, default }`; here that
 * is unwrapped so the caller sees the same `default` either way.
 */
import { pathToFileURL } from "node:url";

export async function importFile(file: string): Promise<Record<string, unknown>> {
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const cjs = mod.default as Record<string, unknown> | undefined;
  if (typeof cjs === "object" && cjs !== null && cjs.__esModule === true) {
    const { __esModule: _marker, ...exports } = cjs;
    return exports;
  }
  return mod;
}
