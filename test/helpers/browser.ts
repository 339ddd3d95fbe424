/**
 * Headless Chromium for page tests, through playwright-core and Debian's /usr/bin/chromium.
 * Usage:
 *   const chromium = chromiumPath();
 *   test("page", { skip: chromium ? false : missing("chromium", "chromium") }, async () => {
 *     const browser = await launchBrowser(chromium!); try { … } finally { await browser.close(); }
 *   });
 */
import { chromium, type Browser } from "playwright-core";
import { findBinary } from "./binaries.ts";

export { missing } from "./binaries.ts";

export function chromiumPath(): string | undefined {
  return findBinary("chromium", ["/usr/bin/chromium"]);
}

export async function launchBrowser(executablePath: string): Promise<Browser> {
  // playwright gives every launch a new, empty user data dir of its own.
  return await chromium.launch({
    executablePath,
    headless: true,
    // Flags that keep Chromium off the (closed) network and quiet on a root CI machine.
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
