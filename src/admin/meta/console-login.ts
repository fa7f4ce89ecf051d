// The SQL console's connections: a small pool that logs in as plinth_console (migration 0010), so
// the SESSION user of every console statement is a role without superuser, server-file, program,
// replication or role-administration rights. No `reset role`, `set role postgres` or `set session
// authorization` can climb from there: PostgreSQL checks them against the session user.
//
// Traps:
// - The role is cluster-wide, its password is kept per database (plinth.console_login). Another
//   database of the same cluster migrating later sets the role's password to its own; the first
//   login that fails (28P01) therefore sets ours again (plinth.console_login_reset) and retries once.
// - The password is read from the table for every new connection (postgres.js calls `password`
//   then), never kept in this process longer than a login takes, and never logged.
// - Before the console runs anything, the role is checked: session user plinth_console, not a
//   superuser, no REPLICATION/CREATEROLE, no file or program roles, not a member of the role that
//   owns the audit log. A deployment that got any of that wrong gets a 503, never a superuser console.
// - No named prepared statements, so DISCARD ALL after each request can wipe whatever session state
//   the caller's SQL left behind (see sql-console.ts).
import postgres from "postgres";
import type { Sql } from "../../db/pool.ts";
import { AdminError, postgresErrorOf } from "../errors.ts";
import type { Logger } from "../../log.ts";

export const CONSOLE_ROLE = "plinth_console";

export interface ConsoleDb {
  /** The console's pool; use only after ready(). */
  readonly sql: Sql;
  /** Logs in (setting the role's password when another database changed it) and checks the role. */
  ready(): Promise<void>;
  /** After a login refused mid-request: the next ready() sets the password again and checks afresh. */
  loginFailed(): void;
  end(): Promise<void>;
}

/**
 * True when the session is the console role and that role is still harmless. Evaluated on the
 * request's own connection with its first query (sql-console.ts), so a role changed since the pool
 * logged in is noticed before any statement of the caller runs.
 */
export const CONSOLE_ROLE_IS_SAFE = `(select session_user = '${CONSOLE_ROLE}'
    and not (r.rolsuper or r.rolreplication or r.rolcreaterole)
    and not pg_has_role(session_user, 'pg_read_server_files', 'MEMBER')
    and not pg_has_role(session_user, 'pg_write_server_files', 'MEMBER')
    and not pg_has_role(session_user, 'pg_execute_server_program', 'MEMBER')
    from pg_roles r where r.rolname = session_user)`;

export const unsafeConsoleRole = () =>
  new AdminError(503, "console_unavailable", "The SQL console refuses to run: its database role is not the unprivileged plinth_console");

interface RoleCheck {
  session_user: string;
  rolsuper: boolean;
  rolreplication: boolean;
  rolcreaterole: boolean;
  file_access: boolean;
  owns_audit: boolean;
}

const unavailable = (message: string) => new AdminError(503, "console_unavailable", message);

export function openConsoleDb(ownerSql: Sql, dbUrl: string, log: Logger): ConsoleDb {
  const url = new URL(dbUrl);
  url.username = CONSOLE_ROLE;
  url.password = "";
  const sql = postgres(url.toString(), {
    max: 2,
    prepare: false,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: "plinth-console" },
    password: async () => {
      const [row] = await ownerSql<{ password: string }[]>`select password from plinth.console_login`;
      if (!row) throw unavailable("The SQL console has no login (system migration 0010 not applied)");
      return row.password;
    },
  });
  let checked: Promise<void> | null = null;
  let resetFirst = false;
  const reset = () => ownerSql`select plinth.console_login_reset()`;

  async function check(): Promise<void> {
    if (resetFirst) {
      // A pooled connection may still be logged in and pass the check below; the new one was not.
      await reset();
      resetFirst = false;
    }
    let role: RoleCheck | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        [role] = await sql<RoleCheck[]>`
          select session_user::text as session_user, r.rolsuper, r.rolreplication, r.rolcreaterole,
                 pg_has_role(session_user, 'pg_read_server_files', 'MEMBER')
                   or pg_has_role(session_user, 'pg_write_server_files', 'MEMBER')
                   or pg_has_role(session_user, 'pg_execute_server_program', 'MEMBER') as file_access,
                 exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                         where n.nspname = 'plinth' and c.relname = 'audit_log'
                           and pg_has_role(session_user, c.relowner, 'MEMBER')) as owns_audit
          from pg_roles r where r.rolname = session_user`;
        break;
      } catch (err) {
        const code = postgresErrorOf(err)?.code;
        // 28P01: wrong password (another database reset it); 28000: the role may not log in yet.
        if (attempt > 0 || (code !== "28P01" && code !== "28000")) throw err;
        await reset();
      }
    }
    const unsafe = !role
      ? "its role is missing"
      : role.session_user !== CONSOLE_ROLE
        ? `the session user is ${role.session_user}`
        : role.rolsuper
          ? "its role is a superuser"
          : role.rolreplication || role.rolcreaterole
            ? "its role has REPLICATION or CREATEROLE"
            : role.file_access
              ? "its role may read or write server files or run programs"
              : role.owns_audit
                ? "its role owns the audit log"
                : null;
    if (unsafe) {
      log.error("sql console: refusing to run with an unsafe role", { role: CONSOLE_ROLE, reason: unsafe });
      throw unavailable(`The SQL console refuses to run: ${unsafe}`);
    }
  }

  return {
    sql,
    ready() {
      checked ??= check().catch((err) => {
        checked = null;
        if (err instanceof AdminError) throw err;
        log.error("sql console: cannot log in as its role", { role: CONSOLE_ROLE, error: err });
        throw unavailable("The SQL console cannot log in to the database as its own role");
      });
      return checked;
    },
    loginFailed() {
      checked = null;
      resetFirst = true;
    },
    end: () => sql.end({ timeout: 5 }),
  };
}
