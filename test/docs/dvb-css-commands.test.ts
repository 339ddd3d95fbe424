/**
 * The shell block of docs/dvb-css.md, run as written (read from the doc): the server on ports 0
 * instead of 7681 / 6677, then each client against the URLs the server printed. The CII and TS
 * clients run until stopped, so they get `--count 1`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { extractBlocks, startFile, REPO } from "../../scripts/check-docs.ts";

const run = promisify(execFile);

function commands(): string[][] {
  const block = extractBlocks("docs/dvb-css.md").blocks.find((b) => b.lang === "sh" && b.text.includes("examples/dvb-css/server.ts"));
  assert.ok(block, "docs/dvb-css.md has its shell block");
  return block.text.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const words = line.replace(/\[[^\]]*\]/g, "").trim().split(/\s+/); // [--optional] flags left out
    assert.deepEqual(words.slice(0, 3), ["npx", "tsx", "--conditions=source"], line);
    return words.slice(3);
  });
}

test("docs/dvb-css.md: the server and the three clients of its shell block work as written", async (t) => {
  const [server, ...clients] = commands();
  assert.equal(server![0], "examples/dvb-css/server.ts");
  assert.equal(clients.length, 3);
  const args = server!.slice(1).map((word, i, all) => (all[i - 1] === "--port" || all[i - 1] === "--wc-port" ? "0" : word));
  const started = await startFile(`${REPO}/${server![0]}`, /^CSS-WC\s+(udp:\/\/\S+)/, {}, 60_000, args);
  t.after(async () => {
    await started.stop();
  });
  const printed = (label: string) => started.output.map((l) => l.match(new RegExp(`^${label}\\s+(\\S+)`))?.[1]).find((u) => u !== undefined)!;
  const urls = { cii: printed("CSS-CII"), ts: printed("CSS-TS"), wc: started.match[1]! };
  for (const [script, url, ...rest] of clients) {
    const kind = script!.match(/examples\/dvb-css\/(wc|cii|ts)-client\.ts$/)?.[1] as "wc" | "cii" | "ts" | undefined;
    assert.ok(kind, `a client of the doc: ${script}`);
    // The doc's URLs, with the bound ports: same scheme and path.
    assert.equal(new URL(url!).pathname, new URL(urls[kind]).pathname, `${kind}: the doc's URL has the server's path`);
    const argv = [script!, urls[kind], ...rest, ...(kind === "wc" ? [] : ["--count", "1"])];
    const { stdout } = await run(process.execPath, ["--conditions=source", "--import", "tsx", ...argv], { cwd: REPO, timeout: 60_000 });
    if (kind === "wc") assert.ok(JSON.parse(stdout).responses >= 1, stdout);
    if (kind === "cii") assert.match(stdout, /"received"/);
    if (kind === "ts") assert.match(stdout, /^contentTime \d+ at wallClockTime \d+, speed 1$/m);
  }
});
