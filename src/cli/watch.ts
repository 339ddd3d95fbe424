/**
 * `switchboard serve --watch`: the handler directory is watched, and a file that changed is
 * imported afresh and put in place of the old one while the process runs (a development
 * feature). What each kind does with a new version is its `reload` in loader/kinds.ts:
 *
 *   endpoint  the path is remounted; that endpoint's connections are closed with 1012 (Service
 *             Restart) so clients reconnect to the new code; other endpoints are not touched
 *   task      the task is replaced on the app; the next call runs the new handler
 *   service   the service is stopped and the new definition started
 *
 * New files are mounted, deleted files taken off (an endpoint's path then 404s, a task answers
 * unknown_task). A file that does not load is logged in one line and the previous version keeps
 * running; the next save that loads replaces it. A file counts as changed when its bytes do
 * (an editor's save that writes the same bytes reloads nothing).
 *
 * Why a rescan on every burst of events rather than acting on the file fs.watch names: the
 * names are unreliable (editors write a temporary file and rename it over the old one, a
 * folder rename names only the folder), while a scan is cheap and sees exactly what the loader
 * would see at start-up.
 */
import { existsSync, watch, readFileSync, type FSWatcher } from "node:fs";
import { join, sep } from "node:path";
import { createHash } from "node:crypto";
import type { Server } from "../server.ts";
import type { Logger } from "../log.ts";
import { readLimit } from "../limits.ts";
import { scanDirectory, type ScannedFile } from "../loader/scan.ts";
import { prepareFile, type LoadedFile } from "../loader/directory.ts";
import type { FileKind, MountContext } from "../loader/kinds.ts";

export interface WatchOptions {
  readonly dir: string;
  readonly server: Server;
  readonly kinds: readonly FileKind<any>[];
  readonly context: MountContext;
  /** What the loader mounted at start-up (with its values). */
  readonly loaded: readonly LoadedFile[];
  readonly logger: Logger;
  /** Quiet time after the last change before a reload (limit watchDebounceMs). */
  readonly watchDebounceMs?: number | undefined;
  /** Reloads before the watcher stops (limit watchMaxReloads): each keeps its old module in memory. */
  readonly watchMaxReloads?: number | undefined;
}

/** The watcher's limits, checked (an OptionError names the limit): `serve` calls it before anything starts. */
export function watchLimits(set: { watchDebounceMs?: number | undefined; watchMaxReloads?: number | undefined }): { debounceMs: number; maxReloads: number } {
  return { debounceMs: readLimit("watchDebounceMs", set.watchDebounceMs), maxReloads: readLimit("watchMaxReloads", set.watchMaxReloads) };
}

interface Mounted {
  readonly file: string;
  readonly rel: string;
  readonly hash: string | undefined;
  readonly value: unknown;
}

/** Changed paths remembered between passes, at most (the warning about helper files is best effort). */
const MAX_TOUCHED = 256;
const SOURCE_FILE = /\.(ts|js|mts|mjs)$/;

export class HandlerWatcher {
  readonly #options: WatchOptions;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #maxReloads: number;
  readonly #byKind: ReadonlyMap<string, FileKind<any>>;
  /** What is mounted now, by `${kind} ${name}`. */
  readonly #mounted = new Map<string, Mounted>();
  /** The bytes of a version that failed to load, by key: not tried (or logged) again until they change. */
  readonly #failed = new Map<string, string>();
  /** Scan problems logged already (a problem is logged once, not on every pass). */
  #problems = new Set<string>();
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The pass running now; a change meanwhile asks for one more after it. */
  #running: Promise<void> | undefined;
  #again = false;
  #reloads = 0;
  /** Paths fs.watch named since the last pass (to tell of changed helper files; bounded). */
  readonly #touched = new Set<string>();

