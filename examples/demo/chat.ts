/**
 * The chat of the demo: a page at /chat (room from `?room=`, name from `?name=` or the page's
 * form) and an app at /chat/ws. Messages are room pushes, so they have an offset and are kept
 * in the room's history: the page joins with `history` (a late joiner sees the conversation)
 * and recovers what it missed after a reconnect. Presence shows who is there. Mounted by
 * examples/demo/server.ts; tests mount it on their own server.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { App, Server, Session } from "switchboard";

export const CHAT_PAGE = "/chat";
export const CHAT_APP = "/chat/ws";

/** Names are chosen by the user (this demo has no accounts): 1–32 visible characters. */
function nameSession(): Session {
  let n = 0;
  return (req) => {
    n += 1;
    const wanted = (req.query.get("name") ?? "").trim().slice(0, 32);
    const name = wanted.length > 0 ? wanted : `guest-${n}`;
    return { id: `u${n}`, name };
  };
}

export function mountChat(server: Server, pagePath: string = CHAT_PAGE): App {
  const page = readFileSync(new URL("./chat.html", import.meta.url));
  server.get(pagePath, (_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page);
  });
  const app = server.app(CHAT_APP, { presence: true, session: nameSession(), endpoint: { idPrefix: "chat" } });
  app.task("chat.say", {
    schema: z.object({ text: z.string().trim().min(1).max(500) }),
    handler: ({ data, user, conn, room, rooms }) => {
      if (room === undefined) return { ok: false };
      // The id lets the page show a message once when a refetch of the history brings it again.
      rooms.push(room, "chat.message", { id: randomUUID(), from: user.name, connection: conn.id, text: data.text, at: Date.now() });
      return { ok: true };
    },
  });
  return app;
}
