/**
 * The CLI side of the control socket: connect, send one request, print progress lines as they
 * come, resolve with the reply's result. Connection errors become messages that say what to do.
 */
import { createConnection } from "node:net";
import { resolve } from "node:path";
import { SwitchboardError } from "../errors.ts";
import { encodeLine, type ControlReply, type ControlProgress } from "../control/protocol.ts";

export class ControlClientError extends SwitchboardError {}

/** No server listens at the socket (ENOENT / ECONNREFUSED). */
export class NoServerError extends ControlClientError {
  constructor(path: string, cause: Error) {
    super("no_server", `no Switchboard server is listening on ${path}; start one with \`switchboard serve\``, { cause });
  }
}

export interface SendOptions {
  onProgress?: (progress: unknown) => void;
  /** Give up waiting for the reply after this long (default: no limit; the CLI passes one). */
  timeoutMs?: number;
  /**
   * After an ok reply, wait (up to `closeWaitMs`, default 5 s) for the server to close the
   * connection too: for `stop`, whose reply comes just before the control socket closes.
   */
  waitForClose?: boolean;
  closeWaitMs?: number;
}

export function sendCommand(socketPath: string, command: string, args: readonly unknown[] = [], options: SendOptions = {}): Promise<unknown> {
  const path = resolve(socketPath);
  const id = 1;
  return new Promise<unknown>((resolvePromise, rejectPromise) => {
    const socket = createConnection(path);
    let buffer = "";
    let reply: ControlReply | undefined;
    let settled = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      finish(new ControlClientError("timeout", `no reply from the server on ${path} after ${options.timeoutMs} ms`));
    }, options.timeoutMs);

    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      socket.destroy();
      if (err) rejectPromise(err);
      else if (reply?.ok) resolvePromise(reply.result);
      else if (reply) rejectPromise(new ControlClientError(reply.error.code, reply.error.message));
    };

    socket.setEncoding("utf8");
    socket.once("connect", () => socket.write(encodeLine({ id, command, args })));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let msg: ControlReply | ControlProgress;
        try {
          msg = JSON.parse(line) as ControlReply | ControlProgress;
        } catch (err) {
          finish(new ControlClientError("bad_reply", `the server sent a line that is not JSON: ${(err as Error).message}`));
          return;
        }
        if ("progress" in msg) {
          options.onProgress?.(msg.progress);
        } else if ("ok" in msg) {
          reply = msg;
          if (!options.waitForClose || !msg.ok) finish();
          else setTimeout(() => finish(), options.closeWaitMs ?? 5_000).unref();
        }
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ECONNREFUSED") finish(new NoServerError(path, err));
      else if (err.code === "EACCES") {
        finish(new ControlClientError("permission_denied", `permission denied on ${path}: the control socket is mode 0600, so run this as the user that runs the server`, { cause: err }));
      } else finish(new ControlClientError("socket_error", `control socket ${path}: ${err.message}`, { cause: err }));
    });
    socket.on("close", () => {
      if (reply !== undefined) finish();
      else finish(new ControlClientError("no_reply", `the server on ${path} closed the connection without replying`));
    });
  });
}
