/**
 * A loopback SMTP server for tests, run in its own process by smtp.ts: it
 * accepts every message (no TLS, no auth), parses it, and writes it as JSON
 * into the directory given as the first argument, one file per message.
 * Prints `listening <port>` once it accepts connections.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

const dir = process.argv[2]!;
let count = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  onData(stream, session, callback) {
    simpleParser(stream)
      .then((mail) => {
        const file = join(dir, `${String(++count).padStart(6, "0")}.json`);
        const to = session.envelope.rcptTo.map((r) => r.address);
        writeFileSync(file, JSON.stringify({ from: session.envelope.mailFrom && session.envelope.mailFrom.address, to, subject: mail.subject, text: mail.text, html: mail.html || "" }));
        callback();
      })
      .catch((err) => callback(err));
  },
});

server.listen(0, "127.0.0.1", () => {
  const address = server.server.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : 0}`);
});
