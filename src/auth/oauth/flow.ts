// The OAuth/OIDC redirect flow, as GoTrue runs it for supabase-js:
//   GET /authorize?provider=…&redirect_to=…[&code_challenge=…] → 302 to the provider, with a fresh
//     state, nonce and provider-side PKCE verifier kept server-side (plinth.oauth_states);
//   GET|POST /callback?code=…&state=… → the state row is taken (deleted: one use), the code traded
//     server-side, the user created or matched (identities.ts), and the browser sent back to
//     redirect_to with the session in the fragment (implicit) or ?code= (the app's PKCE flow, then
//     POST /token?grant_type=pkce, i.e. exchangeCodeForSession).
// Errors after /authorize go back to the app on the redirect (?error=&error_code=&error_description=),
// as GoTrue does; an unknown state goes to the site URL, since its redirect_to is unknown.
import * as oidc from "openid-client";
import type { Client, AuthContext } from "../context.ts";
import { randomToken, sha256Hex } from "../crypto.ts";
import { AuthErrors } from "../errors.ts";
import { issueAuthCode } from "../pkce.ts";
import { startSession, type SessionJson } from "../sessions.ts";
import type { OAuthProviders } from "../providers/index.ts";
import { ProviderError, type OAuthProvider } from "../providers/types.ts";
import { resolveProviderUser } from "./identities.ts";
import { PlinthError, isPlinthError } from "../../errors.ts";

/** How long the browser may take at the provider (GoTrue's flow state lives 10 minutes). */
const STATE_TTL_SECONDS = 600;
/** Query parameters of /authorize that are Plinth's own and never forwarded to the provider. */
const OWN_PARAMS = new Set([
  "provider",
  "redirect_to",
  "scopes",
  "code_challenge",
  "code_challenge_method",
  "skip_http_redirect",
  "state",
  "nonce",
  "redirect_uri",
  "response_type",
  "client_id",
  "code_challenge",
  "scope",
]);

export const OAuthErrors = {
  unsupported: (provider: string) => AuthErrors.validation(`Unsupported provider: Provider ${provider.slice(0, 64)} could not be found`),
  notOidc: (provider: string) => AuthErrors.validation(`Custom OIDC provider ${provider.slice(0, 64)} does not issue ID tokens`),
  badState: () => new PlinthError(400, "bad_oauth_state", "OAuth state parameter is invalid or has expired"),
  callbackFailed: (message: string) => new PlinthError(400, "bad_oauth_callback", message),
  badIdToken: (message: string) => new PlinthError(400, "bad_id_token", message),
  providerUnavailable: () => new PlinthError(502, "provider_unavailable", "The identity provider could not be reached"),
};

export function providerOf(providers: OAuthProviders, name: string | undefined): OAuthProvider {
  if (!name) throw AuthErrors.validation("Unsupported provider: missing provider");
  const p = providers.get(name.toLowerCase());
  if (!p) throw OAuthErrors.unsupported(name);
  return p;
}

export interface AuthorizeInput {
  provider: string | undefined;
  /** Already checked against the allow list (safeRedirect). */
  redirectTo: string;
  scopes?: string;
  pkce: { challenge: string; method: "s256" | "plain" } | null;
  /** All query parameters (queryParams of signInWithOAuth are forwarded, minus Plinth's own). */
  query: Record<string, string | undefined>;
  linkUserId?: string;
}

/** The callback URL registered with the provider. */
function callbackUri(ctx: AuthContext, client: Client, provider: string): string {
  const configured = (ctx.config.auth.external as Record<string, { redirectUri?: string }>)[provider]?.redirectUri;
  return configured ?? `${client.apiBase}/auth/v1/callback`;
}

export async function startAuthorization(ctx: AuthContext, providers: OAuthProviders, client: Client, input: AuthorizeInput): Promise<URL> {
  const provider = providerOf(providers, input.provider);
  const state = randomToken();
  const nonce = randomToken(16);
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const redirectUri = callbackUri(ctx, client, provider.name);
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.query)) if (v !== undefined && !OWN_PARAMS.has(k) && v.length <= 512) params[k] = v;
  // Built before any row is written: a provider that cannot be reached fails here, cleanly.
  let url: URL;
  try {
    url = await provider.authorizationUrl({
      state,
      nonce,
      codeVerifier,
      redirectUri,
      scopes: (input.scopes ?? "")
        .split(/[\s,]+/)
        .filter((s) => s && s.length <= 128)
        .slice(0, 32),
      params,
    });
  } catch (err) {
    ctx.log.warn("auth: oauth provider unavailable", { provider: provider.name, error: err });
    throw OAuthErrors.providerUnavailable();
  }
  const sql = ctx.db.sql;
  await sql.begin(async (tx) => {
    let flowId: string | null = null;
    if (input.pkce) {
      flowId = crypto.randomUUID();
      await tx`insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type, authentication_method, created_at, updated_at)
               values (${flowId}, null, ${sha256Hex(randomToken())}, ${input.pkce.method}, ${input.pkce.challenge}, ${provider.name}, 'oauth', now(), now())`;
    }
    // Expired rows go with each new one (indexed): no timer needed for this table.
    await tx`delete from plinth.oauth_states where expires_at < now()`;
    await tx`insert into plinth.oauth_states (state_hash, provider, nonce, code_verifier, redirect_to, flow_state_id, link_user_id, expires_at)
             values (${sha256Hex(state)}, ${provider.name}, ${nonce}, ${codeVerifier}, ${input.redirectTo}, ${flowId}, ${input.linkUserId ?? null},
                     now() + make_interval(secs => ${STATE_TTL_SECONDS}))`;
  });
  return url;
}

