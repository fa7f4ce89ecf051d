// Settings of sign-in beyond passwords (issue 17): external OAuth/OIDC providers (auth.external.*),
// an LDAP directory (auth.ldap), auth hooks (auth.hook.*) and plugins (plugins). Kept apart from
// schema.ts so that file only names these sections; the environment names mirror GoTrue's
// GOTRUE_EXTERNAL_* and Supabase's hook settings, and are generated here from the provider and hook
// lists so the table in env.ts cannot drift from the schema.
import { z } from "zod";
import type { EnvVar } from "./env.ts";

const bool = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"])])
  .transform((v) => (typeof v === "boolean" ? v : ["true", "1", "yes", "on"].includes(v)));
const stringList = z.union([z.array(z.string()), z.string()]).transform((v) =>
  Array.isArray(v)
    ? v
    : v
        .split(/[,\s]+/)
        .map((s) => s.trim())
        .filter(Boolean),
);

/** The OAuth providers Plinth has presets for, by GoTrue's names (azure is Microsoft Entra ID), and the generic `oidc`. */
export const EXTERNAL_PROVIDERS = ["github", "google", "gitlab", "azure", "apple", "oidc"] as const;
export type ExternalProviderName = (typeof EXTERNAL_PROVIDERS)[number];

const externalProvider = z
  .object({
    enabled: bool.default(false),
    clientId: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    /** The callback URL registered with the provider (default: <publicUrl or request origin>/auth/v1/callback). */
    redirectUri: z.string().url().optional(),
    /** Scopes added to the preset's. */
    scopes: stringList.default([]),
    /** Issuer (OIDC) or base URL (GitHub Enterprise, self-hosted GitLab/Keycloak); required for `oidc`. */
    url: z.string().url().optional(),
    /** Client IDs also accepted as the audience of ID tokens given to POST /token?grant_type=id_token (mobile apps). */
    additionalClientIds: stringList.default([]),
  })
  .strict()
  .refine((p) => !p.enabled || p.clientId, { message: "clientId is required when the provider is enabled", path: ["clientId"] });

export const externalSchema = z
  .object({
    github: externalProvider.prefault({}),
    google: externalProvider.prefault({}),
    gitlab: externalProvider.prefault({}),
    azure: externalProvider.prefault({}),
    apple: externalProvider.prefault({}),
    oidc: externalProvider.prefault({}),
  })
  .strict()
  .refine((e) => !e.oidc.enabled || e.oidc.url, { message: "auth.external.oidc.url (the issuer) is required", path: ["oidc", "url"] })
  .prefault({});

export const ldapSchema = z
  .object({
    /** Off unless a URL is set (or enabled is set to true explicitly with one). */
    enabled: bool.optional(),
    /** ldap://host:389 (StartTLS with startTls) or ldaps://host:636. */
    url: z
      .string()
      .regex(/^ldaps?:\/\/[^\s]+$/i, "must be an ldap:// or ldaps:// URL")
      .optional(),
    bindDn: z.string().optional(),
    bindPassword: z.string().optional(),
    searchBase: z.string().optional(),
    /** {login} is replaced by the typed login, escaped per RFC 4515. */
    searchFilter: z.string().default("(|(uid={login})(mail={login}))"),
    startTls: bool.default(false),
    /** PEM file with the CA that signed the directory's certificate (default: the system's). */
    caFile: z.string().optional(),
    /** Milliseconds for connecting and for each operation. */
    timeout: z.coerce.number().int().min(100).max(60_000).default(5000),
    emailAttribute: z.string().default("mail"),
    nameAttribute: z.string().default("cn"),
    /** Groups are read from this attribute of the user entry (memberOf overlay) … */
    groupAttribute: z.string().default("memberOf"),
    /** … or, when set, searched with this filter ({dn} and {login} replaced) under groupSearchBase. */
    groupSearchFilter: z.string().optional(),
    groupSearchBase: z.string().optional(),
    /** Group DN or cn → admin level given to the user's admin account (system_admin, admin, moderator, viewer). */
    adminGroups: z.record(z.string(), z.enum(["system_admin", "admin", "moderator", "viewer"])).default({}),
    /** Which password check runs first for an email/username sign-in, and whether the other is tried after. */
    order: z
      .array(z.enum(["ldap", "local"]))
      .min(1)
      .default(["ldap", "local"]),
  })
  .strict()
  .prefault({});

/** Supabase's hook names (config.toml [auth.hook.<name>]), so existing setups carry over. */
export const HOOK_NAMES = ["custom_access_token", "send_email", "send_sms", "password_verification_attempt", "mfa_verification_attempt"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

const hook = z
  .object({
    enabled: bool.default(false),
    /** pg-functions://postgres/<schema>/<function> or https://… (http:// only to loopback). */
    uri: z.string().optional(),
    /** Standard Webhooks secrets ("v1,whsec_…"; several, '|'-separated in Supabase's form, or a list). */
    secrets: z
      .union([z.array(z.string()), z.string()])
      .transform((v) =>
        Array.isArray(v)
          ? v
          : v
              .split("|")
              .map((s) => s.trim())
              .filter(Boolean),
      )
      .default([]),
    /** Milliseconds a hook may take (Supabase: 5 s for HTTP, 2 s for functions). */
    timeout: z.coerce.number().int().min(10).max(60_000).optional(),
  })
  .strict()
  .refine((h) => !h.enabled || h.uri, { message: "uri is required when the hook is enabled", path: ["uri"] })
  .refine((h) => !h.uri || /^pg-functions:\/\/[^/]+\/[^/]+\/[^/]+$/.test(h.uri) || /^https?:\/\//.test(h.uri), {
    message: "uri must be pg-functions://postgres/<schema>/<function> or an https:// URL",
    path: ["uri"],
  });

