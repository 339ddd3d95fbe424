/**
 * A handler directory → endpoints (and whatever other kinds kinds.ts lists) on a Server.
 *
 * All or nothing: every file is scanned, imported and checked first, and every problem is
 * reported in one LoadError that names each file and says what is wrong with it. Only when
 * there is none is anything mounted. .ts files import through tsx (bin/switchboard.js
 * registers it), so a handler directory needs no build step.
 */
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { LoadError, type LoadProblem } from "../errors.ts";
import type { Server } from "../server.ts";
import { FILE_KINDS, mountContext, type FileKind, type MountContext } from "./kinds.ts";
import { scanDirectory } from "./scan.ts";
import { importFile } from "./import-file.ts";

export interface LoadedFile {
  readonly kind: string;
  readonly name: string;
  readonly file: string;
  /** Path relative to the handler directory. */
  readonly rel: string;
  /** What was mounted (the prepared default export): cli/watch.ts puts it back when a reload fails. */
  readonly value?: unknown;
}

export interface LoadOptions {
  readonly kinds?: readonly FileKind[];
  readonly context?: MountContext;
}

export async function loadHandlerDirectory(server: Server, dir: string, options: LoadOptions = {}): Promise<LoadedFile[]> {
  const kinds = options.kinds ?? FILE_KINDS;
  const context = options.context ?? mountContext();
  if (isFile(dir)) {
    throw new LoadError(dir, [{ rel: ".", problem: `this is a file, not a folder: serve the folder that holds it (\`switchboard serve ${dirname(dir)}\`); every .ts/.js file in it becomes an endpoint` }]);
  }
  if (!isDirectory(dir)) {
    throw new LoadError(dir, [{ rel: ".", problem: "the handler directory does not exist: pass DIR to `switchboard serve DIR`, or set `handlers` in the config" }]);
  }
  const { files, problems } = scanDirectory(dir, kinds);
  const byKind = new Map(kinds.map((k) => [k.kind, k]));

  // Imports run concurrently; the factories then run in file order, so what one sees of
  // another (an app a factory mounted) does not depend on which import finished first.
  const results = await Promise.all(files.map((f) => importDefault(f.file, byKind.get(f.kind)!)));
  const imported = files.map((f, i) => {
    const kind = byKind.get(f.kind)!;
    const result = results[i]!;
    if ("problem" in result) {
      problems.push({ rel: f.rel, problem: result.problem });
      return { ...f, kind, value: undefined };
    }
    try {
      // User code (an endpoint factory) runs here: what it throws is this file's problem.
      return { ...f, kind, value: kind.prepare === undefined ? result.value : kind.prepare(server, result.value, context) };
    } catch (err) {
      problems.push({ rel: f.rel, problem: (err as Error)?.message ?? String(err) });
      return { ...f, kind, value: undefined };
    }
  });
  if (problems.length > 0) throw new LoadError(dir, problems);

  for (const f of imported) {
    try {
      f.kind.mount(server, f.name, f.value, context);
    } catch (err) {
      problems.push({ rel: f.rel, problem: (err as Error).message });
    }
  }
  if (problems.length > 0) throw new LoadError(dir, problems);
  return imported.map(({ kind, name, file, rel, value }) => ({ kind: kind.kind, name, file, rel, value }));
}

/**
 * One file, imported afresh as `version` (cli/watch.ts), checked and prepared (an endpoint
 * factory is called): what `kind.mount` or `kind.reload` takes, or what is wrong with it.
 */
export async function prepareFile(server: Server, file: string, kind: FileKind, context: MountContext, version: number): Promise<{ value: unknown } | { problem: string }> {
  const result = await importDefault(file, kind, version);
  if ("problem" in result) return { problem: result.problem };
  try {
    return { value: kind.prepare === undefined ? result.value : kind.prepare(server, result.value, context) };
  } catch (err) {
    return { problem: (err as Error)?.message ?? String(err) };
  }
}

async function importDefault(file: string, kind: FileKind, version?: number): Promise<{ value: unknown } | { problem: string; value?: undefined }> {
  let mod: Record<string, unknown>;
  try {
    mod = await importFile(file, version);
  } catch (err) {
    return { problem: `failed to load: ${firstLines((err as Error).message ?? String(err))}` };
  }
  if (!("default" in mod) || mod.default === undefined) {
    const named = Object.keys(mod).filter((k) => k !== "default");
    const also = named.length > 0 ? ` (it exports ${named.map((n) => `"${n}"`).join(", ")})` : "";
    return { problem: `no default export${also}: write "export default ${kind.expected}"` };
  }
  const wrong = kind.check(mod.default);
  return wrong === undefined ? { value: mod.default } : { problem: wrong };
}

/** esbuild's syntax errors run to many lines; the first few say what and where. */
function firstLines(message: string): string {
  const lines = message.split("\n");
  return lines.length <= 6 ? message : [...lines.slice(0, 6), "…"].join("\n");
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return false;
    throw err;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return false;
    throw err;
  }
}

export type { LoadProblem };
