// The delivery layer for auth: mail and SMS behind small interfaces, built from config.
export { DeliveryError, type DeliveryChannel } from "./errors.ts";
export { DEFAULT_FROM, createMailer, type Mail, type Mailer, type MailerOptions } from "./mail.ts";
export { assertE164, isSupportedPhoneCountry, normalisePhone } from "./phone.ts";
export {
  createSmsSender,
  validateSms,
  type SmsMessage,
  type SmsSender,
  type SmsSenderOptions,
} from "./sms.ts";
export type { Fetch } from "./sms-http.ts";
export { SIGNATURE_HEADER, signWebhookBody } from "./sms-webhook.ts";
export {
  EMAIL_KINDS,
  escapeHtml,
  renderEmail,
  renderSms,
  validateTemplates,
  type EmailKind,
  type EmailVars,
  type RenderedEmail,
} from "./templates.ts";
