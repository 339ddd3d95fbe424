// The package's own client from Node (Node 20 has no global WebSocket: it loads `ws`).
import { Client } from "switchboard/client";

const client = new Client(process.argv[2], { room: null, reconnect: false });
const reply = await client.call("greet", { name: "node" }, { timeoutMs: 10000 });
console.log(JSON.stringify(reply));
client.close();
