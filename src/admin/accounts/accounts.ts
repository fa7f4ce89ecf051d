// Admin accounts: an auth.users user with a row in plinth.admins. Listing, and the one way a level
// changes (applyLevel), shared by the admin API and the CLI, so both obey the same rules (rules.ts).
//
// Every change runs in one transaction that first takes the advisory lock the database's
// last-system_admin trigger also takes (migration 0012): changes to admins are serialised, and the
// count of system admins the rules see cannot move before the commit. Nothing is cached: each admin
// request reads the account's level again (sessions/store.ts), so a change applies on the next
// request on every node.
import type postgres from "postgres";
import type { Config } from "../../config/schema.ts";
import type { Sql } from "../../db/pool.ts";
import { normaliseEmail, normaliseUsername } from "../../auth/input.ts";
import { assertPasswordAcceptable, hashPassword } from "../../auth/passwords.ts";
import { insertUser, isUuid } from "../../auth/users.ts";
import { ADMIN_LEVELS, actorLevel, levelRank, type AdminActor, type AdminLevel } from "../authorize.ts";
import { AdminErrors } from "../errors.ts";
import { isTableScoped, levelChangeError, normaliseTables } from "./rules.ts";
import { raiseSecurityEvent } from "../security/events.ts";

interface LevelChange {
  userId: string;
  from: AdminLevel | null;
  to: AdminLevel | null;
  tablesFrom: string[];
  tablesTo: string[];
}

/** admin_level_changed, after commit: a level granted, changed or removed, or a moderator's or viewer's tables changed. */
async function levelChangedEvent(sql: Sql, actor: AdminActor, c: LevelChange): Promise<void> {
  const sameTables = c.tablesFrom.length === c.tablesTo.length && c.tablesFrom.every((t) => c.tablesTo.includes(t));
  if (c.from === c.to && sameTables) return;
  const up = c.to !== null && (c.from === null || levelRank(c.to) > levelRank(c.from));
  await raiseSecurityEvent(sql, {
    kind: "admin_level_changed",
    // A new or raised system_admin holds every key to the project.
    severity: up && c.to === "system_admin" ? "critical" : "high",
    userId: c.userId,
    details: {
      from: c.from,
      to: c.to,
      ...(sameTables ? {} : { tables_from: c.tablesFrom, tables_to: c.tablesTo }),
      actor: { kind: actor.kind, admin_id: actor.admin?.id ?? null, email: actor.admin?.email ?? null, os_user: actor.osUser ?? null },
    },
  });
}

type Q = Sql | postgres.TransactionSql;

export interface AdminAccount {
  id: string;
  email: string | null;
  username: string | null;
  level: AdminLevel;
  tables: string[];
  /** Whether the account has a verified TOTP factor (needed to sign in where MFA is required). */
  mfa: boolean;
  created_by: string | null;
  created_via: string;
  created_at: string;
  updated_at: string;
}

interface AccountRow {
  id: string;
  email: string | null;
  username: string | null;
  level: AdminLevel;
  tables: string[];
  mfa: boolean;
  created_by: string | null;
  created_via: string;
  created_at: Date;
  updated_at: Date;
}

const accountOf = (r: AccountRow): AdminAccount => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** The same lock as the trigger's (migration 0012): hashtext('plinth.admins.system_admin'). */
const lockAdmins = (tx: postgres.TransactionSql) => tx`select pg_advisory_xact_lock(hashtext('plinth.admins.system_admin'))`;

async function selectAccounts(q: Q, id: string | null): Promise<AdminAccount[]> {
  const rows = await q<AccountRow[]>`
    select a.user_id as id, u.email, u.username, a.level, a.tables, a.created_by, a.created_via, a.created_at, a.updated_at,
           exists (select 1 from auth.mfa_factors f where f.user_id = a.user_id and f.status = 'verified' and f.factor_type = 'totp') as mfa
    from plinth.admins a join auth.users u on u.id = a.user_id
    where ${id === null ? q`true` : q`a.user_id = ${id}`}
    order by array_position(array['system_admin', 'admin', 'moderator', 'viewer'], a.level), u.email nulls last, a.user_id`;
  return rows.map(accountOf);
}

export const listAdmins = (q: Q): Promise<AdminAccount[]> => selectAccounts(q, null);

export async function getAdmin(q: Q, id: string): Promise<AdminAccount | null> {
  if (!isUuid(id)) return null;
  return (await selectAccounts(q, id))[0] ?? null;
}

