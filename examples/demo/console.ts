/**
 * The console page (src/pages/console.html, the one `switchboard serve` serves) on the demo
 * server too, at /console.html: connect to /echo in raw text, or to the chat's app at /chat/ws
 * in switchboard.v1 (call tasks, join a room, watch its pushes and the close codes).
 */
import { readFileSync } from "node:fs";
import type { Server } from "switchboard";

export const CONSOLE_PAGE = "/console.html";

export function mountConsole(server: Server, path: string = CONSOLE_PAGE): void {
  const page = readFileSync(new URL("../../src/pages/console.html", import.meta.url));
  server.get(path, (_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" });
    res.end(page);
  });
}
