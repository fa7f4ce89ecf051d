// smtp, sms, mail_templates: can Plinth reach the users it must send codes and links to? Each check
// appears only when its feature is configured, except smtp in production, where its absence breaks
// confirmations and password recovery.
import { effectiveAutoconfirm, type LoadedConfig } from "../config/index.ts";
import { smtpTransport } from "../delivery/mail.ts";
import { validateSms } from "../delivery/sms.ts";
import { validateTemplates } from "../delivery/templates.ts";
import { fail, messageOf, ok, warn, within, type CheckResult } from "./check.ts";

const SMTP_TIMEOUT_MS = 5_000;

export async function checkSmtp({ config }: LoadedConfig): Promise<CheckResult[]> {
  const { host, port, from } = config.smtp;
  if (host === undefined) {
    if (config.env !== "production") return [];
    const setSmtp = "set smtp.host, smtp.port, smtp.user, smtp.pass and smtp.from (PLINTH_SMTP_*)";
    if (config.auth.enableSignup && !effectiveAutoconfirm(config) && config.sms.provider === "none") {
      return [
        fail(
          "smtp",
          "sign-ups must be confirmed by e-mail or SMS, but neither SMTP nor an SMS provider is configured: no new user can finish signing up",
          setSmtp,
        ),
      ];
    }
    return [warn("smtp", "no SMTP server configured: password recovery, magic links and invitations cannot be sent", setSmtp)];
  }
  const transport = smtpTransport(config, SMTP_TIMEOUT_MS)!;
  try {
    // Connects, upgrades with STARTTLS when offered and logs in; sends no mail.
    await within(SMTP_TIMEOUT_MS + 1_000, "the server", transport.verify());
  } catch (err) {
    return [
      fail(
        "smtp",
        `SMTP ${host}:${port} did not accept a connection and login: ${messageOf(err)}`,
        "check smtp.host, smtp.port, smtp.secure (true for port 465), smtp.user and smtp.pass, and that this machine may reach the server",
      ),
    ];
  } finally {
    transport.close();
  }
  if (!from) {
    return [
      warn(
        "smtp",
        `SMTP ${host}:${port} accepts the connection, but smtp.from is not set: mail goes out from no-reply@localhost, which most providers reject`,
        "set smtp.from (PLINTH_SMTP_FROM) to an address of your domain",
      ),
    ];
  }
  return [ok("smtp", `SMTP ${host}:${port} accepts the connection and login; mail is sent from ${from}`)];
}

export function checkSms({ config }: LoadedConfig): CheckResult[] {
  const { provider } = config.sms;
  if (provider === "none") return [];
  const problems = validateSms(config);
  if (problems.length > 0) {
    return [
      fail(
        "sms",
        `the ${provider} SMS provider is not fully configured; \`plinth serve\` refuses to start:\n${problems.join("\n")}`,
        "set the settings listed above (PLINTH_SMS_*)",
      ),
    ];
  }
  return [ok("sms", `${provider} configured (no test message sent)`)];
}

export function checkMailTemplates({ config }: LoadedConfig): CheckResult[] {
  if (Object.keys(config.auth.templates).length === 0) return [];
  const problems = validateTemplates(config);
  if (problems.length > 0) {
    return [
      fail(
        "mail_templates",
        `mail template overrides are unusable; \`plinth serve\` refuses to start:\n${problems.join("\n")}`,
        "fix or remove the template files and placeholders listed above (auth.templates)",
      ),
    ];
  }
  return [ok("mail_templates", `${Object.keys(config.auth.templates).join(", ")} overridden; files readable and placeholders known`)];
}
