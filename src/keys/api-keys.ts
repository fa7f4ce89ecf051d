// API keys in the database (plinth.api_keys, migration 0017): Supabase's publishable keys
// (`sb_publishable_…`, act as anon) and secret keys (`sb_secret_…`, act as service_role), and
// Plinth's scoped keys (`sb_scoped_…`: a role, scopes, an expiry). Shared by the CLI and the admin
// API; every change raises a security event here and is audited by the caller.
//
// The secret is 32 random bytes, shown once; only its sha256 is stored (256 bits need no slow
// hash), with its first characters (`prefix`) so an operator can tell which key a leaked string
// is. Rotation makes a new secret under the same name and lets the old one work until the overlap
// ends (its expires_at); revocation is immediate on every node (the change notifies `plinth_keys`).
import { createHash, randomBytes } from "node:crypto";
import type postgres from "postgres";
import { raiseSecurityEvent, type SecuritySeverity } from "../admin/security/events.ts";
import { isApiRole, type ApiRole, type Sql } from "../db/pool.ts";
import { PlinthError } from "../errors.ts";
import { scopeProblem } from "../lib/scopes.ts";

export type ApiKeyKind = "publishable" | "secret" | "scoped";
export const API_KEY_KINDS: readonly ApiKeyKind[] = ["publishable", "secret", "scoped"];
export const KEY_PREFIX: Record<ApiKeyKind, string> = { publishable: "sb_publishable_", secret: "sb_secret_", scoped: "sb_scoped_" };

export const apiKeyHash = (key: string): string => createHash("sha256").update(key).digest("hex");

export interface ApiKeyRow {
  id: string;
  name: string;
  kind: ApiKeyKind;
  prefix: string;
  secret_hash: string;
  role: ApiRole;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  superseded_at: Date | null;
  last_used_at: Date | null;
  request_count: string | number;
}

export function apiKeyStatus(
  r: Pick<ApiKeyRow, "revoked_at" | "expires_at" | "superseded_at">,
  now = Date.now(),
): "active" | "overlap" | "expired" | "revoked" {
  if (r.revoked_at) return "revoked";
  if (r.expires_at && r.expires_at.getTime() <= now) return "expired";
  return r.superseded_at ? "overlap" : "active";
}

/** The listing shape (CLI --json and the admin API); never the secret or its hash. */
export function apiKeyJson(r: ApiKeyRow, pending?: { n: number; last: number }) {
  const lastUsed = Math.max(r.last_used_at?.getTime() ?? 0, pending?.last ?? 0);
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    prefix: r.prefix,
    role: r.role,
    scopes: r.scopes,
    status: apiKeyStatus(r),
    created_at: r.created_at.toISOString(),
    expires_at: r.expires_at?.toISOString() ?? null,
    revoked_at: r.revoked_at?.toISOString() ?? null,
    last_used_at: lastUsed ? new Date(lastUsed).toISOString() : null,
    request_count: Number(r.request_count) + (pending?.n ?? 0),
  };
}

export const ApiKeyErrors = {
  validation: (message: string) => new PlinthError(400, "validation_failed", message),
  notFound: (name: string) => new PlinthError(404, "api_key_not_found", `No live API key named '${name.slice(0, 80)}'`),
  exists: (name: string) => new PlinthError(409, "api_key_exists", `A live API key named '${name.slice(0, 80)}' exists: rotate or revoke it`),
};

export interface CreateApiKey {
  name: string;
  kind: ApiKeyKind;
  scopes?: string[];
  role?: string;
  /** Seconds from now; absent: no expiry. */
  expiresIn?: number | null;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Durations such as 30d, 24h, 15m, 90s, 0 (seconds). */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  if (!m) return null;
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as "" | "s" | "m" | "h" | "d" | "w"];
  return Number(m[1]) * unit;
}

/** Checks and fills in a creation request (role defaults by kind; scopes only on scoped keys). */
export function validateCreate(input: CreateApiKey): Required<CreateApiKey> {
  const { name, kind } = input;
  if (typeof name !== "string" || !NAME_RE.test(name))
    throw ApiKeyErrors.validation("name: 1-64 characters of letters, digits, _ . - (starting with a letter or digit)");
  if (!API_KEY_KINDS.includes(kind)) throw ApiKeyErrors.validation("kind: publishable, secret or scoped");
  const scopes = input.scopes ?? [];
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== "string")) throw ApiKeyErrors.validation("scopes: a list of strings");
  if (scopes.length > 100) throw ApiKeyErrors.validation("scopes: at most 100");
  let role: string;
  if (kind === "scoped") {
    if (scopes.length === 0) throw ApiKeyErrors.validation("A scoped key needs at least one scope (--scopes a,b)");
    for (const s of scopes) {
      const problem = scopeProblem(s);
      if (problem) throw ApiKeyErrors.validation(problem);
    }
    role = input.role ?? "anon";
    if (!isApiRole(role)) throw ApiKeyErrors.validation("role: anon, authenticated or service_role");
  } else {
    if (scopes.length > 0) throw ApiKeyErrors.validation("Only scoped keys take scopes");
    const own = kind === "publishable" ? "anon" : "service_role";
    if (input.role !== undefined && input.role !== own) throw ApiKeyErrors.validation(`A ${kind} key acts as ${own}`);
    role = own;
  }
  const expiresIn = input.expiresIn ?? null;
  if (expiresIn !== null && (!Number.isInteger(expiresIn) || expiresIn <= 0 || expiresIn > 10 * 365 * 86400)) {
    throw ApiKeyErrors.validation("expires: a duration such as 30d (at most 10 years)");
  }
  return { name, kind, scopes: [...new Set(scopes)], role, expiresIn };
}