interface StateRow {
  provider: string;
  nonce: string;
  code_verifier: string;
  redirect_to: string;
  flow_state_id: string | null;
  link_user_id: string | null;
}

/** Where the browser goes after the callback: always a 303 to the app. */
export function errorRedirect(target: string, err: PlinthError | { code: string; message: string; error?: string }): URL {
  const url = new URL(target);
  url.searchParams.set("error", "error" in err && err.error ? err.error : err.code === "access_denied" ? "access_denied" : "server_error");
  url.searchParams.set("error_code", err.code);
  url.searchParams.set("error_description", err.message);
  return url;
}

export async function completeAuthorization(ctx: AuthContext, providers: OAuthProviders, client: Client, params: URLSearchParams): Promise<URL> {
  const state = params.get("state");
  const [row] = state
    ? await ctx.db.sql<StateRow[]>`
        delete from plinth.oauth_states where state_hash = ${sha256Hex(state)}
        returning provider, nonce, code_verifier, redirect_to, flow_state_id, link_user_id, (expires_at > now()) as live`
    : [];
  if (!row || !(row as StateRow & { live: boolean }).live) return errorRedirect(ctx.config.auth.siteUrl, OAuthErrors.badState());
  const back = row.redirect_to;
  const providerError = params.get("error");
  if (providerError) {
    const description = (params.get("error_description") ?? "The provider refused the sign-in").slice(0, 300);
    if (row.flow_state_id) await ctx.db.sql`delete from auth.flow_state where id = ${row.flow_state_id}`;
    return errorRedirect(back, { code: providerError.slice(0, 64).replace(/[^a-z_]/gi, "") || "server_error", message: description, error: "access_denied" });
  }
  try {
    const provider = providerOf(providers, row.provider);
    let pu;
    try {
      pu = await provider.callback(params, {
        state: state!,
        nonce: row.nonce,
        codeVerifier: row.code_verifier,
        redirectUri: callbackUri(ctx, client, row.provider),
      });
    } catch (err) {
      ctx.log.warn("auth: oauth callback refused", { provider: row.provider, error: err instanceof ProviderError ? err.message : String(err) });
      if (err instanceof ProviderError) throw err.code === "provider_unavailable" ? OAuthErrors.providerUnavailable() : OAuthErrors.callbackFailed(err.message);
      throw OAuthErrors.providerUnavailable();
    }
    const outcome = await ctx.db.sql.begin(async (tx) => {
      const { user } = await resolveProviderUser(ctx, tx, provider.name, pu, row.link_user_id);
      if (row.flow_state_id) {
        await tx`update auth.flow_state set user_id = ${user.id}, updated_at = now() where id = ${row.flow_state_id}`;
        return { code: await issueAuthCode(tx, row.flow_state_id), session: undefined };
      }
      return { code: undefined, session: await startSession(ctx, tx, user.id, "oauth", client) };
    });
    const url = new URL(back);
    if (outcome.code !== undefined) {
      url.searchParams.set("code", outcome.code);
      return url;
    }
    url.hash = fragmentOf(outcome.session!, pu.accessToken, pu.refreshToken).toString();
    return url;
  } catch (err) {
    if (row.flow_state_id) await ctx.db.sql`delete from auth.flow_state where id = ${row.flow_state_id}`.catch(() => {});
    if (isPlinthError(err)) return errorRedirect(back, err);
    throw err;
  }
}

/** GoTrue's implicit-flow fragment (auth-js reads it with detectSessionInUrl / getSessionFromUrl). */
function fragmentOf(s: SessionJson, providerToken?: string, providerRefresh?: string): URLSearchParams {
  const f = new URLSearchParams({
    access_token: s.access_token,
    expires_at: String(s.expires_at),
    expires_in: String(s.expires_in),
    refresh_token: s.refresh_token,
    token_type: s.token_type,
  });
  if (providerToken) f.set("provider_token", providerToken);
  if (providerRefresh) f.set("provider_refresh_token", providerRefresh);
  return f;
}

export interface IdTokenInput {
  provider?: string;
  idToken?: string;
  nonce?: string;
  linkUserId?: string;
}

/** POST /token?grant_type=id_token (signInWithIdToken, and linkIdentity with an ID token). */
export async function idTokenGrant(ctx: AuthContext, providers: OAuthProviders, client: Client, input: IdTokenInput): Promise<SessionJson> {
  if (!input.idToken) throw AuthErrors.validation("id_token required");
  const provider = providerOf(providers, input.provider);
  if (!provider.oidc || !provider.verifyIdToken) throw OAuthErrors.notOidc(provider.name);
  let pu;
  try {
    pu = await provider.verifyIdToken(input.idToken, input.nonce);
  } catch (err) {
    if (err instanceof ProviderError && err.code !== "provider_unavailable" && err.code !== "provider_misconfigured") throw OAuthErrors.badIdToken(err.message);
    ctx.log.warn("auth: oidc provider unavailable", { provider: provider.name, error: err });
    throw OAuthErrors.providerUnavailable();
  }
  return ctx.db.sql.begin(async (tx) => {
    const { user } = await resolveProviderUser(ctx, tx, provider.name, pu, input.linkUserId ?? null);
    return startSession(ctx, tx, user.id, "oauth", client);
  });
}
