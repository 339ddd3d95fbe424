/**
 * Raw HTTP for the server API tests: one request written byte for byte over `net` (as curl
 * would send it, no client library in between), the whole answer read until the server
 * closes. Every wait is bounded.
 */
import { connect } from "node:net";
import { within } from "../helpers/until.ts";

export const KEY = "test-api-key-0123456789abcdef";
export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A value → JSON with Content-Type application/json; a string or Buffer → sent as is. */
  body?: unknown;
  /** Bearer key; null → no Authorization header. Default KEY. */
  key?: string | null;
  ms?: number;
}

export function apiRequest(port: number, target: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const method = options.method ?? (options.body === undefined ? "GET" : "POST");
  const raw = options.body === undefined ? undefined : typeof options.body === "string" || Buffer.isBuffer(options.body) ? Buffer.from(options.body as string) : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = { Host: "127.0.0.1", Connection: "close" };
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  if (raw !== undefined) {
    headers["Content-Length"] = String(raw.length);
    if (typeof options.body !== "string" && !Buffer.isBuffer(options.body)) headers["Content-Type"] = "application/json";
  }
  Object.assign(headers, options.headers);
  // An empty value in `options.headers` removes a header (e.g. Content-Length for a chunked body).
  for (const [name, value] of Object.entries(headers)) if (value === "") delete headers[name];
  const socket = connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  const done = new Promise<ApiResponse>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A server that answers early (413) and closes may reset our unsent rest: keep what came.
    socket.on("error", (err) => (chunks.length > 0 ? undefined : reject(err)));
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const at = text.indexOf("\r\n\r\n");
      const head = at === -1 ? text : text.slice(0, at);
      const body = at === -1 ? "" : text.slice(at + 4);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const parsed = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined; // not JSON: the test looks at `body`
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers: parsed, body, json });
    });
  });
  const headText = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  socket.write(`${method} ${target} HTTP/1.1\r\n${headText}\r\n`);
  if (raw !== undefined) socket.write(raw);
  return within(done, options.ms ?? 5_000, `an answer to ${method} ${target}`);
}
