/** Start a Node server listening; a bind error (port in use) rejects instead of being an 'error' event. */
import type { Server } from "node:net";

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
