// /echo: sends every message back as it came (text stays text, binary stays binary).
import { defineEndpoint } from "switchboard";

export default defineEndpoint({
  message(conn, data, isBinary) {
    conn.send(data, isBinary);
  },
});
