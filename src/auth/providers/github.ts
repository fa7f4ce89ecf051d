// GitHub (and GitHub Enterprise through `url`): plain OAuth 2.0, no ID tokens. openid-client still
// runs the protocol (state and PKCE checks, the code exchange); the account comes from the REST API
// (/user, and /user/emails for the primary verified address, which /user leaves out when private).
import * as client from "openid-client";
import { describe } from "./oidc.ts";
import { ProviderError, type AuthorizationRequest, type CallbackChecks, type OAuthProvider, type ProviderUser } from "./types.ts";

export interface GithubSettings {
  clientId: string;
  secret?: string;
  /** https://github.com, or the Enterprise server's base URL. */
  url?: string;
  scopes: string[];
}

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

export function createGithubProvider(s: GithubSettings): OAuthProvider {
  const base = (s.url ?? "https://github.com").replace(/\/+$/, "");
  const api = base === "https://github.com" ? "https://api.github.com" : `${base}/api/v3`;
  const config = new client.Configuration(
    { issuer: base, authorization_endpoint: `${base}/login/oauth/authorize`, token_endpoint: `${base}/login/oauth/access_token` },
    s.clientId,
    s.secret ? { client_secret: s.secret } : undefined,
    client.ClientSecretPost(s.secret),
  );
  if (base.startsWith("http:")) client.allowInsecureRequests(config);

  const get = async <T>(path: string, token: string): Promise<T> => {
    const res = await fetch(`${api}${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: "application/vnd.github+json", "user-agent": "plinth" },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new ProviderError("provider_unavailable", `GitHub ${path} answered ${res.status}`);
    return (await res.json()) as T;
  };

  return {
    name: "github",
    oidc: false,
    async authorizationUrl(req: AuthorizationRequest): Promise<URL> {
      return client.buildAuthorizationUrl(config, {
        ...req.params,
        redirect_uri: req.redirectUri,
        scope: [...new Set([...s.scopes, ...req.scopes])].join(" "),
        state: req.state,
        code_challenge: await client.calculatePKCECodeChallenge(req.codeVerifier),
        code_challenge_method: "S256",
      });
    },
    async callback(params: URLSearchParams, checks: CallbackChecks): Promise<ProviderUser> {
      const current = new URL(checks.redirectUri);
      current.search = params.toString();
      let access: string;
      try {
        const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state });
        access = tokens.access_token;
      } catch (err) {
        throw new ProviderError("bad_oauth_callback", `github refused the sign-in: ${describe(err)}`, err);
      }
      const u = await get<{ id: number; login: string; name?: string; avatar_url?: string; email?: string }>("/user", access);
      let email: string | null = null;
      let verified = false;
      try {
        const emails = await get<GithubEmail[]>("/user/emails", access);
        const primary = emails.find((e) => e.primary && e.verified) ?? emails.find((e) => e.verified);
        if (primary) [email, verified] = [primary.email.toLowerCase(), true];
      } catch {
        // Without the user:email scope only the public address (unverified for our purposes) is known.
        if (u.email) email = u.email.toLowerCase();
      }
      const id = String(u.id);
      const claims: Record<string, unknown> = {
        iss: api,
        sub: id,
        provider_id: id,
        email: email ?? undefined,
        email_verified: verified,
        phone_verified: false,
        name: u.name ?? u.login,
        full_name: u.name ?? u.login,
        user_name: u.login,
        preferred_username: u.login,
        avatar_url: u.avatar_url,
      };
      for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
      return { id, email, emailVerified: verified, claims, accessToken: access };
    },
  };
}
