// Delivery failures as the one Plinth error type. The client sees a stable code and a fixed,
// provider-neutral message; what actually went wrong (SMTP reply, provider HTTP status) rides along
// as `cause` for the caller to log. Never put provider secrets or raw response bodies in `message`:
// handlers serialise it.
import { PlinthError } from "../errors.ts";

export type DeliveryChannel = "email" | "sms";

const CODES = { email: "email_send_failed", sms: "sms_send_failed" } as const;
const MESSAGES = { email: "Error sending email", sms: "Error sending SMS" } as const;

export class DeliveryError extends PlinthError {
  constructor(
    readonly channel: DeliveryChannel,
    cause: unknown,
    /** Client-facing text; callers may name the flow ("Error sending confirmation email"). */
    message: string = MESSAGES[channel],
  ) {
    // 502: Plinth worked, the upstream mail/SMS provider did not.
    super(502, CODES[channel], message);
    this.name = "DeliveryError";
    this.cause = cause;
  }
}

/** A short operator-facing description of a failure, for `cause` (logged, never sent). */
export function failure(provider: string, detail: string): Error {
  return new Error(`${provider}: ${detail}`);
}
