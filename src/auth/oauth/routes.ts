// GET /authorize, GET|POST /callback, GET /user/identities/authorize and DELETE /user/identities/:id
// (signInWithOAuth, the provider's return, linkIdentity, unlinkIdentity). POST /token's id_token
// grant is in routes/token.ts and calls idTokenGrant here.
import { Elysia } from "elysia";
import { z } from "zod";
import { callerOf, currentUser } from "../account.ts";
import { audited } from "../audit.ts";
import { takeIp, type AuthContext } from "../context.ts";
import { reply } from "../errors.ts";
import { optString, parseBody, pkceChallenge } from "../input.ts";
import { clientOf, guarded, principalOf, redirectOf, type RouteContext } from "../routes/guard.ts";
import { completeAuthorization, idTokenGrant, startAuthorization } from "./flow.ts";
import { unlinkIdentity } from "./identities.ts";
import { providersFor } from "./registry.ts";

const IdTokenBody = z.object({
  provider: optString(64),
  id_token: optString(16_384),
  access_token: optString(16_384),
  nonce: optString(512),
  link_identity: z.boolean().optional(),
  client_id: optString(256),
  issuer: optString(512),
  gotrue_meta_security: z.unknown().optional(),
});

/** The id_token grant, for routes/token.ts. */
export async function idTokenRoute(ctx: AuthContext, c: RouteContext): Promise<Response> {
  const body = parseBody(IdTokenBody, c.body);
  const client = clientOf(ctx, c.request);
  const linkUserId = body.link_identity ? (await currentUser(ctx, callerOf(principalOf(c.request)))).id : undefined;
  const session = await audited(ctx, c.request, "end_user.signin.id_token", { target: body.provider ? `provider:${body.provider}` : null }, () =>
    idTokenGrant(ctx, providersFor(ctx), client, { provider: body.provider, idToken: body.id_token, nonce: body.nonce, linkUserId }),
  );
  return reply(session);
}

function redirectResponse(url: URL, status = 302): Response {
  return new Response(null, { status, headers: { location: url.toString(), "cache-control": "no-store" } });
}

async function authorize(ctx: AuthContext, c: RouteContext, linkUserId?: string): Promise<Response> {
  const client = clientOf(ctx, c.request);
  takeIp(ctx, "token", client.ip);
  const url = await startAuthorization(ctx, providersFor(ctx), client, {
    provider: c.query.provider,
    redirectTo: redirectOf(ctx, c),
    scopes: c.query.scopes,
    pkce: pkceChallenge({ code_challenge: c.query.code_challenge, code_challenge_method: c.query.code_challenge_method }),
    query: c.query,
    linkUserId,
  });
  // auth-js asks for JSON ({url}) when it opens the page itself (linkIdentity, skipBrowserRedirect).
  if (c.query.skip_http_redirect === "true") return reply({ url: url.toString() });
  return redirectResponse(url);
}

async function callback(ctx: AuthContext, c: RouteContext, params: URLSearchParams): Promise<Response> {
  const client = clientOf(ctx, c.request);
  const url = await audited(ctx, c.request, "end_user.signin.oauth", {}, () => completeAuthorization(ctx, providersFor(ctx), client, params));
  return redirectResponse(url, 303);
}

/** Form fields of a form_post callback (Apple), as strings. */
function formParams(body: unknown): URLSearchParams {
  const out = new URLSearchParams();
  if (body && typeof body === "object") {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) if (typeof v === "string" && v.length <= 16_384) out.set(k, v);
  }
  return out;
}

export const oauthRoutes = (ctx: AuthContext) =>
  new Elysia()
    .get(
      "/authorize",
      guarded((c) => authorize(ctx, c)),
    )
    .get(
      "/callback",
      guarded((c) => callback(ctx, c, new URL(c.request.url).searchParams)),
    )
    .post(
      "/callback",
      guarded((c) => callback(ctx, c, formParams(c.body))),
    )
    .get(
      "/user/identities/authorize",
      guarded(async (c) => {
        const user = await currentUser(ctx, callerOf(principalOf(c.request)));
        return authorize(ctx, c, user.id);
      }),
    )
    .delete(
      "/user/identities/:id",
      guarded(async (c) => {
        const caller = callerOf(principalOf(c.request));
        await audited(ctx, c.request, "end_user.identity.unlink", { target: `identity:${String(c.params.id).slice(0, 64)}`, security: true }, () =>
          unlinkIdentity(ctx, caller.userId, c.params.id!),
        );
        return reply({});
      }),
    );
