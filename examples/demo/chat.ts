/**
 * The chat of the demo: a page at /chat (room from `?room=`, name from `?name=` or the page's
 * form) and an app at /chat/ws. Messages are room pushes, so they have an offset and are kept
 * in the room's history: the page joins with `history` (a late joiner sees the conversation)
 * and recovers what it missed after a reconnect. Presence shows who is there; a name is unique
 * in its room (a second "ada" is refused). Mounted by examples/demo/server.ts; tests mount it
 * on their own server.
 */
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { App, RoomPolicy, Server, Session, User } from "switchboard";

export const CHAT_PAGE = "/chat";
export const CHAT_APP = "/chat/ws";
/** A name: 1–32 characters once trimmed, no control characters. */
export const MAX_NAME_LENGTH = 32;

/** The name as the session keeps it: trimmed, inner runs of space made one, at most 32 characters. */
export function cleanName(raw: string): string {
  return raw.replace(/[\u0000-\u001f\u007f]/g, "").replace(/\s+/g, " ").trim().slice(0, MAX_NAME_LENGTH);
}

/**
 * Names are chosen by the user (this demo has no accounts). The page sends a random per-tab
 * `key` (kept in sessionStorage): the user id is derived from it and the name, so a reconnect of
 * the same tab is the same user, and it may take its name back while the server still holds its
 * dropped connection. Only the hash goes on the wire: the key itself is never shown to others.
 */
function nameSession(): Session {
  let n = 0;
  return (req) => {
    n += 1;
    const name = cleanName(req.query.get("name") ?? "") || `guest-${n}`;
    const key = req.query.get("key") ?? "";
    // Key and name: a tab that changes its name is someone new to the others (joined / left).
    const id = key.length >= 16 && key.length <= 128 ? `u-${createHash("sha256").update(key).update("\0").update(name).digest("hex").slice(0, 16)}` : `u-anon-${n}`;
    return { id, name };
  };
}

/** Names compare without case: "Ada" and "ada" are one name. */
function sameName(a: string, b: string): boolean {
  return a.localeCompare(b, undefined, { sensitivity: "accent" }) === 0;
}

/**
 * A room refuses a name that another user holds in it (`forbidden`, which the page turns into
 * "that name is taken"). The check is synchronous and the join adds the member in the same turn,
 * so two joins with one name cannot both pass on this node. It sees this node's members: the
 * demo is one process (over a cluster, two nodes could each admit one "ada").
 */
function uniqueNames(app: () => App): RoomPolicy {
  return (user: User, room: string, action) => {
    if (action === "leave") return true;
    return !app().rooms.members(room).some((m) => m.user.id !== user.id && sameName(m.user.name, user.name));
  };
}

export function mountChat(server: Server, pagePath: string = CHAT_PAGE): App {
  const page = readFileSync(new URL("./chat.html", import.meta.url));
  server.get(pagePath, (_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" });
    res.end(page);
  });
  // The policy reads the app's members: called on joins only, once `app` exists.
  const app: App = server.app(CHAT_APP, {
    presence: true,
    session: nameSession(),
    rooms: uniqueNames(() => app),
    endpoint: { idPrefix: "chat" },
  });
  app.task("chat.say", {
    schema: z.object({ text: z.string().trim().min(1).max(500) }),
    handler: ({ data, user, conn, room, rooms }) => {
      if (room === undefined) return { ok: false };
      // The id lets the page show a message once when a refetch of the history brings it again.
      rooms.push(room, "chat.message", { id: randomUUID(), from: user.name, user: user.id, connection: conn.id, text: data.text, at: Date.now() });
      return { ok: true };
    },
  });
  return app;
}
