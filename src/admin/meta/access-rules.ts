// The guard's rules about access (issue 11), on parse-tree nodes: what reaches outside the database
// or changes who the console is (refused outright, `confirm` or not), and what opens the data to
// the API's clients (needs `confirm`). Pure; guard.ts walks the tree and calls these per node.
//
// The console's database role (plinth_console, see console-login.ts) lacks the privileges for
// everything refused here: these rules are the second lock and the readable error, not the only one.
//
// Traps:
// - Functions are matched by their last name part, whatever the schema: `pg_catalog.pg_read_file`
//   and a look-alike `public.pg_read_file` are both refused (the look-alike is harmless to refuse).
// - `set_config('role', …)` is SET ROLE in function form; a name that is not a constant cannot be
//   checked and is refused.
// - ALTER ROLE/DATABASE … SET carries its setting as a bare VariableSetStmt body (`setstmt`).
// - RESET ALL leaves the role as it is (role is never reset by it); DISCARD ALL returns to the
//   session user, which is the console role itself. Both are allowed.

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const REFUSED_KINDS = ["server_file_access", "role_change", "replication_role"] as const;
export type RefusedKind = (typeof REFUSED_KINDS)[number];

export interface Rule<K extends string> {
  kind: K;
  reason: string;
}

/** The roles a console session may step down into (to see what a client would). */
const API_ROLES = new Set(["anon", "authenticated", "service_role"]);

/** Server files, programs and other servers: never from the console. */
const FILE_FUNCTIONS = new Set([
  "pg_read_file",
  "pg_read_binary_file",
  "pg_stat_file",
  "pg_ls_dir",
  "pg_ls_logdir",
  "pg_ls_waldir",
  "pg_ls_tmpdir",
  "pg_ls_archive_statusdir",
  "pg_ls_logicalsnapdir",
  "pg_ls_logicalmapdir",
  "pg_ls_replslotdir",
  "pg_ls_summariesdir",
  "pg_current_logfile",
  "lo_import",
  "lo_export",
  "pg_file_write",
  "pg_file_rename",
  "pg_file_unlink",
  "pg_file_sync",
  "pg_logdir_ls",
]);
/** Extensions that exist to reach files or other servers. */
const FILE_EXTENSIONS = new Set(["adminpack", "dblink", "file_fdw", "postgres_fdw"]);

const constString = (v: unknown): string | null => {
  const s = obj(obj(obj(v).A_Const).sval).sval;
  return typeof s === "string" ? s : null;
};

/** A function call: server file access, or a role/replication setting in set_config form. */
export function functionCallRule(v: Obj): Rule<RefusedKind> | null {
  const parts = list(v.funcname).map((p) => String(obj(obj(p).String).sval ?? ""));
  const name = (parts[parts.length - 1] ?? "").toLowerCase();
  if (FILE_FUNCTIONS.has(name) || name.startsWith("dblink")) {
    return { kind: "server_file_access", reason: `${name}() reaches the database server's files or other servers` };
  }
  if (name === "set_config") {
    const [setting, value] = list(v.args);
    const key = constString(setting);
    if (key === null) return { kind: "role_change", reason: "set_config() with a computed setting name cannot be checked" };
    return settingRule(key, value === undefined ? [] : [value], "set_config");
  }
  return null;
}

/** SET / RESET of a setting (also the body of ALTER ROLE/DATABASE … SET). */
export function variableSetRule(v: Obj): Rule<RefusedKind> | null {
  const kind = String(v.kind ?? "");
  if (kind === "VAR_RESET_ALL") return null;
  const name = String(v.name ?? "");
  if (kind === "VAR_RESET" || kind === "VAR_SET_DEFAULT") {
    if (name === "role" || name === "session_authorization") {
      return {
        kind: "role_change",
        reason: `RESET ${name.toUpperCase()}: the console's role is fixed (SET LOCAL ROLE anon|authenticated|service_role steps down for one request)`,
      };
    }
    return name === "session_replication_role" ? replicationRule() : null;
  }
  return settingRule(name, list(v.args), "SET");
}

function settingRule(name: string, args: unknown[], how: string): Rule<RefusedKind> | null {
  const setting = name.toLowerCase();
  if (setting === "session_replication_role") return replicationRule();
  if (setting === "session_authorization") {
    return { kind: "role_change", reason: `${how} session_authorization would change who the console is` };
  }
  if (setting === "role") {
    const role = constString(args[0]);
    if (role !== null && API_ROLES.has(role)) return null;
    return { kind: "role_change", reason: `${how} role ${role ?? "(computed)"}: the console may only step down into anon, authenticated or service_role` };
  }
  return null;
}

const replicationRule = (): Rule<RefusedKind> => ({
  kind: "replication_role",
  reason: "session_replication_role = replica silences triggers, the audit log's included",
});