  constructor(options: WatchOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: "watch" });
    ({ debounceMs: this.#debounceMs, maxReloads: this.#maxReloads } = watchLimits(options));
    this.#byKind = new Map(options.kinds.map((k) => [k.kind, k]));
    for (const f of options.loaded) this.#mounted.set(`${f.kind} ${f.name}`, { file: f.file, rel: f.rel, hash: hashOf(f.file), value: f.value });
  }

  /** Start watching (recursive fs.watch: Linux, macOS and Windows on Node 20). */
  start(): this {
    let watcher: FSWatcher;
    try {
      watcher = watch(this.#options.dir, { recursive: true }, (_event, name) => this.#changed(name));
    } catch (err) {
      // No inotify watches left (ENOSPC), say: the server runs on, without reloading.
      this.#log.error({ err, dir: this.#options.dir }, `cannot watch ${this.#options.dir}: files will not be reloaded (restart the server to apply changes)`);
      return this;
    }
    // A watch error (the folder itself deleted) ends watching; the server goes on with what it has.
    watcher.on("error", (err) => {
      this.#log.error({ err, dir: this.#options.dir }, "watching the handler directory failed: reloading stops (restart the server)");
      this.close();
    });
    this.#watcher = watcher;
    this.#log.info({ dir: this.#options.dir, watchDebounceMs: this.#debounceMs, watchMaxReloads: this.#maxReloads }, `watching ${this.#options.dir} for changes`);
    return this;
  }

  /** How many files were imported afresh so far. */
  get reloads(): number {
    return this.#reloads;
  }

  /** Stop watching; a pass in progress finishes. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #changed(name: string | Buffer | null): void {
    if (this.#watcher === undefined) return;
    if (typeof name === "string" && this.#touched.size < MAX_TOUCHED) this.#touched.add(name.split(sep).join("/"));
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, this.#debounceMs);
  }

  #schedule(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass()
      .catch((err: unknown) => this.#log.error({ err }, "reload pass failed"))
      .finally(() => {
        this.#running = undefined;
        if (this.#again && this.#watcher !== undefined) {
          this.#again = false;
          this.#schedule();
        }
      });
  }

  /** Compare the directory with what is mounted; reload what changed, add what is new, remove what is gone. */
  async #pass(): Promise<void> {
    const { server, dir, kinds } = this.#options;
    if (server.state !== "running") return;
    const { files, problems } = scanDirectory(dir, kinds);
    const problemKeys = new Set(problems.map((p) => `${p.rel}: ${p.problem}`));
    for (const line of problemKeys) if (!this.#problems.has(line)) this.#log.error(`not loaded: ${line}`);
    this.#problems = problemKeys;
    this.#tellOfHelpers(files);

    const present = new Set<string>();
    for (const f of files) {
      const key = `${f.kind} ${f.name}`;
      present.add(key);
      const hash = hashOf(f.file);
      if (hash === undefined) continue; // gone between the scan and the read: the next pass sees it
      const current = this.#mounted.get(key);
      if (current !== undefined && current.hash === hash) {
        this.#failed.delete(key); // back to the bytes that run: nothing to report any more
        continue;
      }
      if (this.#failed.get(key) === hash) continue;
      if (!(await this.#reload(key, f, hash, current))) return;
    }
    for (const [key, current] of this.#mounted) {
      if (present.has(key)) continue;
      await this.#remove(key, current);
    }
    for (const key of this.#failed.keys()) if (!present.has(key)) this.#failed.delete(key);
  }

  /** Import one file afresh and put it in place. False once the reload budget is spent (watching stops). */
  async #reload(key: string, f: ScannedFile, hash: string, current: Mounted | undefined): Promise<boolean> {
    const kind = this.#byKind.get(f.kind)!;
    const what = `${f.kind} ${f.name} (${f.rel})`;
    if (kind.reload === undefined) {
      this.#log.warn({ file: f.rel }, `${what} changed: this kind of file is not reloaded; restart the server to apply it`);
      this.#failed.set(key, hash);
      return true;
    }
    if (this.#reloads >= this.#maxReloads) {
      this.#log.error({ reloads: this.#reloads }, `watchMaxReloads (${this.#maxReloads}) reached: every reload keeps its old module in memory, so watching stops; restart the server to go on`);
      this.close();
      return false;
    }
    const { server, context } = this.#options;
    const prepared = await prepareFile(server, f.file, kind, context, ++this.#reloads);
    if ("problem" in prepared) {
      this.#failed.set(key, hash);
      this.#log.error({ file: f.rel }, `reload failed: ${f.rel}: ${oneLine(prepared.problem)} (the previous version keeps running)`);
      return true;
    }
    try {
      await kind.reload(server, f.name, prepared.value, context, current?.value);
    } catch (err) {
      this.#failed.set(key, hash);
      this.#log.error({ file: f.rel }, `reload failed: ${f.rel}: ${oneLine((err as Error)?.message ?? String(err))} (the previous version keeps running)`);
      return true;
    }
    this.#failed.delete(key);
    this.#mounted.set(key, { file: f.file, rel: f.rel, hash, value: prepared.value });
    this.#log.info({ file: f.rel, kind: f.kind, name: f.name }, `${current === undefined ? "added" : "reloaded"} ${what}`);
    return true;
  }

  /**
   * A changed source file that serves nothing (`_lib.ts`, a helper) is not reloaded, and what
   * imports it keeps the version it has (only the served file is imported afresh): say so.
   */
  #tellOfHelpers(files: readonly ScannedFile[]): void {
    const served = new Set(files.map((f) => f.rel));
    for (const rel of this.#touched) {
      if (served.has(rel) || !SOURCE_FILE.test(rel) || /(^|\/)(\.|node_modules\/)/.test(rel) || !existsSync(join(this.#options.dir, rel))) continue;
      this.#log.warn({ file: rel }, `${rel} changed: it serves nothing itself, and files that import it keep the version they loaded; restart the server to apply it`);
    }
    this.#touched.clear();
  }

  async #remove(key: string, current: Mounted): Promise<void> {
    const [kindName, name] = splitKey(key);
    const kind = this.#byKind.get(kindName)!;
    if (kind.remove === undefined) {
      this.#log.warn({ file: current.rel }, `${key} (${current.rel}) was deleted: this kind of file is not removed; restart the server to apply it`);
      this.#mounted.delete(key);
      return;
    }
    try {
      await kind.remove(this.#options.server, name, this.#options.context, current.value);
    } catch (err) {
      this.#log.error({ file: current.rel, err }, `removing ${key} (${current.rel}) failed: ${oneLine((err as Error)?.message ?? String(err))}`);
      return;
    }
    this.#mounted.delete(key);
    this.#log.info({ file: current.rel, kind: kindName, name }, `removed ${key} (${current.rel})`);
  }
}

export function watchHandlers(options: WatchOptions): HandlerWatcher {
  return new HandlerWatcher(options).start();
}

function splitKey(key: string): [string, string] {
  const space = key.indexOf(" ");
  return [key.slice(0, space), key.slice(space + 1)];
}

/** The file's bytes, hashed; undefined when it cannot be read (deleted meanwhile). */
function hashOf(file: string): string | undefined {
  try {
    return createHash("sha1").update(readFileSync(file)).digest("hex");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** A syntax error from esbuild spans lines; the log line keeps them on one. */
function oneLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" | ");
}
