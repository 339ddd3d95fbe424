// /room: a broadcast room. Every message a member sends goes to every member (the sender
// too), prefixed with the sender's id; joins and leaves are announced. The endpoint itself is
// the room: conn.endpoint.broadcast() frames each message once for all of its connections.
import { defineEndpoint } from "switchboard";

export default defineEndpoint({
  maxConnections: 1000,
  open(conn) {
    conn.endpoint.broadcast(`* ${conn.id} joined (${conn.endpoint.connections.size} here)`);
  },
  message(conn, data, isBinary) {
    if (isBinary) {
      conn.close(1003, "text only");
      return;
    }
    conn.endpoint.broadcast(`${conn.id}: ${data.toString("utf8")}`);
  },
  close(conn) {
    // The connection has already left the registry: the count is of those still here.
    conn.endpoint.broadcast(`* ${conn.id} left (${conn.endpoint.connections.size} here)`);
  },
});
