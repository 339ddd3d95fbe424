#!/usr/bin/env node
// The `switchboard` command. It runs the CLI from its TypeScript source: tsx is registered
// first, so handler files and config files written in TypeScript load with no build step.
import { register } from "node:module";
import { register as registerTsxEsm } from "tsx/esm/api";
import { register as registerTsxCjs } from "tsx/cjs/api";

// Both halves: a handler folder without a `"type": "module"` package.json is CommonJS to Node.
registerTsxCjs();
registerTsxEsm();
// Handler files outside this package import "switchboard"; resolve that to the source (the
// package's "source" export condition) so it is the same copy the CLI runs, built or not.
register(new URL("./source-condition.js", import.meta.url));

const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
