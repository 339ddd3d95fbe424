/**
 * Finding and reading a config file: `--config FILE` (or SWITCHBOARD_CONFIG), else the first of
 * switchboard.config.ts / .js / .json in the working directory, else none. .ts files load
 * through tsx (bin/switchboard.js registers it), so a config needs no build step.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { OptionError } from "../errors.ts";
import { importFile } from "../loader/import-file.ts";

export const CONFIG_FILE_NAMES = ["switchboard.config.ts", "switchboard.config.js", "switchboard.config.json"] as const;

/** The config file to read, or undefined. An explicit path that does not exist is an error. */
export function findConfigFile(cwd: string, explicit: string | undefined): string | undefined {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new OptionError("config", `file not found: ${path} (check the --config path)`);
    return path;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The file's config object (not yet validated). Names the file in every error. */
export async function readConfigFile(path: string): Promise<unknown> {
  if (path.endsWith(".json")) {
    const text = await readFile(path, "utf8");
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new OptionError("config", `${path} is not valid JSON: ${(err as Error).message}`);
    }
  }
  let mod: Record<string, unknown>;
  try {
    mod = await importFile(path);
  } catch (err) {
    throw new OptionError("config", `${path} failed to load: ${(err as Error).message}`);
  }
  if (!("default" in mod)) {
    throw new OptionError("config", `${path} has no default export: write "export default defineConfig({ … })"`);
  }
  return mod.default;
}
