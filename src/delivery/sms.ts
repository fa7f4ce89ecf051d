// SMS behind one small interface; the provider is chosen by `sms.provider`.
import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { isSupportedPhoneCountry } from "./phone.ts";
import { arkeselSender } from "./sms-arkesel.ts";
import type { Fetch } from "./sms-http.ts";
import { twilioSender } from "./sms-twilio.ts";
import { webhookSender } from "./sms-webhook.ts";
import { smsTemplateHasCode } from "./templates.ts";

export interface SmsMessage {
  /** E.164, e.g. "+233241234567" (see normalisePhone). */
  to: string;
  body: string;
}

export interface SmsSender {
  readonly name: string;
  /** Resolves once the provider accepted the message; throws DeliveryError (502 sms_send_failed). */
  send(msg: SmsMessage): Promise<{ messageId?: string }>;
}

export interface SmsSenderOptions {
  /** Per-request deadline in ms (default 10 s). Tests shorten it. */
  timeoutMs?: number;
  fetch?: Fetch;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Alphanumeric sender IDs are limited to 11 characters by the GSM network, and by Arkesel. */
const MAX_SENDER_ID = 11;

/**
 * The sender for `sms.provider`, or null when it is "none". Throws ConfigError listing every
 * missing setting, so a half-configured provider fails at startup, not at a user's first sign-in.
 */
export function createSmsSender(config: Config, options: SmsSenderOptions = {}): SmsSender | null {
  const problems = validateSms(config);
  if (problems.length > 0) throw new ConfigError(problems);
  const http = { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, fetch: options.fetch ?? fetch };
  const sms = config.sms;
  // The non-null assertions below are backed by validateSms above.
  switch (sms.provider) {
    case "none":
      return null;
    case "arkesel":
      return arkeselSender({ url: sms.arkesel.url, apiKey: sms.arkesel.apiKey!, sender: sms.arkesel.sender! }, http);
    case "twilio": {
      const { url, accountSid, authToken, from } = sms.twilio;
      return twilioSender({ url, accountSid: accountSid!, authToken: authToken!, from: from! }, http);
    }
    case "webhook":
      return webhookSender({ url: sms.webhook.url!, secret: sms.webhook.secret }, http);
  }
}

/** Problems with the SMS settings of the selected provider, one line each (empty when fine). */
export function validateSms(config: Config): string[] {
  const { provider, arkesel, twilio, webhook, defaultCountry } = config.sms;
  if (provider === "none") return [];
  const problems: string[] = [];
  const required = (path: string, value: string | undefined) => {
    if (!value) problems.push(`sms.${path}: required when sms.provider is ${provider}`);
  };
  const httpUrl = (path: string, value: string | undefined) => {
    if (value && !/^https?:\/\//i.test(value)) problems.push(`sms.${path}: must be an http(s) URL`);
  };
  switch (provider) {
    case "arkesel":
      required("arkesel.apiKey", arkesel.apiKey);
      required("arkesel.sender", arkesel.sender);
      httpUrl("arkesel.url", arkesel.url);
      if (arkesel.sender && arkesel.sender.length > MAX_SENDER_ID) {
        problems.push(`sms.arkesel.sender: at most ${MAX_SENDER_ID} characters (got ${arkesel.sender.length})`);
      }
      break;
    case "twilio":
      required("twilio.accountSid", twilio.accountSid);
      required("twilio.authToken", twilio.authToken);
      required("twilio.from", twilio.from);
      httpUrl("twilio.url", twilio.url);
      break;
    case "webhook":
      required("webhook.url", webhook.url);
      httpUrl("webhook.url", webhook.url);
      break;
  }
  if (defaultCountry !== undefined && !isSupportedPhoneCountry(defaultCountry)) {
    problems.push(`sms.defaultCountry: unknown country code ${JSON.stringify(defaultCountry)} (ISO 3166, e.g. "GH")`);
  }
  if (!smsTemplateHasCode(config.auth.smsTemplate)) {
    problems.push("auth.smsTemplate: must contain {{code}}, or the SMS would not carry the code");
  }
  return problems;
}
