/**
 * `npm run build`, also run by `prepare` (so by `npm pack`, `npm publish`, `npm ci` here, and an
 * install from a git URL or a folder): dist/ as the installed package runs it, from nothing.
 *   1. tsc -p tsconfig.build.json       → dist/src, dist/client (JavaScript and .d.ts)
 *   2. every file of src/ that is not TypeScript (the pages) → the same place under dist/src
 *   3. the browser client, bundled by esbuild → dist/switchboard.js (what /switchboard.js serves)
 * Plain JavaScript on purpose: it runs before anything is compiled, with nothing but Node and
 * the dev dependencies, and says so clearly when those are missing.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const started = performance.now();

const tsc = devDependency("typescript/bin/tsc");
devDependency("esbuild"); // checked now, used in step 3, so a missing one fails before any work

// Start from an empty dist: a file of a deleted source must not ship.
rmSync(dist, { recursive: true, force: true });

const compiled = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
if (compiled.status !== 0) fail(`tsc failed (exit ${compiled.status ?? compiled.signal}); nothing was built`);

for (const file of filesUnder(join(root, "src"))) {
  if (file.endsWith(".ts")) continue;
  const target = join(dist, relative(root, file));
  mkdirSync(dirname(target), { recursive: true });
  cpSync(file, target);
}

// The compiled module, so the bundle's esbuild options and its place in dist have one source.
const { buildClientBundle, BUILT_BUNDLE } = await import(pathToFileURL(join(dist, "src", "app", "client-bundle.js")).href);
writeFileSync(BUILT_BUNDLE, await buildClientBundle(join(root, "client", "index.ts")));

console.log(`switchboard: built ${relative(root, dist)}/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);

/** Resolve a dev dependency, or stop with what to do: a linked folder gets no dependencies from npm. */
function devDependency(specifier) {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch (err) {
    if (err.code !== "MODULE_NOT_FOUND") throw err;
    return fail(
      `${specifier.split("/")[0]} is not installed in ${root}. Building needs the dev dependencies: ` +
        `run \`npm install\` in ${root} first (npm does not install the dependencies of a folder it links to).`,
    );
  }
}

function* filesUnder(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

function fail(message) {
  console.error(`switchboard build: ${message}`);
  process.exit(1);
}
