/**
 * Walking a handler directory and naming what each file serves — pure bookkeeping, no imports
 * of user code. `chat.ts` → /chat, `games/tetris.ts` → /games/tetris, `games/index.ts` →
 * /games; `_helper.ts` and `_lib/` are helpers and skipped; two files claiming one name, and
 * file names that cannot be a URL path segment, are problems reported together.
 */
import { readdirSync, statSync, type Dirent } from "node:fs";
import { join, relative, sep } from "node:path";

/** What the scanner needs to know of a kind of file (the rest is in kinds.ts). */
export interface ScanKind {
  readonly kind: string;
  /** Subfolder of the handler directory that holds this kind ("" = the directory itself). */
  readonly folder: string;
  /** The name a file serves, from its path segments (extension and a final "index" removed). */
  name(segments: readonly string[]): string;
}

export interface ScannedFile {
  readonly kind: string;
  readonly name: string;
  /** Absolute path. */
  readonly file: string;
  /** Path relative to the handler directory, for messages. */
  readonly rel: string;
}

export interface ScanResult {
  readonly files: ScannedFile[];
  readonly problems: Problem[];
}

export interface Problem {
  readonly rel: string;
  readonly problem: string;
}

const SOURCE = /^(.*)\.(ts|js|mts|mjs)$/;
const DECLARATION = /\.d\.(ts|mts)$/;
/** Unreserved URL characters (RFC 3986), so a path from a file name never needs encoding. */
const SEGMENT = /^[A-Za-z0-9._~-]+$/;

export function scanDirectory(root: string, kinds: readonly ScanKind[]): ScanResult {
  const files: ScannedFile[] = [];
  const problems: Problem[] = [];
  const claimedFolders = new Set(kinds.map((k) => k.folder).filter((f) => f !== ""));
  for (const kind of kinds) {
    const base = kind.folder === "" ? root : join(root, kind.folder);
    if (!isDirectory(base)) continue;
    const skip = kind.folder === "" ? claimedFolders : new Set<string>();
    walk(base, [], skip, (file, segments) => {
      const rel = relative(root, file).split(sep).join("/");
      const bad = segments.find((s) => !SEGMENT.test(s));
      if (bad !== undefined) {
        problems.push({ rel, problem: `"${bad}" cannot be a URL path segment: use letters, digits, "-", ".", "_" or "~"` });
        return;
      }
      const named = segments.at(-1) === "index" ? segments.slice(0, -1) : segments;
      files.push({ kind: kind.kind, name: kind.name(named), file, rel });
    });
  }
  files.sort((a, b) => (a.kind + a.name < b.kind + b.name ? -1 : a.kind + a.name > b.kind + b.name ? 1 : a.rel < b.rel ? -1 : 1));

  const seen = new Map<string, ScannedFile>();
  const unique: ScannedFile[] = [];
  for (const f of files) {
    const key = `${f.kind} ${f.name}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, f);
      unique.push(f);
    } else {
      problems.push({ rel: f.rel, problem: `${f.kind} ${f.name} is already served by ${first.rel}: rename or remove one of them` });
    }
  }
  return { files: unique, problems };
}

/** Calls `found` for each source file under `dir` with its path segments (extension removed). */
function walk(dir: string, prefix: string[], skip: ReadonlySet<string>, found: (file: string, segments: string[]) => void): void {
  const entries: Dirent[] = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    // "_x" is a helper, ".x" is hidden, node_modules is never handlers.
    if (entry.name.startsWith("_") || entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const full = join(dir, entry.name);
    if (isDirectory(full)) {
      if (prefix.length === 0 && skip.has(entry.name)) continue;
      walk(full, [...prefix, entry.name], skip, found);
      continue;
    }
    const match = SOURCE.exec(entry.name);
    if (match === null || DECLARATION.test(entry.name) || /\.test\.(ts|js|mts|mjs)$/.test(entry.name)) continue;
    found(full, [...prefix, match[1]!]);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory(); // follows symlinks, like import() does
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
