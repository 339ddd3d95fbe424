// Bench handler folder of `switchboard serve` (contenders switchboard-app-w*): task "echo" on
// the folder's app at /app replies with its data, as bench/servers/switchboard-app.ts's /echo.
import { defineTask } from "../../../../src/index.ts";

export default defineTask({ name: "echo", handler: ({ data }) => data });
