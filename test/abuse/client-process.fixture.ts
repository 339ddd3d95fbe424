/**
 * A program that uses the client the way an app would, against the hostile servers whose URLs
 * it gets in CLIENT_CASES (JSON: [[name, url], …]). It installs no process error handlers and
 * never calls process.exit: the test asserts that it exits by itself with code 0 (nothing
 * crashed it, and closed clients left nothing keeping it alive).
 */
import { Client } from "../../client/index.ts";

const cases = JSON.parse(process.env.CLIENT_CASES ?? "[]") as Array<[string, string]>;

for (const bad of ["localhost:8080/app", "example.com:80"]) {
  try {
    new Client(bad, { room: null });
    console.log(`bad url ${bad}: accepted`);
  } catch (err) {
    console.log(`bad url ${bad}: ${(err as Error).name}`);
  }
}

for (const [name, url] of cases) {
  const client = new Client(url, { room: null, reconnect: { initialDelayMs: 5, maxDelayMs: 20, jitter: 0, maxAttempts: 2 } });
  const call = client.call("x", null, { timeoutMs: 0 }).then(
    () => "replied",
    (err: { code?: string }) => err.code ?? "?",
  );
  // Done at the final close, or after two closes for a server that makes it retry for ever.
  const codes: number[] = [];
  await new Promise<void>((resolve) => {
    client.on("close", (code, _reason, again) => {
      codes.push(code);
      if (!again || codes.length === 2) resolve();
    });
  });
  await client.close();
  console.log(`case ${name}: closes ${codes.join(",")}; call ${await call}`);
}

const throwing = new Client(cases[0]![1], {
  room: null,
  reconnect: false,
  session: () => {
    throw new Error("session bug");
  },
});
await new Promise<void>((resolve) => throwing.on("close", () => resolve()));
await throwing.close();
console.log("case throwing session: closed");
console.log("done");
