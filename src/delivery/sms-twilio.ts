// Twilio Programmable Messaging: POST /2010-04-01/Accounts/{sid}/Messages.json.
import { field, postToProvider, rejected, type HttpOptions } from "./sms-http.ts";
import type { SmsSender } from "./sms.ts";
import { assertE164 } from "./phone.ts";

export interface TwilioSettings {
  url: string;
  accountSid: string;
  authToken: string;
  /** A sender number (E.164), an alphanumeric ID, or a Messaging Service SID ("MG…"). */
  from: string;
}

const MESSAGING_SERVICE_SID = /^MG[0-9a-f]{32}$/i;

export function twilioSender(settings: TwilioSettings, http: HttpOptions): SmsSender {
  const endpoint = `${settings.url.replace(/\/+$/, "")}/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${settings.accountSid}:${settings.authToken}`).toString("base64")}`;
  return {
    name: "twilio",
    async send(msg) {
      assertE164(msg.to);
      const form = new URLSearchParams({ To: msg.to, Body: msg.body });
      // Twilio takes a Messaging Service in its own parameter, not in From.
      form.set(MESSAGING_SERVICE_SID.test(settings.from) ? "MessagingServiceSid" : "From", settings.from);
      const res = await postToProvider(
        "twilio",
        endpoint,
        {
          headers: {
            authorization,
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
          },
          body: form.toString(),
        },
        http,
      );
      const sid = field(res.json, "sid");
      if (!res.ok || sid === undefined) throw rejected("twilio", res, ["code", "message"]);
      return { messageId: sid };
    },
  };
}
