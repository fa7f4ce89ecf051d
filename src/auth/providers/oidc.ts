// OpenID Connect providers (Google, GitLab, Microsoft Entra ID, Apple, and the generic `oidc`) through
// openid-client: discovery from the issuer, the authorisation URL with state, nonce and PKCE, the
// code exchanged server-side with every check openid-client makes (state, `iss` of RFC 9207, the ID
// token's signature by the issuer's JWKS, issuer, audience, expiry, nonce), then claims → ProviderUser.
//
// Traps:
// - An http:// issuer is accepted only on a loopback address (local development and the tests);
//   anything else must be https, or a man in the middle could serve its own JWKS.
// - Discovery is lazy and cached; a failed discovery is not cached, so a provider that was down at
//   start works once it is back.
// - ID tokens handed to POST /token (native sign-in) are verified with jose against the same JWKS;
//   their nonce, when the app sent one, must match (raw or its sha256, as Apple and Google advise).
import { createHash, timingSafeEqual } from "node:crypto";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import * as client from "openid-client";
import { ProviderError, type AuthorizationRequest, type CallbackChecks, type OAuthProvider, type ProviderUser } from "./types.ts";

export interface OidcSettings {
  name: string;
  issuer: string;
  clientId: string;
  secret?: string;
  /** The preset's scopes (openid first). */
  scopes: string[];
  additionalClientIds: string[];
  /** Apple returns by form_post when name/email are asked for. */
  responseMode?: "form_post";
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** https, or http on a loopback address only. */
export function checkIssuerUrl(issuer: string): URL {
  const url = new URL(issuer);
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && LOOPBACK.test(url.hostname)) return url;
  throw new ProviderError("provider_misconfigured", `The issuer ${url.origin} must use https (http:// is accepted only on loopback addresses)`);
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const truthy = (v: unknown): boolean => v === true || v === "true";

/** GoTrue's identity_data from OIDC claims (provider/oidc.go's Claims, with its aliases). */
export function userFromClaims(claims: Record<string, unknown>, tokens?: { access?: string; refresh?: string }): ProviderUser {
  const sub = str(claims.sub);
  if (!sub) throw new ProviderError("bad_id_token", "The ID token has no subject");
  const email = str(claims.email)?.toLowerCase() ?? null;
  const name = str(claims.name) ?? ([str(claims.given_name), str(claims.family_name)].filter(Boolean).join(" ") || undefined);
  const picture = str(claims.picture);
  const known = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "at_hash", "c_hash", "azp", "sid", "jti"]);
  const data: Record<string, unknown> = {
    iss: claims.iss,
    sub,
    provider_id: sub,
    email: email ?? undefined,
    email_verified: truthy(claims.email_verified),
    phone_verified: truthy(claims.phone_number_verified),
    name,
    full_name: name,
    picture,
    avatar_url: picture,
    preferred_username: str(claims.preferred_username),
    user_name: str(claims.preferred_username) ?? str(claims.nickname),
  };
  const custom: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) if (!(k in data) && !known.has(k)) custom[k] = v;
  if (Object.keys(custom).length) data.custom_claims = custom;
  for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
  return { id: sub, email, emailVerified: truthy(claims.email_verified), claims: data, accessToken: tokens?.access, refreshToken: tokens?.refresh };
}

function sameNonce(expected: string, given: unknown): boolean {
  if (typeof given !== "string") return false;
  const eq = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  return eq(expected, given) || eq(createHash("sha256").update(expected).digest("hex"), given);
}

export function createOidcProvider(s: OidcSettings): OAuthProvider {
  const issuerUrl = checkIssuerUrl(s.issuer);
  const insecure = issuerUrl.protocol === "http:";
  let discovered: Promise<client.Configuration> | null = null;
  const configuration = (): Promise<client.Configuration> => {
    if (!discovered) {
      discovered = client
        .discovery(issuerUrl, s.clientId, s.secret ? { client_secret: s.secret } : undefined, s.secret ? undefined : client.None(), {
          execute: insecure ? [client.allowInsecureRequests] : [],
          timeout: 10,
        })
        .catch((err) => {
          discovered = null;
          throw new ProviderError("provider_unavailable", `Discovery of ${s.name} at ${issuerUrl.origin} failed`, err);
        });
    }
    return discovered;
  };
  let jwks: ReturnType<typeof createRemoteJWKSet> | null = null;

  return {
    name: s.name,
    oidc: true,
    async authorizationUrl(req: AuthorizationRequest): Promise<URL> {
      const config = await configuration();
      const scope = [...new Set([...s.scopes, ...req.scopes])].join(" ");
      return client.buildAuthorizationUrl(config, {
        ...req.params,
        redirect_uri: req.redirectUri,
        scope,
        state: req.state,
        nonce: req.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(req.codeVerifier),
        code_challenge_method: "S256",
        ...(s.responseMode ? { response_mode: s.responseMode } : {}),
      });
    },
    async callback(params: URLSearchParams, checks: CallbackChecks): Promise<ProviderUser> {
      const config = await configuration();
      const current = new URL(checks.redirectUri);
      current.search = params.toString();
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
      } catch (err) {
        throw new ProviderError("bad_oauth_callback", `${s.name} refused the sign-in: ${describe(err)}`, err);
      }
      const claims = tokens.claims();
      if (!claims) throw new ProviderError("bad_id_token", `${s.name} returned no ID token`);
      let all: Record<string, unknown> = { ...claims };
      // Some providers put email/name only in userinfo (GitLab, Keycloak without mappers).
      if (!all.email && config.serverMetadata().userinfo_endpoint) {
        try {
          all = { ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub)), ...all };
        } catch {
          // The ID token alone identifies the account; missing profile fields are not fatal.
        }
      }
      return userFromClaims(all, { access: tokens.access_token, refresh: tokens.refresh_token });
    },
    async verifyIdToken(idToken: string, nonce: string | undefined): Promise<ProviderUser> {
      const config = await configuration();
      const meta = config.serverMetadata();
      if (!meta.jwks_uri) throw new ProviderError("provider_misconfigured", `${s.name} publishes no JWKS`);
      jwks ??= createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: 10_000 });
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(idToken, jwks, {
          // Entra ID's multi-tenant documents name a templated issuer; the tenant's own is checked below.
          issuer: meta.issuer.includes("{tenantid}") ? undefined : meta.issuer,
          audience: [s.clientId, ...s.additionalClientIds],
          clockTolerance: 30,
        }));
      } catch (err) {
        throw new ProviderError("bad_id_token", `The ID token was refused: ${describe(err)}`, err);
      }
      if (meta.issuer.includes("{tenantid}") && payload.iss !== meta.issuer.replace("{tenantid}", String(payload.tid ?? ""))) {
        throw new ProviderError("bad_id_token", "The ID token was refused: unexpected issuer");
      }
      if (nonce !== undefined || payload.nonce !== undefined) {
        if (nonce === undefined || payload.nonce === undefined) {
          throw new ProviderError("bad_id_token", "Passed nonce and nonce in id_token should either both exist or not.");
        }
        if (!sameNonce(nonce, payload.nonce)) throw new ProviderError("bad_id_token", "Nonces mismatch");
      }
      return userFromClaims(payload as Record<string, unknown>);
    },
  };
}

/** A short reason for logs and the error description: the library's message, never a token. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return `${err.message}${code ? ` (${code})` : ""}`.slice(0, 300);
  }
  return "unknown error";
}
