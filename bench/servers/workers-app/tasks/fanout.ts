// Bench handler folder of `switchboard serve` (contenders switchboard-app-w*): task "fanout"
// pushes {"task":"fanout","data"} to room "all" (members join it at connect, /app?room=all),
// as bench/servers/switchboard-app.ts's /fanout. With --workers the members are spread over
// the workers and the push reaches the others through the primary (IPC) or Redis.
import { defineTask } from "../../../../src/index.ts";

export default defineTask({
  name: "fanout",
  handler: ({ data, rooms }) => {
    rooms.push("all", "fanout", data);
    return null;
  },
});
