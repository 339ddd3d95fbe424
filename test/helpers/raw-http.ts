/** One HTTP/1.1 request written exactly as given (no client normalises the target), over `net`. */
import { connect as netConnect } from "node:net";
import { within } from "./until.ts";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function rawRequest(port: number, target: string, method = "GET", ms = 5_000): Promise<RawResponse> {
  const socket = netConnect(port, "127.0.0.1");
  let text = "";
  const done = new Promise<RawResponse>((resolve, reject) => {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
  });
  socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  return within(done, ms, `an answer to ${target}`);
}
