// `plinth admin …`: named admin accounts from the shell, with local access (the CLI acts as a
// system_admin that is no account), under the same rules as the admin API (src/admin/accounts/).
//   create-system-admin --email E [--username U] [--password-stdin] [--json]
//   promote USER --level L [--tables schema.t1,schema.t2] [--json]
//   demote USER [--level L | --remove] [--json]
//   list [--json]
// USER is an email, a username or a user id. Every action is audited as the CLI with the OS user.
import { randomInt } from "node:crypto";
import { passwordWeakness } from "../auth/passwords.ts";
import {
  applyLevel,
  findUserByRef,
  getAdmin,
  grantAdmin,
  levelBelow,
  listAdmins,
  userRefOf,
  type AdminAccount,
  type UserRef,
} from "../admin/accounts/accounts.ts";
import { isAdminLevel } from "../admin/accounts/rules.ts";
import { ADMIN_LEVELS, type AdminLevel } from "../admin/authorize.ts";
import { openLocalAdmin, type LocalAdmin } from "../admin/local.ts";
import type { Config } from "../config/schema.ts";
import { isPlinthError } from "../errors.ts";
import { CommandError, EXIT, parseFlags, runSubcommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = `usage: plinth admin <command>

  create-system-admin --email E [--username U] [--password-stdin] [--json]
                       create the user (or raise an existing one) as system_admin; without
                       --password-stdin a strong password is generated and printed once
  promote USER --level L [--tables schema.t1,schema.t2] [--json]
  demote USER [--level L | --remove] [--json]     (default: one level down)
  list [--json]

USER is an email, a username or a user id. Levels: ${ADMIN_LEVELS.join(", ")}.`;

export function run(args: string[], env: CommandEnv): Promise<number> {
  return runSubcommand("admin", USAGE, { "create-system-admin": createSystemAdmin, promote, demote, list }, args, env);
}

/** Runs `body` with local access, recording one audit entry for it whatever the outcome. */
async function withLocal<T>(env: CommandEnv, action: string, target: string | null, body: (local: LocalAdmin) => Promise<T>): Promise<T> {
  const { config } = env.load();
  let local: LocalAdmin;
  try {
    local = await openLocalAdmin(config, env.stderr);
  } catch (err) {
    throw new CommandError(`cannot reach the database: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const result = await body(local);
    await local.record({ action, target, outcome: "ok" });
    return result;
  } catch (err) {
    const code = isPlinthError(err) ? err.code : err instanceof CommandError ? "command_failed" : "internal_error";
    await local.record({ action, target, outcome: isPlinthError(err) && err.status < 500 ? "denied" : "error", errorCode: code }).catch(() => {});
    // The rules' answers (and bad input the database layer found) are the command's failure reason.
    if (isPlinthError(err)) throw new CommandError(`${err.message} (${err.code})`);
    throw err;
  } finally {
    await local.close();
  }
}

function refOrUsage(text: string | undefined, what = "USER"): UserRef {
  if (!text) throw usageError(`missing ${what} (an email, a username or a user id)`);
  try {
    return userRefOf(text);
  } catch {
    throw usageError(`'${text}' is not an email, a username or a user id`);
  }
}

function levelOrUsage(value: string | true | undefined): AdminLevel {
  if (typeof value !== "string" || !isAdminLevel(value)) throw usageError(`--level must be one of ${ADMIN_LEVELS.join(", ")}`);
  return value;
}

const describe = (ref: UserRef): string => ("id" in ref ? ref.id : "email" in ref ? ref.email : ref.username);

async function createSystemAdmin(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { values: ["email", "username"], booleans: ["password-stdin", "json"] });
  if (positional.length > 0) throw usageError(`unexpected argument '${positional[0]}'`);
  if (typeof flags.email !== "string") throw usageError("create-system-admin needs --email E");
  const ref = refOrUsage(flags.email, "--email");
  if (!("email" in ref)) throw usageError(`--email needs an email address, not '${flags.email}'`);
  let password: string | undefined;
  if (flags["password-stdin"] === true) {
    password = (await env.readStdin()).replace(/\r?\n$/, "");
    if (!password) throw usageError("--password-stdin: no password on standard input");
  }
  const { config } = env.load();
  const generated = password === undefined ? strongPassword(config) : null;
  const result = await withLocal(env, "admins.create_system_admin", `email:${ref.email}`, async (local) => {
    // A generated password is only for a user created now: an existing user keeps its own.
    const exists = (await findUserByRef(local.sql, ref)) !== null;
    return grantAdmin(local.sql, config, local.actor, {
      user: ref,
      username: typeof flags.username === "string" ? flags.username : undefined,
      level: "system_admin",
      password: password ?? (exists ? undefined : generated!),
      existingPassword: "set",
      expect: "any",
    });
  });
  const shown = result.createdUser && password === undefined ? generated : null;
  if (flags.json === true) {
    env.stdout(`${JSON.stringify({ ...summary(result.account), created_user: result.createdUser, ...(shown ? { password: shown } : {}) })}\n`);
    return EXIT.ok;
  }
  const who = result.account.email ?? result.account.username ?? result.account.id;
  env.stdout(
    result.createdUser
      ? `Created user ${who} (${result.account.id}) as system_admin.\n`
      : `${who} (${result.account.id}) is now a system_admin${result.passwordSet ? "; its password was set from standard input" : ""}.\n`,
  );
  if (shown) env.stdout(`Password (shown once, store it now): ${shown}\n`);
  return EXIT.ok;
}

async function promote(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { values: ["level", "tables"], booleans: ["json"] });
  if (positional.length !== 1) throw usageError("usage: plinth admin promote USER --level L [--tables schema.t1,schema.t2]");
  const ref = refOrUsage(positional[0]);
  const level = levelOrUsage(flags.level);
  const tables =
    typeof flags.tables === "string"
      ? flags.tables
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean)
      : undefined;
  const { config } = env.load();
  const result = await withLocal(env, "admins.promote", `${describe(ref)}:${level}`, (local) =>
    grantAdmin(local.sql, config, local.actor, { user: ref, level, tables, existingPassword: "refuse", expect: "any", direction: "raise" }),
  );
  printAccount(env, flags.json === true, result.account);
  return EXIT.ok;
}

async function demote(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { values: ["level"], booleans: ["remove", "json"] });
  if (positional.length !== 1) throw usageError("usage: plinth admin demote USER [--level L | --remove]");
  if (flags.level !== undefined && flags.remove === true) throw usageError("give --level L or --remove, not both");
  const ref = refOrUsage(positional[0]);
  const asked = flags.level !== undefined ? levelOrUsage(flags.level) : flags.remove === true ? null : undefined;
  const account = await withLocal(env, "admins.demote", `${describe(ref)}:${asked === undefined ? "next" : (asked ?? "remove")}`, async (local) => {
    const user = await findUserByRef(local.sql, ref);
    const current = user ? await getAdmin(local.sql, user.id) : null;
    if (!user || !current) throw new CommandError(`${describe(ref)} is not an admin`);
    const next: AdminLevel | null = asked === undefined ? levelBelow(current.level) : asked;
    if (asked === undefined && next === null) throw new CommandError(`${describe(ref)} is a viewer, the lowest level: remove it with --remove`);
    return applyLevel(local.sql, local.actor, user.id, { level: next, expect: "existing", direction: "lower" }).then((a) => a ?? { removed: user });
  });
  if ("removed" in account) {
    const u = account.removed;
    if (flags.json === true) env.stdout(`${JSON.stringify({ id: u.id, email: u.email, username: u.username, level: null, tables: [] })}\n`);
    else env.stdout(`${u.email ?? u.username ?? u.id} is no longer an admin (the user stays).\n`);
    return EXIT.ok;
  }
  printAccount(env, flags.json === true, account);
  return EXIT.ok;
}

async function list(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { booleans: ["json"] });
  if (positional.length > 0) throw usageError(`unexpected argument '${positional[0]}'`);
  const admins = await withLocal(env, "admins.list", null, (local) => listAdmins(local.sql));
  if (flags.json === true) {
    env.stdout(`${JSON.stringify(admins.map(summary))}\n`);
    return EXIT.ok;
  }
  if (admins.length === 0) {
    env.stdout("No admin accounts yet: plinth admin create-system-admin --email you@example.com\n");
    return EXIT.ok;
  }
  const rows = admins.map((a) => [a.level, a.email ?? "-", a.username ?? "-", a.tables.join(",") || "-", a.mfa ? "yes" : "no", a.id]);
  const head = ["LEVEL", "EMAIL", "USERNAME", "TABLES", "MFA", "ID"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) env.stdout(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")}\n`);
  return EXIT.ok;
}

/** The shape `admin list --json` prints (a contract: {"id","email","username","level","tables"}). */
const summary = (a: AdminAccount) => ({ id: a.id, email: a.email, username: a.username, level: a.level, tables: a.tables });

function printAccount(env: CommandEnv, json: boolean, a: AdminAccount): void {
  if (json) env.stdout(`${JSON.stringify(summary(a))}\n`);
  else env.stdout(`${a.email ?? a.username ?? a.id} is now a ${a.level}${a.tables.length ? ` (tables: ${a.tables.join(", ")})` : ""}.\n`);
}

const LOWER = "abcdefghijkmnopqrstuvwxyz";
const UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGIT = "23456789";
const SYMBOL = "-_.!@#%+=";

/**
 * 24 characters (or the policy's minimum, if longer) over letters, digits and symbols, with at least
 * one of each class, so it passes any password policy Plinth can be configured with (~150 bits).
 */
export function strongPassword(config: Config): string {
  const all = LOWER + UPPER + DIGIT + SYMBOL;
  const length = Math.max(24, config.auth.password.minLength);
  for (;;) {
    let pw = "";
    for (let i = 0; i < length; i++) pw += all[randomInt(all.length)];
    const classes = [LOWER, UPPER, DIGIT, SYMBOL].every((set) => [...pw].some((ch) => set.includes(ch)));
    if (classes && !passwordWeakness(config, pw)) return pw;
  }
}
