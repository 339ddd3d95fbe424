/**
 * Checks every fenced code block of README.md and docs/*.md (`npm run check-docs`; run by
 * test/docs/code-blocks.test.ts, so by `npm test` and CI). The convention, in short (the full
 * text is in docs/architecture.md, "Code blocks in the docs"):
 *
 * - ts / typescript: type-checked (strict) in a scratch project where `switchboard` and
 *   `switchboard/client` resolve to this package, as they do for a user.
 * - js / javascript, and the scripts of html blocks (`"/switchboard.js"` read as
 *   `switchboard/client`): checked as JavaScript (checkJs, not strict).
 * - json: parsed (the whole block, or each line when it is one message per line); in
 *   protocol.md each one must also be a message the protocol codec reads.
 * - python: its syntax, by python3's parser.
 * - sh / bash / shell: a block that starts something (`switchboard`, `npm start`, `node`, `tsx`)
 *   must name the test that exercises it; other shell blocks are listed.
 * - anything else (no tag, text, diagrams): listed, not checked.
 *
 * An HTML comment on the line before the fence changes that:
 *   <!-- check: fragment -->            partial code: names it does not define are allowed
 *   <!-- check: internal -->            repository code: imports of "./src/…" mean this repository's
 *   <!-- check: run expect="…" -->      also run it (PORT=0) until a line matches, then SIGTERM
 *   <!-- check: file=NAME -->           write it as NAME in the doc's run folder (run blocks read it)
 *   <!-- check: test test/x.test.ts --> a shell block exercised by that test
 *   <!-- check: skip REASON -->         not checked; the reason is required
 * "```ts fragment" is the same as the fragment comment.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parse, ProtocolError } from "../src/protocol/codec.ts";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface Marker {
  fragment: boolean;
  run: boolean;
  expect?: string;
  file?: string;
  skip?: string;
  /** Code of this repository, not of the package: imports of "./src/…" mean the repository's. */
  internal?: boolean;
  tests: string[];
}

export interface Block {
  /** Path relative to the repository, e.g. "docs/app.md". */
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  marker: Marker;
  text: string;
}

export interface Failure {
  block: Block;
  /** 1-based line in the doc the message is about. */
  line: number;
  message: string;
}

export type Verdict = "typechecked" | "ran" | "parsed" | "tested" | "listed" | "skipped";

export interface Report {
  blocks: Array<{ block: Block; verdict: Verdict; note: string }>;
  failures: Failure[];
}

const TS_LANGS = new Set(["ts", "typescript"]);
const JS_LANGS = new Set(["js", "javascript", "mjs"]);
const SH_LANGS = new Set(["sh", "bash", "shell", "console", "zsh"]);
/** Commands that start something (at command position, after any VAR=value): a block holding one must name its test. */
const STARTS_SOMETHING = /^(\w+=\S*\s+)*((npx\s+)?(switchboard|node|tsx)\b|npm\s+start\b)/;
/**
 * Allowed in fragments, which use names defined elsewhere: "Cannot find name …" and kin, and
 * the implicit `any` of a callback given to such a name.
 */
const FRAGMENT_IGNORED = new Set([2304, 2552, 2503, 2580, 2582, 18004, 7005, 7006, 7031]);
/** The names a fragment may use without defining them, as the docs use them: a type, or an import. */
const FRAGMENT_CONTEXT: Record<string, { type: string } | { imports: string }> = {
  server: { type: 'import("switchboard").Server' },
  app: { type: 'import("switchboard").App' },
  endpoint: { type: 'import("switchboard").Endpoint' },
  z: { imports: 'import { z } from "zod";' },
  Client: { imports: 'import { Client } from "switchboard/client";' },
};
const RUN_TIMEOUT_MS = 60_000;
const STOP_DEADLINE_MS = 10_000;

