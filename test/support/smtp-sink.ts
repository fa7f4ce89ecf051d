// A real SMTP server on 127.0.0.1 for tests: Plinth's mailer talks to it over the wire exactly
// as it would to a relay, and tests read what arrived. No TLS, any (or no) login accepted.
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { parseMail } from "./mime.ts";
import { waitForMatch } from "./sink-wait.ts";

export interface SinkMail {
  /** Envelope sender (MAIL FROM). The From header is in `headers.from`. */
  from: string;
  /** Envelope recipients (RCPT TO). */
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** Decoded headers, lower-cased names. */
  headers: Record<string, string>;
  /** The message as received (UTF-8 view of the bytes). */
  raw: string;
  /** The user the client logged in as, or null without AUTH. */
  user: string | null;
}

export interface SmtpSink {
  port: number;
  messages: SinkMail[];
  /** The first message (already received or arriving later) that matches; rejects on timeout. */
  waitFor(pred: (m: SinkMail) => boolean, timeoutMs?: number): Promise<SinkMail>;
  clear(): void;
  stop(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: SinkMail[] = [];
  const waiters = new Set<(m: SinkMail) => void>();

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ["STARTTLS"],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    // Tests stop the sink while a client may still hold a connection; don't wait 30 s for it.
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? "" });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", (e) => callback(e));
      stream.on("end", () => {
        const bytes = Buffer.concat(chunks);
        const parsed = parseMail(bytes);
        const mailFrom = session.envelope.mailFrom;
        const mail: SinkMail = {
          from: mailFrom === false ? "" : mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: parsed.subject,
          text: parsed.text,
          html: parsed.html,
          headers: parsed.headers,
          raw: bytes.toString("utf8"),
          user: typeof session.user === "string" ? session.user : null,
        };
        messages.push(mail);
        for (const notify of [...waiters]) notify(mail);
        callback();
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    messages,
    waitFor(pred, timeoutMs = 5000) {
      return waitForMatch(messages, waiters, pred, timeoutMs, "mail");
    },
    clear() {
      messages.length = 0;
    },
    stop() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
