/**
 * `switchboard init [DIR]`: write a starter project that `switchboard serve` runs at once: an
 * endpoint, a task, a service, a page using the client, a config file and a test.
 *
 * The templates are the files of src/cli/starter/, each stored with a `.tmpl` suffix so that
 * no tool of this repository (tsc, the test runner, npm) takes them for its own files; the build
 * copies every non-TypeScript file of src/ to dist/, so an installed package finds them beside
 * dist/src/cli/init.js the same way. Nothing is ever overwritten: if any file is in the way,
 * nothing is written and the error lists them.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { SwitchboardError } from "../errors.ts";
import type { CliIO } from "./main.ts";

/** The starter, in the order it is listed; `about` is the line printed beside each file. */
export const STARTER_FILES: readonly { path: string; about: string }[] = [
  { path: "switchboard.config.json", about: "port 8080, handlers in ./handlers, pages in ./public" },
  { path: "package.json", about: "the one dependency (switchboard) and `npm test`" },
  { path: ".gitignore", about: "node_modules and the files a running server makes" },
  { path: "handlers/echo.ts", about: "endpoint ws://…/echo: sends every message back" },
  { path: "handlers/tasks/hello.ts", about: 'task "hello" of the app at /app' },
  { path: "handlers/services/ticker.ts", about: 'service: a push to room "ticks" every 2 s' },
  { path: "public/index.html", about: "page at /: calls the task, shows the ticks" },
  { path: "test/hello.test.mjs", about: "starts the folder on a free port and calls the task" },
];

const STARTER_DIR = new URL("./starter/", import.meta.url);

/** Why init wrote nothing (main.ts prints it as one "switchboard: error: …" line, exit 1). */
function refused(message: string): SwitchboardError {
  return new SwitchboardError("init_refused", message);
}

export interface InitResult {
  dir: string;
  written: string[];
}

/** Write the starter into `dir` (created if missing). Throws (code init_refused), writing nothing, if a file is in the way. */
export function writeStarter(dir: string, version: string): InitResult {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw refused(`init: ${dir} is a file, not a folder: pick a folder (switchboard init my-app)`);
  }
  // Read every template first, so a broken installation fails before anything is written.
  const contents = STARTER_FILES.map(({ path }) => render(readFileSync(new URL(`${path}.tmpl`, STARTER_DIR), "utf8"), dir, version));
  // lstat, not exists: a dangling symlink is in the way too (writing through it would create its target).
  const inTheWay = STARTER_FILES.map(({ path }) => path).filter((path) => lstatSync(join(dir, path), { throwIfNoEntry: false }) !== undefined);
  if (inTheWay.length > 0) {
    throw refused(`init: not writing the starter into ${dir}: ${inTheWay.length === 1 ? "this file exists" : "these files exist"} (init never overwrites): ${inTheWay.join(", ")}`);
  }
  STARTER_FILES.forEach(({ path }, i) => {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    // "wx": if something appeared since the check above, fail rather than overwrite it.
    writeFileSync(target, contents[i]!, { flag: "wx" });
  });
  return { dir, written: STARTER_FILES.map(({ path }) => path) };
}

/** The two placeholders of package.json: the folder's name as an npm name, and this version. */
function render(template: string, dir: string, version: string): string {
  const name = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "switchboard-app";
  return template.replaceAll("{{name}}", name).replaceAll("{{version}}", version);
}

/** What `init` prints: every file written, then the commands to run next. */
export function describeStarter(result: InitResult, cwd: string): string {
  const inside = relative(cwd, result.dir);
  const shown = inside === "" ? "." : inside.startsWith("..") ? result.dir : inside;
  const width = Math.max(...result.written.map((path) => path.length));
  const lines = [`switchboard: wrote a starter into ${shown === "." ? "this folder" : shown}:`];
  for (const path of result.written) {
    lines.push(`  ${path.padEnd(width)}  ${STARTER_FILES.find((file) => file.path === path)?.about ?? ""}`);
  }
  const cd = shown === "." ? "" : `cd ${shown.includes(" ") ? JSON.stringify(shown) : shown} && `;
  const next: [string, string][] = [
    [`${cd}npm install && npx switchboard serve`, "then open http://127.0.0.1:8080/"],
    ["npm test", "runs test/hello.test.mjs (beside a running serve too)"],
  ];
  const commandWidth = Math.max(...next.map(([command]) => command.length));
  lines.push("Next:", ...next.map(([command, why]) => `  ${command.padEnd(commandWidth)}  ${why}`));
  return lines.join("\n") + "\n";
}

/** The `init` command, for COMMAND_GROUPS in main.ts. */
export function initCommandGroup(version: string): (program: Command, io: CliIO) => void {
  return (program, io) => {
    program
      .command("init")
      .description("write a starter project (endpoint, task, service, page, config, test) that `switchboard serve` runs at once")
      .argument("[DIR]", "folder to write it into, created if missing (default: the current folder)")
      .addHelpText("after", ["", "Never overwrites: if any starter file exists, nothing is written (exit 1).", "Example:", "  switchboard init my-app && cd my-app && npm install && npx switchboard serve"].join("\n"))
      .action((dir: string | undefined) => {
        const result = writeStarter(resolve(io.cwd, dir ?? "."), version);
        io.out(describeStarter(result, io.cwd));
      });
  };
}
