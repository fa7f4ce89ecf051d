// Turns the request's keys into a Principal. The `apikey` (header, or query for websockets) names the
// project; `Authorization: Bearer` names the caller and wins when present. Both must verify. Keys are
// JWTs (a user's session, the legacy anon/service_role keys: verified against the project's signing
// keys) or opaque API keys (`sb_publishable_…`, `sb_secret_…`, `sb_scoped_…`: looked up by hash).
// Which keys exist and which are revoked is the node's key ring (src/keys/ring.ts), handed in as
// `Credentials` (http/ imports no feature).
import { verifyJwt, type JwtFailure, type JwtResult } from "../lib/jwt.ts";
import { isApiRole, type Principal } from "../db/pool.ts";

export type ApiKeyFailure = "unknown_api_key" | "api_key_revoked" | "api_key_expired";
export type KeyFailure = JwtFailure | ApiKeyFailure | "missing" | "bad_role" | "bad_scheme";

/** What an opaque API key grants (the key ring's ApiKeyGrant). */
export interface KeyGrant {
  id: string;
  name: string;
  kind: "publishable" | "secret" | "scoped";
  /** Scoped keys only: what the key may reach (src/lib/scopes.ts); null for every API. */
  scopes: ReadonlySet<string> | null;
  principal: Principal;
}

/** The node's keys, as the gateway needs them. */
export interface Credentials {
  /** Changes whenever any key changes: verdicts cached under another generation are void. */
  readonly generation: number;
  readonly isLoaded: boolean;
  ready(): Promise<void>;
  verify(token: string): Promise<JwtResult>;
  apiKey(token: string): { ok: true; grant: KeyGrant } | { ok: false; reason: ApiKeyFailure };
}

/** A node without a key ring (benches, tools): the legacy HS256 secret alone. */
export function legacyCredentials(secret: string): Credentials {
  return {
    generation: 0,
    isLoaded: true,
    ready: async () => {},
    verify: (token) => verifyJwt(token, secret),
    apiKey: () => ({ ok: false, reason: "unknown_api_key" }),
  };
}

export type PrincipalResult = { ok: true; principal: Principal | null; grant?: KeyGrant } | { ok: false; reason: KeyFailure };

export function bearerToken(header: string | null): string | null | undefined {
  if (header === null) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : undefined; // undefined: present but not a bearer token
}

/**
 * Tokens that verified, so a client sending the same session token again costs one map lookup
 * instead of a signature check and two JSON parses. Keyed by the whole token (a changed signature is
 * a different key); an entry holds only for the node's credentials and generation it was verified
 * under (any key change voids it), and expiry is checked on every hit. Only valid tokens enter it,
 * so it cannot be filled by forgeries; the oldest entry leaves when it is full.
 */
const verified = new Map<string, { creds: Credentials; generation: number; principal: Principal; exp: number | undefined }>();
const VERIFIED_MAX = 4096;
const LEEWAY_SECONDS = 30; // the verifier's clock-skew allowance

const OK_NONE: PrincipalResult = { ok: true, principal: null };

function principalFromToken(token: string, creds: Credentials): PrincipalResult | Promise<PrincipalResult> {
  if (token.startsWith("sb_")) {
    if (!creds.isLoaded) return creds.ready().then(() => fromApiKey(token, creds));
    return fromApiKey(token, creds);
  }
  const hit = verified.get(token);
  if (hit && hit.creds === creds && hit.generation === creds.generation && (hit.exp === undefined || hit.exp + LEEWAY_SECONDS >= Date.now() / 1000)) {
    return { ok: true, principal: hit.principal };
  }
  if (hit) verified.delete(token);
  const generation = creds.generation;
  return creds.verify(token).then((v): PrincipalResult => {
    if (!v.ok) return v;
    const role = v.claims.role;
    if (!isApiRole(role)) return { ok: false, reason: "bad_role" };
    // Shared by every request that presents this token: frozen, so no handler can change another's.
    const claims = Object.freeze(v.claims);
    const principal: Principal = Object.freeze({ role, claims, claimsJson: JSON.stringify(claims) });
    // A key change while verifying: answer, but do not cache under the new generation.
    if (generation === creds.generation) {
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
      verified.set(token, { creds, generation, principal, exp: typeof claims.exp === "number" ? claims.exp : undefined });
    }
    return { ok: true, principal };
  });
}

function fromApiKey(token: string, creds: Credentials): PrincipalResult {
  const r = creds.apiKey(token);
  return r.ok ? { ok: true, principal: r.grant.principal, grant: r.grant } : r;
}

/** The bearer's principal wins; a scoped apikey's scopes still bind a request that also carries a user token. */
function combine(a: PrincipalResult, b: PrincipalResult | null): PrincipalResult {
  if (!a.ok) return a;
  if (!b) return a;
  if (!b.ok) return b;
  const grant = a.grant?.scopes ? a.grant : (b.grant ?? a.grant);
  return grant ? { ok: true, principal: b.principal, grant } : { ok: true, principal: b.principal };
}

/**
 * Resolves keys; `principal: null` means no key at all was given (the caller decides if that's ok).
 * Synchronous when every key was cached (the hot path); a Promise when a signature must be checked.
 */
export function resolvePrincipal(req: Request, url: URL, creds: Credentials): PrincipalResult | Promise<PrincipalResult> {
  const apikey = req.headers.get("apikey") ?? req.headers.get("x-api-key") ?? url.searchParams.get("apikey");
  const bearer = bearerToken(req.headers.get("authorization"));
  if (bearer === undefined) return { ok: false, reason: "bad_scheme" };
  const a = apikey ? principalFromToken(apikey, creds) : OK_NONE;
  const b = bearer ? (bearer === apikey ? null : principalFromToken(bearer, creds)) : null;
  if (a instanceof Promise || b instanceof Promise) return Promise.all([a, b]).then(([x, y]) => combine(x, y));
  return combine(a, b);
}

export const keyFailureMessage: Record<KeyFailure, string> = {
  missing: "No API key found in request",
  malformed: "Invalid JWT: malformed token",
  bad_signature: "Invalid JWT: signature verification failed",
  unsupported_alg: "Invalid JWT: unsupported algorithm",
  expired: "JWT expired",
  not_yet_valid: "JWT not yet valid",
  unknown_kid: "Invalid JWT: no signing key with this kid",
  key_revoked: "Invalid JWT: its signing key was revoked",
  legacy_key_disabled: "Legacy API keys are disabled for this project: use a publishable or secret key",
  bad_role: "JWT role is not an API role (anon, authenticated, service_role)",
  bad_scheme: "Authorization header must use the Bearer scheme",
  unknown_api_key: "Invalid API key",
  api_key_revoked: "This API key was revoked",
  api_key_expired: "This API key has expired",
};

/** The stable code each failure answers with (401). */
export const keyFailureCode: Record<KeyFailure, string> = {
  missing: "no_api_key",
  malformed: "invalid_jwt",
  bad_signature: "invalid_jwt",
  unsupported_alg: "invalid_jwt",
  expired: "jwt_expired",
  not_yet_valid: "invalid_jwt",
  unknown_kid: "invalid_jwt",
  key_revoked: "signing_key_revoked",
  legacy_key_disabled: "legacy_api_keys_disabled",
  bad_role: "invalid_jwt",
  bad_scheme: "invalid_jwt",
  unknown_api_key: "invalid_api_key",
  api_key_revoked: "api_key_revoked",
  api_key_expired: "api_key_expired",
};
