// /subprotocol: negotiates a subprotocol. The endpoint speaks chat.v2 (preferred) and
// chat.v1; the first of those the client offers is chosen. A client offering only other
// protocols is refused (400); one offering none connects without a protocol.
// Each message is answered in the chosen protocol's format.
import { defineEndpoint } from "switchboard";

export default defineEndpoint({
  protocols: ["chat.v2", "chat.v1"],
  handshake(req) {
    // The hook sees what the client asked for and what was chosen, and may change the choice:
    // here, clients that send ?legacy=1 are held to chat.v1 if they offered it.
    if (req.query.get("legacy") === "1" && req.protocols.includes("chat.v1")) return { protocol: "chat.v1" };
    return undefined;
  },
  open(conn) {
    conn.send(conn.protocol === "" ? "hello (no subprotocol)" : `hello, speaking ${conn.protocol}`);
  },
  message(conn, data) {
    const text = data.toString("utf8");
    if (conn.protocol === "chat.v2") conn.send(JSON.stringify({ v: 2, echo: text }));
    else conn.send(`v1 ${text}`);
  },
});