function newSecret(kind: ApiKeyKind): { key: string; prefix: string; hash: string } {
  const key = KEY_PREFIX[kind] + randomBytes(32).toString("base64url");
  return { key, prefix: key.slice(0, KEY_PREFIX[kind].length + 6), hash: apiKeyHash(key) };
}

const SEVERITY: Record<ApiKeyKind, SecuritySeverity> = { publishable: "low", secret: "high", scoped: "medium" };
type Log = { warn(msg: string, f?: object): void };

export async function listApiKeys(sql: Sql | postgres.TransactionSql, opts: { all?: boolean } = {}): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    select * from plinth.api_keys
    where ${opts.all ? sql`true` : sql`revoked_at is null and (expires_at is null or expires_at > now())`}
    order by name, created_at desc`;
}

/** Creates a key; the answer holds the secret, the only time it is ever shown. */
export async function createApiKey(sql: Sql, input: CreateApiKey, log?: Log) {
  const v = validateCreate(input);
  const s = newSecret(v.kind);
  let row: ApiKeyRow | undefined;
  try {
    [row] = await sql<ApiKeyRow[]>`
      insert into plinth.api_keys (name, kind, prefix, secret_hash, role, scopes, expires_at)
      values (${v.name}, ${v.kind}, ${s.prefix}, ${s.hash}, ${v.role}, ${v.scopes},
              ${v.expiresIn === null ? null : sql`now() + make_interval(secs => ${v.expiresIn})`})
      returning *`;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") throw ApiKeyErrors.exists(v.name);
    throw err;
  }
  await raiseSecurityEvent(
    sql,
    {
      kind: "key_created",
      severity: v.kind === "scoped" && v.role === "service_role" ? "high" : SEVERITY[v.kind],
      details: { key: "api", id: row!.id, name: v.name, kind: v.kind, role: v.role, scopes: v.scopes },
    },
    log,
  );
  return { ...apiKeyJson(row!), key: s.key };
}

/**
 * A new secret for the live key named `name`; the old one keeps working for `overlapSeconds`
 * (never longer than it would have anyway), then answers 401 api_key_expired.
 */
export async function rotateApiKey(sql: Sql, name: string, overlapSeconds: number, log?: Log) {
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > 30 * 86400) {
    throw ApiKeyErrors.validation("overlap: a duration such as 24h (at most 30d)");
  }
  const result = await sql.begin(async (tx) => {
    const [old] = await tx<ApiKeyRow[]>`
      select * from plinth.api_keys where name = ${name} and revoked_at is null and superseded_at is null for update`;
    if (!old) throw ApiKeyErrors.notFound(name);
    const fresh = newSecret(old.kind);
    await tx`
      update plinth.api_keys set superseded_at = now(),
        expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => ${overlapSeconds}))
      where id = ${old.id}`;
    const [row] = await tx<ApiKeyRow[]>`
      insert into plinth.api_keys (name, kind, prefix, secret_hash, role, scopes, expires_at, rotated_from)
      values (${old.name}, ${old.kind}, ${fresh.prefix}, ${fresh.hash}, ${old.role}, ${old.scopes}, ${old.expires_at}, ${old.id})
      returning *`;
    return { row: row!, key: fresh.key, old };
  });
  await raiseSecurityEvent(
    sql,
    {
      kind: "key_created",
      severity: SEVERITY[result.row.kind],
      details: { key: "api", action: "rotate", id: result.row.id, name, replaces: result.old.id, overlap_seconds: overlapSeconds },
    },
    log,
  );
  return {
    ...apiKeyJson(result.row),
    key: result.key,
    replaces: result.old.id,
    old_key_expires_at: new Date(Date.now() + overlapSeconds * 1000).toISOString(),
  };
}

/** Revokes the key with this id, or every unrevoked key with this name (the live one and any still in overlap). */
export async function revokeApiKey(sql: Sql, nameOrId: string, log?: Log) {
  const byId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nameOrId);
  const rows = await sql<{ id: string; name: string; kind: ApiKeyKind }[]>`
    update plinth.api_keys set revoked_at = now()
    where revoked_at is null and ${byId ? sql`id = ${nameOrId}` : sql`name = ${nameOrId}`}
    returning id, name, kind`;
  if (rows.length === 0) throw ApiKeyErrors.notFound(nameOrId);
  for (const r of rows) {
    await raiseSecurityEvent(sql, { kind: "key_revoked", severity: SEVERITY[r.kind], details: { key: "api", id: r.id, name: r.name, kind: r.kind } }, log);
  }
  return { revoked: rows.map((r) => ({ id: r.id, name: r.name, kind: r.kind })) };
}

/** Turns the legacy JWT anon/service_role keys on or off (every node, within a second). */
export async function setLegacyApiKeys(sql: Sql, enabled: boolean, log?: Log) {
  await sql`update plinth.key_state set legacy_api_keys = ${enabled}, version = version + 1 where id`;
  await raiseSecurityEvent(sql, { kind: enabled ? "key_created" : "key_revoked", severity: "high", details: { key: "legacy_api_keys", enabled } }, log);
  return { legacy_api_keys: enabled };
}

export async function legacyApiKeysEnabled(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ legacy_api_keys: boolean }[]>`select legacy_api_keys from plinth.key_state`;
  return row?.legacy_api_keys ?? true;
}
