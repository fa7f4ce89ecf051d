// The factory: auth.external.* → the enabled OAuth providers, by GoTrue's names. Presets fill in the
// issuer and scopes; `url` overrides the issuer (self-hosted GitLab, a Keycloak realm, an Entra
// tenant) and is the issuer of the generic `oidc` provider. Tests may pass their own map.
import type { Config } from "../../config/schema.ts";
import { EXTERNAL_PROVIDERS, type ExternalProviderName } from "../../config/auth-extensions.ts";
import { createGithubProvider } from "./github.ts";
import { createOidcProvider } from "./oidc.ts";
import type { OAuthProvider } from "./types.ts";

interface Preset {
  issuer: string | null;
  scopes: string[];
  responseMode?: "form_post";
}

const PRESETS: Record<Exclude<ExternalProviderName, "github">, Preset> = {
  google: { issuer: "https://accounts.google.com", scopes: ["openid", "email", "profile"] },
  gitlab: { issuer: "https://gitlab.com", scopes: ["openid", "email", "profile"] },
  // Microsoft Entra ID: the multi-tenant endpoint; a tenant's own issuer through `url`.
  azure: { issuer: "https://login.microsoftonline.com/common/v2.0", scopes: ["openid", "email", "profile"] },
  apple: { issuer: "https://appleid.apple.com", scopes: ["openid", "email", "name"], responseMode: "form_post" },
  oidc: { issuer: null, scopes: ["openid", "email", "profile"] },
};

export type OAuthProviders = ReadonlyMap<string, OAuthProvider>;

/** The names of the enabled providers (for /settings): no network, no secrets. */
export function enabledProviderNames(config: Config): ExternalProviderName[] {
  return EXTERNAL_PROVIDERS.filter((p) => config.auth.external[p].enabled);
}

export function createOAuthProviders(config: Config): OAuthProviders {
  const out = new Map<string, OAuthProvider>();
  for (const name of enabledProviderNames(config)) {
    const p = config.auth.external[name];
    if (name === "github") {
      out.set(name, createGithubProvider({ clientId: p.clientId!, secret: p.secret, url: p.url, scopes: ["read:user", "user:email", ...p.scopes] }));
      continue;
    }
    const preset = PRESETS[name];
    const issuer = p.url ?? preset.issuer;
    if (!issuer) continue; // `oidc` without an issuer is refused by the schema
    out.set(
      name,
      createOidcProvider({
        name,
        issuer,
        clientId: p.clientId!,
        secret: p.secret,
        scopes: [...preset.scopes, ...p.scopes],
        additionalClientIds: p.additionalClientIds,
        responseMode: preset.responseMode,
      }),
    );
  }
  return out;
}
