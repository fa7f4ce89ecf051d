// Outgoing mail over SMTP (nodemailer). One transport per mailer, built from `smtp.*`.
import { createTransport, type Transporter } from "nodemailer";
import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { PlinthError } from "../errors.ts";
import { DeliveryError } from "./errors.ts";
import { validateTemplates } from "./templates.ts";

export interface Mail {
  to: string;
  subject: string;
  html: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
}

export interface MailerOptions {
  /** Connect, greeting and idle-socket timeout in ms (default 10 s). Tests shorten it. */
  timeoutMs?: number;
}

export const DEFAULT_FROM = "Plinth <no-reply@localhost>";
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * One bare address. Anything that could make nodemailer read a list ("a@x, b@y"), a display name
 * or a group is refused: an auth mail goes to exactly the account's address, whatever the caller
 * let through.
 */
const SINGLE_ADDRESS = /^[^\s@,;:<>"()[\]\\]+@[^\s@,;:<>"()[\]\\]+$/;

/**
 * The mailer for `smtp.*`, or null when no SMTP host is configured (the auth service then refuses
 * flows that need mail unless autoconfirm is on). Throws ConfigError when a template override in
 * `auth.templates` is unusable, so a broken file is found at startup rather than by the first user.
 */
export function createMailer(config: Config, options: MailerOptions = {}): Mailer | null {
  const problems = validateTemplates(config);
  if (problems.length > 0) throw new ConfigError(problems);
  const transport = smtpTransport(config, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  if (transport === null) return null;

  return {
    async send(mail) {
      if (!SINGLE_ADDRESS.test(mail.to)) {
        // GoTrue's wording for a malformed address; a caller bug rather than a provider failure.
        throw new PlinthError(400, "validation_failed", "Unable to validate email address: invalid format");
      }
      try {
        await transport.sendMail({
          to: mail.to,
          subject: mail.subject.replace(/[\r\n]+/g, " "),
          html: mail.html,
          text: mail.text,
        });
      } catch (e) {
        throw new DeliveryError("email", e);
      }
    },
  };
}

/**
 * The nodemailer transport for `smtp.*`, or null when no host is configured. Shared by the mailer
 * and `plinth doctor` (which calls verify(): connect, STARTTLS, login, no mail sent), so the check
 * exercises exactly the settings real mail goes out with.
 */
export function smtpTransport(config: Config, timeoutMs: number): Transporter | null {
  const { host, port, secure, user, pass, from } = config.smtp;
  if (host === undefined) return null;
  // Not pooled: auth mail is a trickle, and a fresh connection per message cannot go stale behind
  // a NAT or a server restart. With `secure` false nodemailer upgrades with STARTTLS whenever the
  // server offers it; we deliberately do not set `opportunisticTLS`, which would fall back to
  // plaintext (credentials included) when the upgrade fails.
  return createTransport(
    {
      host,
      port,
      secure,
      auth: user ? { user, pass: pass ?? "" } : undefined,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      dnsTimeout: timeoutMs,
    },
    { from: from ?? DEFAULT_FROM },
  );
}
