import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./eventually";
import { BUN } from "./process";

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`, for `email.smtpUrl`. */
  readonly url: string;
  /** Every message received so far, oldest first. */
  messages(): ReceivedMail[];
  /** The first message to `to` received after the `seen`-th message to that address (waits for it). */
  next(to: string, seen?: number): Promise<ReceivedMail>;
  /** Stop the server process: later sends get a refused connection (an SMTP outage). */
  stop(): Promise<void>;
}

/** A real SMTP server (smtp-server) in a child process on a free loopback port, storing what it receives. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const dir = mkdtempSync(join(tmpdir(), "aurora-smtp-"));
  const child = Bun.spawn([BUN, join(import.meta.dir, "smtp-sink.ts"), dir], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let out = "";
  while (!/listening (\d+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`smtp sink exited before listening: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(/listening (\d+)/.exec(out)![1]);
  let stopped = false;
  const messages = () =>
    readdirSync(dir)
      .sort()
      .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as ReceivedMail);
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    next: (to, seen = 0) =>
      eventually(() => {
        const mine = messages().filter((m) => m.to.includes(to));
        if (mine.length <= seen) throw new Error(`no new mail to ${to} (${mine.length} so far)`);
        return mine[seen]!;
      }),
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill();
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The `XXXXX-XXXXX` code in a mail's text. */
export function tokenIn(mail: ReceivedMail): string {
  const match = /\b([A-Z2-7]{5}-[A-Z2-7]{5})\b/.exec(mail.text);
  if (!match) throw new Error(`no token in mail: ${mail.text}`);
  return match[1]!;
}