export const hookSchema = z
  .object({
    custom_access_token: hook.prefault({}),
    send_email: hook.prefault({}),
    send_sms: hook.prefault({}),
    password_verification_attempt: hook.prefault({}),
    mfa_verification_attempt: hook.prefault({}),
  })
  .strict()
  .prefault({});

export const pluginsSchema = z
  .object({
    /** Directory of plugin modules (default: <dataDir>/plugins, then ./plugins). */
    dir: z.string().optional(),
    /** Plugins by name not to load. */
    disabled: stringList.default([]),
    /** Milliseconds a plugin hook may take before it counts as failed. */
    hookTimeout: z.coerce.number().int().min(10).max(60_000).default(2000),
    /** Each plugin's own settings, by plugin name (ctx.config). */
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .prefault({});

const upper = (s: string) => s.toUpperCase();

/** The PLINTH_AUTH_EXTERNAL_*, PLINTH_AUTH_LDAP_*, PLINTH_AUTH_HOOK_* and PLINTH_PLUGINS_* variables. */
export const AUTH_EXTENSION_ENV_VARS: EnvVar[] = [
  ...EXTERNAL_PROVIDERS.flatMap((p): EnvVar[] => {
    const pre = `PLINTH_AUTH_EXTERNAL_${upper(p)}`;
    const at = `auth.external.${p}`;
    return [
      { name: `${pre}_ENABLED`, path: `${at}.enabled`, kind: "boolean", description: `Sign-in with ${p}` },
      { name: `${pre}_CLIENT_ID`, path: `${at}.clientId`, kind: "string", description: `${p}: OAuth client ID` },
      { name: `${pre}_SECRET`, path: `${at}.secret`, kind: "string", description: `${p}: OAuth client secret` },
      { name: `${pre}_REDIRECT_URI`, path: `${at}.redirectUri`, kind: "string", description: `${p}: callback URL registered with the provider` },
      { name: `${pre}_SCOPES`, path: `${at}.scopes`, kind: "list", description: `${p}: extra scopes, comma-separated` },
      { name: `${pre}_URL`, path: `${at}.url`, kind: "string", description: `${p}: issuer or base URL (self-hosted)` },
    ];
  }),
  { name: "PLINTH_AUTH_LDAP_ENABLED", path: "auth.ldap.enabled", kind: "boolean", description: "Password sign-in against an LDAP directory" },
  { name: "PLINTH_AUTH_LDAP_URL", path: "auth.ldap.url", kind: "string", description: "LDAP directory URL (ldap:// or ldaps://)" },
  { name: "PLINTH_AUTH_LDAP_BIND_DN", path: "auth.ldap.bindDn", kind: "string", description: "LDAP service account DN" },
  { name: "PLINTH_AUTH_LDAP_BIND_PASSWORD", path: "auth.ldap.bindPassword", kind: "string", description: "LDAP service account password" },
  { name: "PLINTH_AUTH_LDAP_SEARCH_BASE", path: "auth.ldap.searchBase", kind: "string", description: "LDAP base DN of user entries" },
  { name: "PLINTH_AUTH_LDAP_SEARCH_FILTER", path: "auth.ldap.searchFilter", kind: "string", description: "LDAP user filter; {login} is the typed login" },
  { name: "PLINTH_AUTH_LDAP_START_TLS", path: "auth.ldap.startTls", kind: "boolean", description: "LDAP: StartTLS on an ldap:// URL" },
  ...HOOK_NAMES.flatMap((h): EnvVar[] => {
    const pre = `PLINTH_AUTH_HOOK_${upper(h)}`;
    const at = `auth.hook.${h}`;
    return [
      { name: `${pre}_ENABLED`, path: `${at}.enabled`, kind: "boolean", description: `Auth hook ${h}` },
      { name: `${pre}_URI`, path: `${at}.uri`, kind: "string", description: `Auth hook ${h}: pg-functions:// or https:// URI` },
      { name: `${pre}_SECRETS`, path: `${at}.secrets`, kind: "string", description: `Auth hook ${h}: Standard Webhooks secrets (v1,whsec_…), '|'-separated` },
    ];
  }),
  { name: "PLINTH_PLUGINS_DIR", path: "plugins.dir", kind: "string", description: "Directory of plugin modules (default <dataDir>/plugins, then ./plugins)" },
  { name: "PLINTH_PLUGINS_DISABLED", path: "plugins.disabled", kind: "list", description: "Plugins not to load, comma-separated" },
];

type Masker = (s: string) => string;

/** Masks the secrets of these sections in a config copy (plinth config print). */
export function maskAuthExtensions(
  copy: {
    auth: { external: Record<string, { secret?: string }>; ldap: { bindPassword?: string }; hook: Record<string, { secrets: string[] }> };
  },
  mask: Masker,
): void {
  for (const p of Object.values(copy.auth.external)) if (p.secret !== undefined) p.secret = mask(p.secret);
  if (copy.auth.ldap.bindPassword !== undefined) copy.auth.ldap.bindPassword = mask(copy.auth.ldap.bindPassword);
  for (const h of Object.values(copy.auth.hook)) h.secrets = h.secrets.map(mask);
}