/** How an operator names a user: its id, its email or its username. */
export type UserRef = { id: string } | { email: string } | { username: string };

/** Text given on the command line: a UUID is an id, anything with an "@" an email, else a username. */
export function userRefOf(text: string): UserRef {
  const t = text.trim();
  if (isUuid(t as unknown)) return { id: t.toLowerCase() };
  if (t.includes("@")) return { email: normaliseEmail(t) };
  return { username: normaliseUsername(t) };
}

export interface UserSummary {
  id: string;
  email: string | null;
  username: string | null;
}

export async function findUserByRef(q: Q, ref: UserRef): Promise<UserSummary | null> {
  const rows =
    "id" in ref
      ? await q<UserSummary[]>`select id, email, username from auth.users where id = ${ref.id} and deleted_at is null`
      : "email" in ref
        ? await q<UserSummary[]>`select id, email, username from auth.users where email = ${ref.email} and is_sso_user = false and deleted_at is null`
        : await q<UserSummary[]>`select id, email, username from auth.users where username = ${ref.username} and deleted_at is null`;
  return rows[0] ?? null;
}

export interface NewUserInput {
  email?: string;
  username?: string;
  password: string;
}

/** Creates a confirmed user that signs in with a password (an admin made by an operator needs no mail round trip). */
export async function createUser(q: Q, config: Config, input: NewUserInput): Promise<UserSummary> {
  const email = input.email ? normaliseEmail(input.email) : undefined;
  const username = input.username ? normaliseUsername(input.username) : undefined;
  if (!email && !username) throw AdminErrors.validation("A new user needs an email or a username");
  assertPasswordAcceptable(config, input.password);
  try {
    const row = await insertUser(q, { email, username, encryptedPassword: await hashPassword(input.password), emailConfirmed: !!email });
    return { id: row.id, email: row.email, username: row.username };
  } catch (err) {
    if ((err as { code?: string }).code === "23505") throw AdminErrors.conflict("user_exists", "A user with this email or username already exists");
    throw err;
  }
}

export interface LevelRequest {
  /** The level asked for; null removes the admin (the user stays); "keep" changes only the tables. */
  level: AdminLevel | null | "keep";
  /** Assigned tables; undefined keeps them (cleared when the level reaches every table). */
  tables?: readonly string[];
  /** "new": the user must not be an admin yet; "existing": it must be one; "any": either. */
  expect: "new" | "existing" | "any";
  /** "raise"/"lower": refuse a change in the other direction (the CLI's promote and demote). */
  direction?: "raise" | "lower";
}

function createdVia(actor: AdminActor): string {
  return actor.kind === "cli" ? `cli:${actor.osUser ?? "unknown"}` : actor.kind;
}

/**
 * Sets (or removes) the admin level of a user as `actor`, under the rules, in one transaction.
 * `user` is the user's id, or a function that finds (or creates) the user inside that transaction
 * and returns its id, so that a new user a broken rule refuses is not left behind. Returns the
 * account as it is afterwards (null when removed).
 */
