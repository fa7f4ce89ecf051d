// The send_email and send_sms hooks: when enabled they replace mail and SMS delivery, so a project can
// deliver through its own service without SMTP or an SMS provider. The payloads are Supabase's
// (supabase/auth internal/hooks/v0hooks: SendEmailInput / SendSMSInput), so a hook written for
// Supabase works unchanged:
//   send_email: { user, email_data: { token, token_hash, redirect_to, email_action_type, site_url,
//                                     token_new, token_hash_new } }
//   send_sms:   { user, sms: { otp, phone } }
// `user` is the account in GoTrue's JSON (userJson), read after the flow committed. The hook renders
// the message itself, so Plinth's templates are not rendered for it; `token_hash` is what goes in
// `/auth/v1/verify?token=…&type=<email_action_type>`, and `site_url` is the public API base that link
// starts with (GoTrue's external URL).
//
// Traps:
// - Email change is ONE call, as in GoTrue, with GoTrue's pairing (kept for compatibility although it
//   reads crossed): `token` / `token_hash_new` belong to the current address, `token_new` /
//   `token_hash` to the new one. Without secure email change only `token` / `token_hash` are set, and
//   they are the new address's. Hook code written for Supabase relies on exactly this.
// - The hook mailer only carries auth messages (sendHookEmail); its plain `send` refuses, so no
//   caller can silently hand a hook a message without the fields it needs.
import type { Mail, Mailer, SmsSender } from "../../delivery/index.ts";
import type { Sql } from "../../db/pool.ts";
import { findUser, userJson, type UserRow } from "../users.ts";
import { HookErrors, type HookRunner } from "./runner.ts";

/** What a flow knows about an auth mail, in GoTrue's terms. */
export interface EmailHookMessage {
  /** GoTrue's email_action_type: signup, invite, magiclink, recovery, email_change, reauthentication. */
  actionType: string;
  /** The account's (current) address: whose user the hook receives. */
  accountEmail: string;
  token: string;
  tokenHash: string;
  tokenNew?: string;
  tokenHashNew?: string;
  redirectTo: string;
  siteUrl: string;
}

export interface HookMailer extends Mailer {
  readonly viaHook: true;
  sendHookEmail(message: EmailHookMessage): Promise<void>;
}

export interface HookSmsSender extends SmsSender {
  readonly viaHook: true;
  sendHookSms(phone: string, otp: string): Promise<void>;
}

export const isHookMailer = (m: Mailer | null | undefined): m is HookMailer => !!m && (m as Partial<HookMailer>).viaHook === true;
export const isHookSmsSender = (s: SmsSender | null | undefined): s is HookSmsSender => !!s && (s as Partial<HookSmsSender>).viaHook === true;

async function userFor(sql: Sql, lookup: { email: string } | { phone: string }): Promise<Record<string, unknown>> {
  let row: UserRow | null = await findUser(sql, lookup);
  if (!row && "phone" in lookup) {
    // A phone change's code goes to the new number, which is still in phone_change.
    const [r] = await sql<{ id: string }[]>`select id from auth.users where phone_change = ${lookup.phone} limit 1`;
    if (r) row = await findUser(sql, { id: r.id });
  }
  return row ? (userJson(row) as unknown as Record<string, unknown>) : { ...lookup };
}

export function hookMailer(runner: HookRunner, sql: Sql): HookMailer | null {
  if (!runner.enabled("send_email")) return null;
  return {
    viaHook: true,
    async send(_mail: Mail) {
      throw HookErrors.failed("send_email", "only auth messages can be sent through the hook");
    },
    async sendHookEmail(m) {
      const user = await userFor(sql, { email: m.accountEmail });
      await runner.run("send_email", {
        user,
        email_data: {
          token: m.token,
          token_hash: m.tokenHash,
          redirect_to: m.redirectTo,
          email_action_type: m.actionType,
          site_url: m.siteUrl,
          token_new: m.tokenNew ?? "",
          token_hash_new: m.tokenHashNew ?? "",
        },
      });
    },
  };
}

export function hookSmsSender(runner: HookRunner, sql: Sql): HookSmsSender | null {
  if (!runner.enabled("send_sms")) return null;
  return {
    name: "hook",
    viaHook: true,
    async send() {
      throw HookErrors.failed("send_sms", "only auth codes can be sent through the hook");
    },
    async sendHookSms(phone, otp) {
      // auth.users keeps phones without the "+"; the hook gets the E.164 form, as GoTrue sends it.
      const user = await userFor(sql, { phone: phone.replace(/^\+/, "") });
      await runner.run("send_sms", { user, sms: { otp, phone } });
    },
  };
}
