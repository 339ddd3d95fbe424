// /room: a broadcast room. Every message a member sends goes to every member (the sender
// too), prefixed with the sender's id; joins and leaves are announced.
import { defineEndpoint, type Connection } from "../../src/index.ts";

const members = new Set<Connection>();

function say(text: string): void {
  for (const member of members) member.send(text);
}

export default defineEndpoint({
  maxConnections: 1000,
  open(conn) {
    members.add(conn);
    say(`* ${conn.id} joined (${members.size} here)`);
  },
  message(conn, data, isBinary) {
    if (isBinary) {
      conn.close(1003, "text only");
      return;
    }
    say(`${conn.id}: ${data.toString("utf8")}`);
  },
  close(conn) {
    if (members.delete(conn)) say(`* ${conn.id} left (${members.size} here)`);
  },
});
