// The send_email and send_sms hooks: when enabled they replace mail and SMS delivery (a Mailer and
// an SmsSender backed by the hook), so a project can deliver through its own service without SMTP or
// an SMS provider. The payloads carry what Plinth's flows hand to a mailer — the rendered message —
// in Supabase's outer shape ({user, email_data} / {user, sms}); Supabase's token fields
// (token, token_hash, email_action_type) are not separated out: the link and code are in the text.
import type { Mailer, SmsSender } from "../../delivery/index.ts";
import type { HookRunner } from "./runner.ts";

export function hookMailer(runner: HookRunner): Mailer | null {
  if (!runner.enabled("send_email")) return null;
  return {
    async send(mail) {
      await runner.run("send_email", { user: { email: mail.to }, email_data: { to: mail.to, subject: mail.subject, html: mail.html, text: mail.text } });
    },
  };
}

export function hookSmsSender(runner: HookRunner): SmsSender | null {
  if (!runner.enabled("send_sms")) return null;
  return {
    name: "hook",
    async send(msg) {
      await runner.run("send_sms", { user: { phone: msg.to }, sms: { message: msg.body } });
      return {};
    },
  };
}