export function docFiles(): string[] {
  const docs = readdirSync(join(REPO, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

function parseMarker(comment: string | undefined, info: string): Marker {
  const marker: Marker = { fragment: /\bfragment\b/.test(info), run: false, tests: [] };
  if (comment === undefined) return marker;
  const body = comment.trim();
  const skip = body.match(/^skip\b\s*(.*)$/s);
  if (skip) {
    marker.skip = skip[1]!.trim();
    return marker;
  }
  for (const token of body.match(/\w+="[^"]*"|\S+/g) ?? []) {
    const pair = token.match(/^(\w+)=(?:"([^"]*)"|(\S*))$/);
    if (pair) {
      const value = pair[2] ?? pair[3] ?? "";
      if (pair[1] === "expect") marker.expect = value;
      else if (pair[1] === "file") marker.file = value;
      else throw new Error(`unknown check option ${pair[1]}`);
    } else if (token === "fragment") marker.fragment = true;
    else if (token === "run") marker.run = true;
    else if (token === "internal") marker.internal = true;
    else if (token === "test") continue;
    else if (/^test\/.+\.test\.ts$/.test(token)) marker.tests.push(token);
    else throw new Error(`unknown check word "${token}" (fragment, internal, run, file=, expect=, test FILE, skip REASON)`);
  }
  return marker;
}

/** Every fenced block of one markdown file, with the check marker before it. */
export function extractBlocks(doc: string, source = readFileSync(resolve(REPO, doc), "utf8")): { blocks: Block[]; failures: Failure[] } {
  const lines = source.split("\n");
  const blocks: Block[] = [];
  const failures: Failure[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]!.match(/^(\s*)(`{3,}|~{3,})\s*([^`\s]*)(.*)$/);
    if (!open) continue;
    const [, indent, fence, lang, info] = open as unknown as [string, string, string, string, string];
    let end = i + 1;
    while (end < lines.length && !(lines[end]!.trim().startsWith(fence) && lines[end]!.trim().replace(/[`~]/g, "") === "")) end++;
    const text = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart())).join("\n");
    const before = i > 0 ? lines[i - 1]!.trim().match(/^<!--\s*check:(.*?)-->$/s) : null;
    const block: Block = { doc, line: i + 1, lang: lang.toLowerCase(), marker: { fragment: false, run: false, tests: [] }, text };
    try {
      block.marker = parseMarker(before?.[1], info);
    } catch (err) {
      failures.push({ block, line: i, message: (err as Error).message });
    }
    if (end >= lines.length) failures.push({ block, line: i + 1, message: "code block is never closed" });
    blocks.push(block);
    i = end;
  }
  return { blocks, failures };
}

/** The scratch project: node_modules links this package as `switchboard` beside its own dependencies. */
export function makeProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "sb-docs-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "docs-check", private: true, type: "module" }));
  const modules = join(dir, "node_modules");
  mkdirSync(modules);
  for (const name of readdirSync(join(REPO, "node_modules"))) {
    if (name.startsWith(".")) continue;
    symlinkSync(join(REPO, "node_modules", name), join(modules, name));
  }
  symlinkSync(REPO, join(modules, "switchboard"));
  return dir;
}

function slug(block: Block): string {
  return `${basename(block.doc).replace(/\./g, "_")}_L${block.line}`;
}

/** Where a block is written: its own file, or NAME in the doc's run folder. */
function blockPath(project: string, block: Block, ext: string): string {
  if (block.marker.file !== undefined) return join(project, "run", basename(block.doc, ".md"), block.marker.file);
  return join(project, "blocks", `${slug(block)}${ext}`);
}

/** Write a doc's named blocks (`file=NAME`) into the project; returns their folder. */
export function writeNamedBlocks(project: string, doc: string): string {
  for (const block of extractBlocks(doc).blocks) {
    if (block.marker.file !== undefined) write(blockPath(project, block, ""), block.text);
  }
  return join(project, "run", basename(doc, ".md"));
}

interface Written {
  block: Block;
  path: string;
  /** doc line of the first line of the written file. */
  firstLine: number;
  strict: boolean;
}

/** The module scripts of an html block, with their line offset in the block. */
function htmlScripts(text: string): Array<{ code: string; offset: number }> {
  const out: Array<{ code: string; offset: number }> = [];
  for (const match of text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
    const offset = text.slice(0, match.index! + match[0].indexOf(">") + 1).split("\n").length - 1;
    out.push({ code: match[1]!.replace(/(["'])\/switchboard\.js\1/g, '"switchboard/client"'), offset });
  }
  return out;
}

/** The names a module exports, read from its export statements (enough for src/index.ts). */
function exportedNames(file: string): string[] {
  const source = readFileSync(join(REPO, file), "utf8");
  const names = new Set<string>();
  for (const m of source.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()!.trim();
      if (name !== "") names.add(name);
    }
  }
  for (const m of source.matchAll(/export\s+(?:async\s+)?(?:function|const|class|interface|type)\s+(\w+)|export\s+\*\s+as\s+(\w+)/g)) names.add((m[1] ?? m[2])!);
  return [...names];
}

let packageNames: string[] | undefined;

/**
 * One line put before a fragment: imports of the package's names it uses and does not import,
 * and the conventional context names (`server`, `app`, …) it uses and does not define.
 */
function fragmentPrelude(code: string, javascript = false): string {
  packageNames ??= exportedNames("src/index.ts");
  const uses = (name: string) => new RegExp(`(^|[^\\w.$])${name.replace("$", "\\$")}\\b`).test(code);
  const defines = (name: string) =>
    new RegExp(`\\b(const|let|var|function|class|interface|type|import)\\s+(\\{[^}]*\\b)?${name}\\b|\\b${name}\\b[^;\\n]*\\bfrom\\s+["']`).test(code);
  const lines: string[] = [];
  const fromPackage = packageNames.filter((name) => !(name in FRAGMENT_CONTEXT) && uses(name) && !defines(name));
  if (fromPackage.length > 0) lines.push(`import { ${fromPackage.join(", ")} } from "switchboard";`);
  for (const [name, context] of Object.entries(FRAGMENT_CONTEXT)) {
    if (!uses(name) || defines(name)) continue;
    if ("imports" in context) lines.push(context.imports);
    else if (javascript) lines.push(`const ${name} = /** @type {${context.type}} */ (/** @type {any} */ (undefined));`);
    else lines.push(`declare const ${name}: ${context.type};`);
  }
  return lines.join(" ");
}

/** Imports of "./src/…" or "./client/…" in an internal block mean this repository's files. */
function internalImports(code: string): string {
  return code.replace(/(from\s+["'])\.\/((src|client|test|examples)\/)/g, `$1${REPO}/$2`);
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function typecheck(written: Written[], failures: Failure[]): void {
  const base: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ["source"],
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: ["node"],
    skipLibCheck: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    esModuleInterop: true,
  };
  for (const strict of [true, false]) {
    const mine = written.filter((w) => w.strict === strict);
    if (mine.length === 0) continue;
    const options = strict ? { ...base, strict: true } : { ...base, allowJs: true, checkJs: true, strict: false };
    const program = ts.createProgram(mine.map((w) => w.path), options);
    for (const w of mine) {
      const file = program.getSourceFile(w.path);
      if (file === undefined) {
        failures.push({ block: w.block, line: w.block.line, message: "not part of the program" });
        continue;
      }
      const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
      for (const d of diagnostics) {
        if (w.block.marker.fragment && FRAGMENT_IGNORED.has(d.code)) continue;
        // JavaScript has no `unknown`: an untyped push's fields are read freely there.
        if (!strict && /type 'unknown'|is of type 'unknown'/.test(ts.flattenDiagnosticMessageText(d.messageText, "\n"))) continue;
        const { line } = file.getLineAndCharacterOfPosition(d.start ?? 0);
        failures.push({ block: w.block, line: w.firstLine + line, message: `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}` });
      }
    }
  }
}

export interface Running {
  pid: number;
  match: RegExpMatchArray;
  output: string[];
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start a written TypeScript file (PORT=0) and wait for a line matching `expect`. */
export function startFile(path: string, expect: RegExp, env: Record<string, string> = {}, timeoutMs = RUN_TIMEOUT_MS, args: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", path, ...args], {
    cwd: dirname(path),
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.once("error", (err) => output.push(`spawn failed: ${err.message}`));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_DEADLINE_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop().then(() => reject(new Error(`no line matching ${expect} within ${timeoutMs} ms:\n${output.join("\n")}`)));
    }, timeoutMs);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        output.push(line);
        const match = line.match(expect);
        if (match) {
          clearTimeout(timer);
          resolve({ pid: child.pid!, match, output, stop });
        }
      });
    }
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before printing a line matching ${expect}:\n${output.join("\n")}`));
    });
  });
}

async function runBlock(w: Written, failures: Failure[]): Promise<void> {
  const expect = new RegExp(w.block.marker.expect ?? ".");
  try {
    const running = await startFile(w.path, expect);
    const { code, signal } = await running.stop();
    if (code !== 0 && signal !== "SIGTERM") {
      failures.push({ block: w.block, line: w.block.line, message: `after SIGTERM it exited with ${code ?? signal}:\n${running.output.join("\n")}` });
    }
  } catch (err) {
    failures.push({ block: w.block, line: w.block.line, message: `run: ${(err as Error).message}` });
  }
}

function checkJson(block: Block, failures: Failure[]): void {
  // One document, or several in a row (protocol.md's exchanges: one message per line, a long one
  // over two lines): lines are gathered until they parse.
  const lines = block.text.split("\n");
  let pending: string[] = [];
  let from = 0;
  let lastError = "";
  lines.forEach((line, i) => {
    if (pending.length === 0 && line.trim() === "") return;
    if (pending.length === 0) from = i;
    pending.push(line);
    let value: unknown;
    try {
      value = JSON.parse(pending.join("\n"));
    } catch (err) {
      lastError = (err as Error).message;
      return;
    }
    // protocol.md's messages must be ones the codec reads (room streams' keys allowed).
    if (block.doc.endsWith("protocol.md")) {
      const message = parse(JSON.stringify(value), true);
      if (message instanceof ProtocolError) failures.push({ block, line: block.line + 1 + from, message: `not a switchboard.v1 message: ${message.message}` });
    }
    pending = [];
  });
  if (pending.length > 0) failures.push({ block, line: block.line + 1 + from, message: `JSON: ${lastError}` });
}

/** Python blocks: their syntax, by python3's own parser (skipped, and said so, without python3). */
function checkPython(block: Block, failures: Failure[]): { verdict: Verdict; note: string } {
  const code = "import ast, sys\ntry:\n    ast.parse(sys.stdin.read())\nexcept SyntaxError as e:\n    print(e.lineno, e.msg)\n    sys.exit(1)\n";
  const result = spawnSync("python3", ["-c", code], { input: block.text, encoding: "utf8", timeout: 30_000 });
  if (result.error !== undefined) return { verdict: "listed", note: `python3 not found: ${result.error.message}` };
  if (result.status !== 0) {
    const [, line, message] = result.stdout.match(/^(\d+) (.*)/) ?? [];
    failures.push({ block, line: block.line + Number(line ?? 0), message: `python: ${message ?? (result.stderr || result.stdout).trim()}` });
  }
  return { verdict: "parsed", note: "python syntax" };
}

function checkShell(block: Block, failures: Failure[]): { verdict: Verdict; note: string } {
  for (const test of block.marker.tests) {
    if (!existsSync(join(REPO, test))) failures.push({ block, line: block.line, message: `the test it names does not exist: ${test}` });
  }
  if (block.marker.tests.length > 0) return { verdict: "tested", note: block.marker.tests.join(" ") };
  const commands = block.text.split("\n").map((l) => l.replace(/\s#.*$|^#.*$/, "").replace(/^\$\s+/, "").trim()).filter((l) => l !== "");
  const starting = commands.flatMap((c) => c.split(/&&|\|\||[;|]/)).map((c) => c.trim()).filter((c) => STARTS_SOMETHING.test(c));
  if (starting.length > 0) {
    failures.push({ block, line: block.line, message: `starts something (${starting[0]}) but names no test: add <!-- check: test test/….test.ts --> before it` });
    return { verdict: "listed", note: "" };
  }
  return { verdict: "listed", note: "starts nothing" };
}

/** Check every block of the given docs (default: README.md and docs/*.md). */
export async function checkDocs(docs: string[] = docFiles(), { run = true }: { run?: boolean } = {}): Promise<Report> {
  const report: Report = { blocks: [], failures: [] };
  const project = makeProject();
  try {
    const written: Written[] = [];
    const runs: Written[] = [];
    const verdicts = new Map<Block, { verdict: Verdict; note: string }>();
    for (const doc of docs) {
      const { blocks, failures } = extractBlocks(doc);
      report.failures.push(...failures);
      for (const block of blocks) {
        const { marker, lang } = block;
        if (marker.skip !== undefined) {
          if (marker.skip === "") report.failures.push({ block, line: block.line - 1, message: "skip needs a reason" });
          verdicts.set(block, { verdict: "skipped", note: marker.skip });
        } else if (TS_LANGS.has(lang)) {
          const w: Written = { block, path: blockPath(project, block, ".ts"), firstLine: block.line, strict: true };
          const code = marker.internal ? internalImports(block.text) : block.text;
          write(w.path, `${marker.fragment ? fragmentPrelude(code) : ""}\n${code}\nexport {};\n`);
          written.push(w);
          if (marker.run) runs.push(w);
          verdicts.set(block, { verdict: marker.run ? "ran" : "typechecked", note: marker.fragment ? "fragment" : "" });
        } else if (JS_LANGS.has(lang)) {
          const w: Written = { block, path: blockPath(project, block, ".js"), firstLine: block.line, strict: false };
          write(w.path, `${marker.fragment ? fragmentPrelude(block.text, true) : ""}\n${block.text}\nexport {};\n`);
          written.push(w);
          verdicts.set(block, { verdict: "typechecked", note: marker.fragment ? "javascript, fragment" : "javascript" });
        } else if (lang === "html") {
          if (marker.file !== undefined) write(blockPath(project, block, ".html"), block.text);
          htmlScripts(block.text).forEach((script, n) => {
            const path = join(project, "blocks", `${slug(block)}_script${n}.js`);
            write(path, `${marker.fragment ? fragmentPrelude(script.code, true) : ""}\n${script.code}\nexport {};\n`);
            written.push({ block, path, firstLine: block.line + script.offset, strict: false });
          });
          verdicts.set(block, { verdict: "typechecked", note: "its scripts, as javascript" });
        } else if (lang === "json") {
          checkJson(block, report.failures);
          verdicts.set(block, { verdict: "parsed", note: "" });
        } else if (lang === "python" || lang === "py") {
          verdicts.set(block, checkPython(block, report.failures));
        } else if (SH_LANGS.has(lang)) {
          verdicts.set(block, checkShell(block, report.failures));
        } else {
          verdicts.set(block, { verdict: "listed", note: lang === "" ? "no language: text" : lang });
        }
        if (marker.run && !TS_LANGS.has(lang)) report.failures.push({ block, line: block.line, message: "only ts blocks can be run" });
        report.blocks.push({ block, ...verdicts.get(block)! });
      }
    }
    typecheck(written, report.failures);
    const broken = new Set(report.failures.map((f) => f.block));
    for (const w of runs) {
      if (!run) continue;
      if (broken.has(w.block)) report.failures.push({ block: w.block, line: w.block.line, message: "not run: it does not type-check" });
      else await runBlock(w, report.failures);
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
  return report;
}

export function formatFailure(f: Failure): string {
  return `${f.block.doc}:${f.line}: ${f.message}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const list = args.includes("--list");
  const docs = args.filter((a) => !a.startsWith("--"));
  const report = await checkDocs(docs.length > 0 ? docs : docFiles(), { run: !args.includes("--no-run") });
  if (list) {
    for (const { block, verdict, note } of report.blocks) {
      console.log(`${block.doc}:${block.line}\t${block.lang || "-"}\t${verdict}${note ? `\t${note}` : ""}`);
    }
  }
  const counts = new Map<Verdict, number>();
  for (const { verdict } of report.blocks) counts.set(verdict, (counts.get(verdict) ?? 0) + 1);
  console.log(`${report.blocks.length} blocks: ${[...counts].map(([v, n]) => `${n} ${v}`).join(", ")}`);
  for (const f of report.failures) console.error(formatFailure(f));
  if (report.failures.length > 0) {
    console.error(`${report.failures.length} failure(s)`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && relative(process.argv[1], fileURLToPath(import.meta.url)) === "") await main();
