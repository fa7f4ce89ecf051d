// The generic provider: POST {"to", "message"} to the operator's URL, which relays it however it
// likes. With a secret, the raw body is signed so the receiver can tell Plinth from anyone else.
import { createHmac } from "node:crypto";
import { field, postToProvider, rejected, type HttpOptions } from "./sms-http.ts";
import type { SmsSender } from "./sms.ts";
import { assertE164 } from "./phone.ts";

export interface WebhookSettings {
  url: string;
  secret?: string;
}

export const SIGNATURE_HEADER = "x-plinth-signature";

/** "sha256=<hex HMAC-SHA256 of the body>": the receiver recomputes it over the raw bytes. */
export function signWebhookBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function webhookSender(settings: WebhookSettings, http: HttpOptions): SmsSender {
  return {
    name: "webhook",
    async send(msg) {
      assertE164(msg.to);
      const body = JSON.stringify({ to: msg.to, message: msg.body });
      const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
      if (settings.secret) headers[SIGNATURE_HEADER] = signWebhookBody(body, settings.secret);
      const res = await postToProvider("webhook", settings.url, { headers, body }, http);
      if (!res.ok) throw rejected("webhook", res, ["error", "message"]);
      return { messageId: field(res.json, "id") ?? field(res.json, "messageId") };
    },
  };
}
