// Which optional dependencies does `import "switchboard"` load, and which load only when used?
// ESM loads are seen by a resolve hook, CommonJS loads (require) in require.cache. Prints one
// JSON line: the packages loaded after the import, and after a pretty logger and a worker pool
// were used.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire, register } from "node:module";

const WATCHED = ["piscina", "pino-pretty", "esbuild"];
const logFile = new URL("./resolved.log", import.meta.url);
writeFileSync(logFile, "");
register("./log-resolve.js", import.meta.url, { data: { logFile: logFile.pathname } });
const require = createRequire(import.meta.url);

function loaded() {
  const seen = [...readFileSync(logFile, "utf8").split("\n"), ...Object.keys(require.cache)];
  return WATCHED.filter((name) => seen.some((path) => path.includes(`/node_modules/${name}/`)));
}

const { createRuntimeLogger, workerPool } = await import("switchboard");
const afterImport = loaded();

createRuntimeLogger({ pretty: true, level: "silent" });
const pool = workerPool({ filename: new URL("./double.worker.js", import.meta.url), maxThreads: 1 });
const doubled = await pool.run(21, AbortSignal.timeout(20000));
await pool.close();
const afterUse = loaded();

console.log(JSON.stringify({ afterImport, afterUse, doubled }));