/** COPY to or from a file or a program on the database server. (STDIN/STDOUT: sql-console.ts.) */
export function copyRule(v: Obj): Rule<RefusedKind> | null {
  if (v.is_program) return { kind: "server_file_access", reason: "COPY … PROGRAM runs a shell command on the database server" };
  if (v.filename) return { kind: "server_file_access", reason: "COPY to or from a file reads or writes the database server's files" };
  return null;
}

export function extensionRule(v: Obj): Rule<RefusedKind> | null {
  const name = String(v.extname ?? "").toLowerCase();
  return FILE_EXTENSIONS.has(name) ? { kind: "server_file_access", reason: `CREATE EXTENSION ${name} reaches files or other servers` } : null;
}

export type AccessKind = "grant_public" | "grant_api_role" | "disable_rls" | "permissive_policy" | "role_attribute";

const roleSpec = (r: unknown) => obj(obj(r).RoleSpec);

/** GRANT (of privileges or of a role) to PUBLIC, anon or authenticated opens data to clients. */
export function grantRule(grantees: unknown[], isGrant: unknown, what: string): Rule<AccessKind> | null {
  if (!isGrant) return null;
  if (grantees.some((r) => roleSpec(r).roletype === "ROLESPEC_PUBLIC")) {
    return { kind: "grant_public", reason: `${what} TO PUBLIC gives every role, anon included, these rights` };
  }
  const api = grantees.map((r) => String(roleSpec(r).rolename ?? "")).filter((n) => n === "anon" || n === "authenticated");
  if (api.length) return { kind: "grant_api_role", reason: `${what} TO ${api.join(", ")} gives the API's clients these rights` };
  return null;
}

/** ALTER TABLE … DISABLE ROW LEVEL SECURITY / NO FORCE ROW LEVEL SECURITY. */
export function rlsRule(subtype: string): Rule<AccessKind> | null {
  if (subtype === "AT_DisableRowSecurity")
    return { kind: "disable_rls", reason: "DISABLE ROW LEVEL SECURITY lets every granted role read and write every row" };
  if (subtype === "AT_NoForceRowSecurity") return { kind: "disable_rls", reason: "NO FORCE ROW LEVEL SECURITY exempts the table's owner from its policies" };
  return null;
}

/**
 * A permissive policy whose USING or WITH CHECK is a constant (`true`, `1 = 1`): it lets every row
 * through for the roles it names. ALTER POLICY cannot say whether the policy is permissive, so a
 * constant there counts too. Restrictive policies only narrow access.
 */
export function policyRule(v: Obj, permissive: boolean, verb: string): Rule<AccessKind> | null {
  if (!permissive) return null;
  for (const [clause, expr] of [
    ["USING", v.qual],
    ["WITH CHECK", v.with_check],
  ] as const) {
    if (expr !== undefined && isConstantCondition(expr)) {
      return { kind: "permissive_policy", reason: `${verb} … ${clause} (constant) lets every row through for the roles it names` };
    }
  }
  return null;
}

/** No column, function, parameter, subquery or session value: the same answer for every row. */
function isConstantCondition(expr: unknown): boolean {
  const literal = obj(obj(expr).A_Const).boolval; // `true` is {boolval: true}; `false` is {}
  if (literal !== undefined && obj(literal).boolval !== true) return false;
  let varies = false;
  const visit = (node: unknown): void => {
    if (varies || !node || typeof node !== "object") return;
    if (Array.isArray(node)) return node.forEach(visit);
    for (const [key, value] of Object.entries(node as Obj)) {
      if (["ColumnRef", "FuncCall", "ParamRef", "SubLink", "SQLValueFunction"].includes(key)) varies = true;
      else visit(value);
    }
  };
  visit(expr);
  return !varies;
}

/** ALTER ROLE with attributes (BYPASSRLS, SUPERUSER, LOGIN, PASSWORD…); CREATE ROLE with powers. */
export function roleAttributeRule(key: "AlterRoleStmt" | "CreateRoleStmt", v: Obj): Rule<AccessKind> | null {
  const defs = list(v.options).map((o) => obj(obj(o).DefElem));
  const options = defs.map((d) => String(d.defname ?? ""));
  if (key === "AlterRoleStmt") {
    if (!options.length) return null;
    const name = String(obj(v.role).rolename ?? obj(v.role).roletype ?? "?");
    return { kind: "role_attribute", reason: `ALTER ROLE ${name} changes its attributes (${options.join(", ")})` };
  }
  const on = (d: Obj) => obj(obj(d.arg).Boolean).boolval === true;
  const powers = defs
    .filter((d) => on(d) && ["superuser", "bypassrls", "createrole", "isreplication"].includes(String(d.defname)))
    .map((d) => String(d.defname));
  return powers.length ? { kind: "role_attribute", reason: `CREATE ROLE ${String(v.role)} with ${powers.join(", ")}` } : null;
}
