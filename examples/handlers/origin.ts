// /origin: accepts only pages from allowed origins; anything else gets 403 before any
// WebSocket exists. Set ALLOWED_ORIGINS (comma-separated) to change the list; by default,
// pages served by this machine (http://localhost:*, http://127.0.0.1:*) are allowed.
import { defineEndpoint, reject } from "switchboard";

const allowed = (process.env.ALLOWED_ORIGINS ?? "").split(",").map((o) => o.trim()).filter((o) => o !== "");
const LOCAL = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

export default defineEndpoint({
  handshake(req) {
    const origin = req.origin;
    const ok = origin !== undefined && (allowed.length > 0 ? allowed.includes(origin) : LOCAL.test(origin));
    if (!ok) return reject(403, origin === undefined ? "an Origin header is required" : `origin ${origin} is not allowed`);
    return { data: { origin } };
  },
  open(conn) {
    conn.send(`welcome, page from ${String(conn.data.origin)}`);
  },
  message(conn, data, isBinary) {
    conn.send(data, isBinary);
  },
});
