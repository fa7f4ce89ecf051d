// Who may do what on the admin API, in one place. Every /admin/v1 route names one capability; a
// route over a table's rows also names the table (authorizeTable). The caller is an AdminActor:
// the service_role key (the machine's identity: everything, audited as such), a named admin
// account signed in with an admin session (its level decides the capabilities; moderators and
// viewers only reach the tables assigned to them), an emergency-access session, or the CLI acting
// with local access (both a system_admin that is no account). What an actor may do to other admin
// accounts (the rules of levels) is src/admin/accounts/rules.ts.
import type { Principal } from "../db/pool.ts";
import { AdminErrors } from "./errors.ts";

export const CAPABILITIES = [
  /** Read the schema: schemas, tables, columns, policies, relationships, migrations status. */
  "meta:read",
  /** Change the schema and policies (table editor, policy editor, migrations). */
  "meta:write",
  /** The free-form SQL console. */
  "sql:run",
  /** The whole audit log. */
  "audit:read",
  /** The audit entries the caller itself caused. */
  "audit:read_own",
  /** Rows of tables (all tables, or the assigned ones: see authorizeTable). */
  "rows:read",
  "rows:write",
  /** End users: list and read; ban, unban, sign out, reset password. */
  "users:read",
  "users:manage",
  /** End users: create, invite, delete (admin and system_admin only). */
  "users:admin",
  /** Admin accounts below system_admin: list, create, change level or tables, remove. */
  "admins:manage",
  /** System admins themselves (create, promote to, demote from system_admin), and every admin's sessions. */
  "admins:manage_system",
  /** Security events and brute-force locks: read. */
  "security:read",
  /** Security settings and events, keys; clearing brute-force locks. */
  "security:manage",
  /** The server's live numbers (GET /admin/v1/stats: rates, pool, database size, replication, storage). */
  "stats:read",
  /** The server's recent log lines (GET /admin/v1/logs). */
  "logs:read",
  /** Backups taken by the server (/admin/v1/backups): start, cancel, list, download, delete. An archive
   * holds every secret of the deployment (jwt_secret, the superuser password), so system_admin only. */
  "backups:manage",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Admin levels, highest first. */
export const ADMIN_LEVELS = ["system_admin", "admin", "moderator", "viewer"] as const;
export type AdminLevel = (typeof ADMIN_LEVELS)[number];

/** Higher number: more power. */
export const levelRank = (l: AdminLevel): number => ADMIN_LEVELS.length - ADMIN_LEVELS.indexOf(l);

const ALL: ReadonlySet<Capability> = new Set(CAPABILITIES);
const NONE: ReadonlySet<Capability> = new Set();

/** What each level may do (the table). Tables-scoped capabilities are further limited by authorizeTable. */
export const LEVEL_CAPABILITIES: Record<AdminLevel, ReadonlySet<Capability>> = {
  system_admin: ALL,
  admin: new Set(CAPABILITIES.filter((c) => c !== "admins:manage_system" && c !== "backups:manage")),
  moderator: new Set<Capability>(["meta:read", "rows:read", "rows:write", "users:read", "users:manage", "audit:read_own"]),
  viewer: new Set<Capability>(["meta:read", "rows:read"]),
};

/** How the caller identified itself, as recorded in the audit log. */
export type ActorKind = "service_key" | "admin_session" | "emergency" | "anon_key" | "user_token" | "cli" | "none";

export interface AdminActor {
  role: string;
  kind: ActorKind;
  /** The JWT `sub`, or the admin account's user id. */
  sub: string | null;
  capabilities: ReadonlySet<Capability>;
  /** The admin account behind an admin session (or the CLI), null for keys. */
  admin: { id: string; email: string | null; level: AdminLevel; sessionId: string | null } | null;
  /** Tables ("schema.table") whose rows this actor may reach; "all" for system_admin, admin and keys. */
  tables: ReadonlySet<string> | "all";
  /** The OS user who ran a CLI command (kind "cli"). */
  osUser?: string;
  /** An emergency-access session (kind "emergency"): a system_admin that is no account. */
  emergency?: { sessionId: string; codeId: string };
}

/** The actor a principal stands for (even when it may do nothing: the audit log names it). */
export function actorOf(principal: Principal | null): AdminActor {
  if (!principal) return { role: "none", kind: "none", sub: null, capabilities: NONE, admin: null, tables: new Set() };
  const sub = typeof principal.claims.sub === "string" ? principal.claims.sub : null;
  switch (principal.role) {
    case "service_role":
      return { role: principal.role, kind: "service_key", sub, capabilities: ALL, admin: null, tables: "all" };
    case "authenticated":
      return { role: principal.role, kind: "user_token", sub, capabilities: NONE, admin: null, tables: new Set() };
    default:
      return { role: principal.role, kind: sub ? "user_token" : "anon_key", sub, capabilities: NONE, admin: null, tables: new Set() };
  }
}

/** The actor of a signed-in admin account (an admin session, or the CLI acting with local access). */
export function adminActor(
  account: { id: string; email: string | null; level: AdminLevel; tables: readonly string[] },
  kind: "admin_session" | "cli",
  sessionId: string | null,
): AdminActor {
  const wide = account.level === "system_admin" || account.level === "admin";
  return {
    role: "admin",
    kind,
    sub: account.id,
    capabilities: LEVEL_CAPABILITIES[account.level],
    admin: { id: account.id, email: account.email, level: account.level, sessionId },
    tables: wide ? "all" : new Set(account.tables),
  };
}

/**
 * Refuses an actor that lacks `capability`: 401 when the caller is not signed in as anyone who
 * could ever be an admin (no key, the anon key), 403 when it is a known caller without the right.
 */
export function authorizeAdmin(actor: AdminActor, capability: Capability): void {
  if (actor.capabilities.has(capability)) return;
  if (actor.kind === "none" || actor.kind === "anon_key") throw AdminErrors.unauthorized();
  throw AdminErrors.forbidden();
}

/** Whether the actor may reach the rows of `schema.table` at all (listings hide the others). */
export function canReachTable(actor: AdminActor, schema: string, table: string): boolean {
  return actor.tables === "all" || actor.tables.has(`${schema}.${table}`);
}

/**
 * authorizeAdmin, plus: the table is one the actor may reach. A table outside a moderator's or
 * viewer's assignment answers 403 `table_not_assigned`, whether or not it exists (nothing leaks).
 */
export function authorizeTable(actor: AdminActor, capability: Capability, schema: string, table: string): void {
  authorizeAdmin(actor, capability);
  if (!canReachTable(actor, schema, table)) throw AdminErrors.tableNotAssigned();
}

/** The CLI acting with local access: a system_admin that is no account, recorded with the OS user. */
export function cliActor(osUser: string): AdminActor {
  return { role: "cli", kind: "cli", sub: null, capabilities: ALL, admin: null, tables: "all", osUser };
}

/** An emergency-access session: signed in once with a code from `plinth emergency-access`. */
export function emergencyActor(sessionId: string, codeId: string): AdminActor {
  return { role: "admin", kind: "emergency", sub: null, capabilities: ALL, admin: null, tables: "all", emergency: { sessionId, codeId } };
}

/**
 * The level an actor acts with when it manages admins: an account's own level; the machine's
 * identities (the service_role key, the CLI, an emergency session) act as system_admin; anyone else
 * as no level at all.
 */
export function actorLevel(actor: AdminActor): AdminLevel | null {
  if (actor.admin) return actor.admin.level;
  return actor.capabilities.has("admins:manage_system") ? "system_admin" : null;
}

/** Refuses a caller that is no admin-plane identity at all (routes every admin may use: who am I, sign out). */
export function authorizeSignedIn(actor: AdminActor): void {
  if (actor.admin || actor.capabilities.size > 0) return;
  if (actor.kind === "none" || actor.kind === "anon_key") throw AdminErrors.unauthorized();
  throw AdminErrors.forbidden();
}
