// /echo for `npx switchboard serve handlers`: a plain JavaScript handler file.
import { defineEndpoint } from "switchboard";

export default defineEndpoint({
  message(conn, data, isBinary) {
    conn.send(data, isBinary);
  },
});
