// POST /otp, /magiclink, /recover, /resend: requests that send a code.
import { Elysia } from "elysia";
import { z } from "zod";
import { audited, identifierTarget } from "../audit.ts";
import { takeIp, type AuthContext } from "../context.ts";
import { AuthErrors, reply } from "../errors.ts";
import { metadata, optString, parseBody, pkceChallenge, pkceFields } from "../input.ts";
import { RESEND_TYPES, requestOtp, requestRecovery, resend, type ResendType } from "../otp-requests.ts";
import { clientOf, guarded, redirectOf } from "./guard.ts";

const OtpBody = z.object({
  email: optString(320),
  phone: optString(64),
  data: metadata,
  create_user: z.boolean().nullish(),
  channel: optString(16),
  ...pkceFields,
});
const RecoverBody = z.object({ email: optString(320), ...pkceFields });
const ResendBody = z.object({ type: optString(32), email: optString(320), phone: optString(64), ...pkceFields });

export const otpRoutes = (ctx: AuthContext) => {
  const otp = guarded(async (c) => {
    const client = clientOf(ctx, c.request);
    takeIp(ctx, "otp", client.ip);
    const body = parseBody(OtpBody, c.body);
    if (body.channel && body.channel !== "sms") throw AuthErrors.validation("Only the sms channel is supported");
    const result = await requestOtp(ctx, client, {
      email: body.email,
      phone: body.phone,
      data: body.data,
      createUser: body.create_user ?? true,
      pkce: pkceChallenge(body),
      redirectTo: redirectOf(ctx, c),
    });
    return reply(result);
  });
  return new Elysia()
    .post("/otp", otp)
    .post("/magiclink", otp)
    .post(
      "/recover",
      guarded(async (c) => {
        const client = clientOf(ctx, c.request);
        takeIp(ctx, "recover", client.ip);
        const body = parseBody(RecoverBody, c.body);
        return reply(
          await audited(ctx, c.request, "end_user.password.reset_request", { target: identifierTarget(body) }, () =>
            requestRecovery(ctx, client, { email: body.email, pkce: pkceChallenge(body), redirectTo: redirectOf(ctx, c) }),
          ),
        );
      }),
    )
    .post(
      "/resend",
      guarded(async (c) => {
        const client = clientOf(ctx, c.request);
        takeIp(ctx, "otp", client.ip);
        const body = parseBody(ResendBody, c.body);
        if (!body.type || !(RESEND_TYPES as readonly string[]).includes(body.type)) {
          throw AuthErrors.validation("Missing one of these types: signup, email_change, sms, phone_change");
        }
        const result = await resend(ctx, client, {
          type: body.type as ResendType,
          email: body.email,
          phone: body.phone,
          pkce: pkceChallenge(body),
          redirectTo: redirectOf(ctx, c),
        });
        return reply(result);
      }),
    );
};