export async function applyLevel(
  sql: Sql,
  actor: AdminActor,
  user: string | ((tx: postgres.TransactionSql) => Promise<string>),
  req: LevelRequest,
): Promise<AdminAccount | null> {
  const level = actorLevel(actor);
  if (!level) throw AdminErrors.forbidden();
  let change = null as LevelChange | null;
  try {
    const account = await sql.begin(async (tx) => {
      await lockAdmins(tx);
      const userId = typeof user === "string" ? user : await user(tx);
      if (!isUuid(userId)) throw AdminErrors.notAnAdmin();
      const [current] = await tx<{ level: AdminLevel; tables: string[] }[]>`
        select level, tables from plinth.admins where user_id = ${userId} for update`;
      if (req.expect === "new" && current) throw AdminErrors.adminExists();
      if (req.expect === "existing" && !current) throw AdminErrors.notAnAdmin();
      const from = current?.level ?? null;
      const next = req.level === "keep" ? from : req.level;
      if (!current && next === null) throw AdminErrors.notAnAdmin();
      if (req.direction && from && next) {
        if (req.direction === "raise" && levelRank(next) < levelRank(from)) {
          throw AdminErrors.conflict("not_a_promotion", `The account is a ${from}: ${next} would be a demotion`);
        }
        if (req.direction === "lower" && levelRank(next) > levelRank(from)) {
          throw AdminErrors.conflict("not_a_demotion", `The account is a ${from}: ${next} would be a promotion`);
        }
      }
      const [count] = await tx<{ n: number }[]>`select count(*)::int as n from plinth.admins where level = 'system_admin'`;
      const broken = levelChangeError({
        actor: { level, id: actor.admin?.id ?? null },
        target: { id: userId, level: from },
        next,
        systemAdmins: count!.n,
      });
      if (broken) throw broken;
      if (next === null) {
        await tx`delete from plinth.admins where user_id = ${userId}`;
        change = { userId, from, to: null, tablesFrom: current?.tables ?? [], tablesTo: [] };
        return null;
      }
      const tables = req.tables !== undefined ? normaliseTables(next, req.tables) : isTableScoped(next) ? (current?.tables ?? []) : [];
      change = { userId, from, to: next, tablesFrom: current?.tables ?? [], tablesTo: tables };
      await tx`
        insert into plinth.admins (user_id, level, tables, created_by, created_via)
        values (${userId}, ${next}, ${tables}::text[], ${actor.admin?.id ?? null}, ${createdVia(actor)})
        on conflict (user_id) do update set level = excluded.level, tables = excluded.tables, updated_at = now()`;
      return (await selectAccounts(tx, userId))[0]!;
    });
    if (change) await levelChangedEvent(sql, actor, change);
    return account;
  } catch (err) {
    // The trigger's verdict, for a change the rules above let through (they cannot, under the lock;
    // kept so the answer is the same code whatever happens).
    const pg = err as { code?: string; constraint_name?: string };
    if (pg.code === "23514" && pg.constraint_name === "last_system_admin") throw AdminErrors.lastSystemAdmin();
    throw err;
  }
}

export interface GrantInput {
  user: UserRef;
  level: AdminLevel;
  tables?: readonly string[];
  /** Creates the user when nobody has this email or username yet, with this password. */
  password?: string;
  /** The username a new user gets besides its email (or an existing user without one). */
  username?: string;
  /** What a password means for a user that exists: refused (the API), or set (the CLI's --password-stdin). */
  existingPassword: "refuse" | "set";
  expect: "new" | "any";
  direction?: "raise";
}

/**
 * Makes a user an admin at `level`, creating the user first when it does not exist and a password
 * is given: the admin API's POST /admins and the CLI's create-system-admin and promote.
 */
export async function grantAdmin(
  sql: Sql,
  config: Config,
  actor: AdminActor,
  g: GrantInput,
): Promise<{ account: AdminAccount; createdUser: boolean; passwordSet: boolean }> {
  let createdUser = false;
  let passwordSet = false;
  const account = await applyLevel(
    sql,
    actor,
    async (tx) => {
      const found = await findUserByRef(tx, g.user);
      if (!found) {
        if (g.password === undefined || "id" in g.user) throw AdminErrors.userNotFound();
        const email = "email" in g.user ? g.user.email : undefined;
        const username = "username" in g.user ? g.user.username : g.username;
        createdUser = true;
        return (await createUser(tx, config, { email, username, password: g.password })).id;
      }
      if (g.username !== undefined) {
        const wanted = normaliseUsername(g.username);
        if (found.username && found.username !== wanted) {
          throw AdminErrors.conflict("username_differs", `This user's username is ${found.username}, not ${wanted}`);
        }
        if (!found.username) await setUsername(tx, found.id, wanted);
      }
      if (g.password !== undefined) {
        if (g.existingPassword === "refuse") throw AdminErrors.validation("This user exists: a password is only for creating a new user");
        assertPasswordAcceptable(config, g.password);
        await tx`update auth.users set encrypted_password = ${await hashPassword(g.password)}, updated_at = now() where id = ${found.id}`;
        passwordSet = true;
      }
      return found.id;
    },
    { level: g.level, tables: g.tables, expect: g.expect, direction: g.direction },
  );
  return { account: account!, createdUser, passwordSet };
}

async function setUsername(tx: postgres.TransactionSql, id: string, username: string): Promise<void> {
  try {
    await tx`update auth.users set username = ${username}, updated_at = now() where id = ${id}`;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") throw AdminErrors.conflict("user_exists", "This username is taken");
    throw err;
  }
}

/** The next level down (demote without --level), or null at the bottom. */
export function levelBelow(level: AdminLevel): AdminLevel | null {
  return ADMIN_LEVELS[ADMIN_LEVELS.indexOf(level) + 1] ?? null;
}
