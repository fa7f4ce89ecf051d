// `plinth emergency-access --reason TEXT [--ttl 15m] [--json]`: for an operator locked out of every
// admin account but with a shell on the server. Prints a one-time code that signs in once, within
// the TTL, as a system_admin through POST /admin/v1/auth/emergency {"code"}. Issuing it is audited
// as security-relevant with the reason and the OS user (src/admin/signin/emergency.ts).
import { parseGoDuration } from "../auth/user-admin.ts";
import { issueEmergencyCode, MAX_TTL_SECONDS, MIN_TTL_SECONDS } from "../admin/signin/emergency.ts";
import { openLocalAdmin } from "../admin/local.ts";
import { isPlinthError } from "../errors.ts";
import { CommandError, EXIT, parseFlags, runCommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = "usage: plinth emergency-access --reason TEXT [--ttl 15m] [--json]";

export async function run(args: string[], env: CommandEnv): Promise<number> {
  return runCommand(env, async () => {
    const { flags, positional } = parseFlags(args, { values: ["reason", "ttl"], booleans: ["json", "help"] });
    if (flags.help) {
      env.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (positional.length > 0) throw usageError(`unexpected argument '${positional[0]}'\n${USAGE}`);
    const reason = typeof flags.reason === "string" ? flags.reason.trim() : "";
    if (!reason) throw usageError(`--reason TEXT is required: it is recorded in the audit log\n${USAGE}`);
    if (reason.length > 1000) throw usageError("--reason is limited to 1000 characters");
    const ms = parseGoDuration(typeof flags.ttl === "string" ? flags.ttl : "15m");
    if (ms === null) throw usageError(`--ttl takes a duration such as 15m, 1h or 90s, not '${flags.ttl}'`);
    const ttlSeconds = Math.round(ms / 1000);
    if (ttlSeconds < MIN_TTL_SECONDS || ttlSeconds > MAX_TTL_SECONDS) throw usageError("--ttl must be between 1m and 24h");

    const { config } = env.load();
    let local;
    try {
      local = await openLocalAdmin(config, env.stderr);
    } catch (err) {
      throw new CommandError(`cannot reach the database: ${err instanceof Error ? err.message : String(err)}`);
    }
    let issued;
    try {
      issued = await issueEmergencyCode(local.sql, { ttlSeconds, reason, osUser: local.actor.osUser! });
      await local.record({ action: "emergency_access.issue", target: `emergency_code:${issued.id}`, outcome: "ok", security: true, reason });
    } catch (err) {
      if (isPlinthError(err)) throw new CommandError(`${err.message} (${err.code})`);
      throw err;
    } finally {
      await local.close();
    }
    if (flags.json === true) {
      env.stdout(`${JSON.stringify({ code: issued.code, expires_at: issued.expires_at })}\n`);
      return EXIT.ok;
    }
    const base = config.publicUrl?.replace(/\/+$/, "") ?? `http://${config.host}:${config.port}`;
    env.stdout(
      [
        `Emergency access code (one use, valid until ${issued.expires_at}):`,
        "",
        `  ${issued.code}`,
        "",
        "Sign in with it (the answer is a system_admin session, at most one hour long):",
        `  curl -X POST ${base}/admin/v1/auth/emergency -H 'content-type: application/json' -d '{"code":"${issued.code}"}'`,
        "",
      ].join("\n"),
    );
    return EXIT.ok;
  });
}
