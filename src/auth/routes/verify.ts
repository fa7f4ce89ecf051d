// POST /verify (code or token_hash → session) and GET /verify (a link followed in a browser →
// 303 to the app, with the session in the URL fragment, or ?code= for PKCE, or the error).
import { Elysia } from "elysia";
import { z } from "zod";
import { isPlinthError } from "../../errors.ts";
import { audited, identifierTarget } from "../audit.ts";
import { takeIp, type AuthContext } from "../context.ts";
import { AuthErrors, reply } from "../errors.ts";
import { optString, parseBody } from "../input.ts";
import { VERIFY_TYPES, isPkceLinkToken, type VerifyType } from "../otp.ts";
import { verifyToken } from "../verify.ts";
import { clientOf, guarded, redirectOf } from "./guard.ts";

const VerifyBody = z.object({
  type: optString(32),
  token: optString(1024),
  token_hash: optString(1024),
  email: optString(320),
  phone: optString(64),
  redirect_to: optString(2048),
});

function verifyType(type: string | undefined): VerifyType {
  if (!type || !(VERIFY_TYPES as readonly string[]).includes(type))
    throw AuthErrors.validation(`Verify requires a verification type (${VERIFY_TYPES.join(", ")})`);
  return type as VerifyType;
}

const OAUTH_ERROR: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized_client",
  403: "access_denied",
  429: "access_denied",
  500: "server_error",
};

export const verifyRoutes = (ctx: AuthContext) =>
  new Elysia()
    .post(
      "/verify",
      guarded(async (c) => {
        const client = clientOf(ctx, c.request);
        takeIp(ctx, "verify", client.ip);
        const body = parseBody(VerifyBody, c.body);
        const type = verifyType(body.type);
        const result = await audited(ctx, c.request, `end_user.verify.${type}`, { target: identifierTarget(body) }, () =>
          verifyToken(ctx, client, { type, token: body.token, tokenHash: body.token_hash, email: body.email, phone: body.phone }, false),
        );
        // The first confirmation of a secure email change: GoTrue's {msg, code}, no session.
        if (result.message) return reply({ msg: result.message, code: "200" });
        return reply(result.session);
      }),
    )
    .get("/verify", async (c: { query: Record<string, string | undefined>; request: Request; body: unknown; params: Record<string, string> }) => {
      const client = clientOf(ctx, c.request);
      const target = redirectOf(ctx, c);
      const type = c.query.type;
      // PKCE links carry a marked token, so even a spent or unknown one is known to be PKCE: then,
      // as GoTrue does, results go in the query string too (the fragment never reaches a server).
      const pkce = isPkceLinkToken(c.query.token);
      try {
        takeIp(ctx, "verify", client.ip);
        const vt = verifyType(type);
        const result = await audited(ctx, c.request, `end_user.verify.${vt}`, {}, () => verifyToken(ctx, client, { type: vt, token: c.query.token }, true));
        const url = new URL(target);
        if (result.message) {
          if (pkce) url.searchParams.set("message", result.message);
          url.hash = new URLSearchParams({ message: result.message, sb: "" }).toString();
          return seeOther(url.toString());
        }
        if (result.authCode) {
          url.searchParams.set("code", result.authCode);
          return seeOther(url.toString());
        }
        const s = result.session!;
        const fragment = new URLSearchParams({
          access_token: s.access_token,
          expires_at: String(s.expires_at),
          expires_in: String(s.expires_in),
          refresh_token: s.refresh_token,
          token_type: "bearer",
          type: type!,
          sb: "",
        });
        url.hash = fragment.toString();
        return seeOther(url.toString());
      } catch (err) {
        if (!isPlinthError(err)) throw err;
        const url = new URL(target);
        const error = { error: OAUTH_ERROR[err.status] ?? "server_error", error_code: err.code, error_description: err.message };
        if (pkce) for (const [k, v] of Object.entries(error)) url.searchParams.set(k, v);
        url.hash = new URLSearchParams({ ...error, sb: "" }).toString();
        return seeOther(url.toString());
      }
    });

function seeOther(location: string): Response {
  return new Response(null, { status: 303, headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
}
