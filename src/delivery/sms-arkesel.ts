// Arkesel SMS API v2 (Ghana and West Africa): https://developers.arkesel.com
import { postToProvider, rejected, type HttpOptions } from "./sms-http.ts";
import type { SmsSender } from "./sms.ts";
import { assertE164 } from "./phone.ts";

export interface ArkeselSettings {
  /** Base URL, e.g. https://sms.arkesel.com (tests point it at a local sink). */
  url: string;
  apiKey: string;
  /** Registered sender ID, at most 11 characters. */
  sender: string;
}

export function arkeselSender(settings: ArkeselSettings, http: HttpOptions): SmsSender {
  const endpoint = `${settings.url.replace(/\/+$/, "")}/api/v2/sms/send`;
  return {
    name: "arkesel",
    async send(msg) {
      assertE164(msg.to);
      const res = await postToProvider(
        "arkesel",
        endpoint,
        {
          headers: { "api-key": settings.apiKey, "content-type": "application/json", accept: "application/json" },
          // Arkesel wants international numbers without the "+".
          body: JSON.stringify({ sender: settings.sender, message: msg.body, recipients: [msg.to.slice(1)] }),
        },
        http,
      );
      // Arkesel reports some refusals (balance, sender ID) with HTTP 200 and another status.
      const json = res.json as { status?: unknown; data?: unknown } | null;
      if (!res.ok || json?.status !== "success") throw rejected("arkesel", res, ["status", "code", "message"]);
      const first: unknown = Array.isArray(json.data) ? json.data[0] : undefined;
      const id = first !== null && typeof first === "object" ? (first as { id?: unknown }).id : undefined;
      return { messageId: typeof id === "string" ? id : undefined };
    },
  };
}
