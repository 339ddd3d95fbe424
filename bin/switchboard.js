#!/usr/bin/env node
// The `switchboard` command. tsx is registered first, so handler files and config files written
// in TypeScript load with no build step. The CLI itself runs from dist/ in an installed package
// (which ships dist/ and bin/ only) and from its TypeScript source in a checkout of the
// repository, where src/ is next to bin/: a change there needs no rebuild.
import { existsSync } from "node:fs";
import { register } from "node:module";
import { register as registerTsxEsm } from "tsx/esm/api";
import { register as registerTsxCjs } from "tsx/cjs/api";

// Both halves: a handler folder without a `"type": "module"` package.json is CommonJS to Node.
registerTsxCjs();
registerTsxEsm();

const source = new URL("../src/cli/main.ts", import.meta.url);
let main;
if (existsSync(source)) {
  // Handler files outside this package import "switchboard"; resolve that to the source (the
  // package's "source" export condition) so it is the same copy the CLI runs, built or not.
  register(new URL("./source-condition.js", import.meta.url));
  ({ main } = await import(source.href));
} else {
  ({ main } = await import("../dist/src/cli/main.js"));
}
process.exitCode = await main(process.argv);
