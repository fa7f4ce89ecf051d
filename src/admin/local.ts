// Local access: what `plinth admin …` and `plinth emergency-access` act with. The same database as
// `serve` (the embedded one in the data dir, attached to while `serve` runs, or PLINTH_DB_URL; the
// system migrations applied first, so the commands also work right after `plinth init`), the CLI
// actor (a system_admin that is no account: whoever has a shell and the config has the server
// anyway), and an audit record per action naming the OS user who ran it.
import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import { openDatabase, type OpenedDatabase } from "../db/open.ts";
import type { Sql } from "../db/pool.ts";
import { createLogger } from "../log.ts";
import { actorColumns, recordAudit, type AuditOutcome } from "./audit/log.ts";
import { cliActor, type AdminActor } from "./authorize.ts";

export interface LocalAdmin {
  sql: Sql;
  config: Config;
  actor: AdminActor;
  /** One audit record for a CLI action. */
  record(entry: {
    action: string;
    target: string | null;
    outcome: AuditOutcome;
    errorCode?: string | null;
    security?: boolean;
    reason?: string | null;
  }): Promise<void>;
  close(): Promise<void>;
}

/**
 * Who ran the command, as the OS knows them: SUDO_USER first (`sudo plinth …` names the person),
 * then the account of the process's uid. Bun's os.userInfo() takes the name from $USER and says
 * "unknown" without it (a cron job, a bare container), so the passwd database decides.
 */
export function osUser(): string {
  const sudo = process.env.SUDO_USER;
  if (sudo) return sudo;
  const uid = process.getuid?.();
  if (uid !== undefined) {
    try {
      for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
        const [name, , id] = line.split(":");
        if (name && Number(id) === uid) return name;
      }
    } catch {
      /* no passwd file: fall through */
    }
  }
  const name = process.env.USER ?? process.env.LOGNAME;
  return name || (uid !== undefined ? `uid:${uid}` : "unknown");
}

export async function openLocalAdmin(config: Config, stderr: (s: string) => void): Promise<LocalAdmin> {
  // Only problems reach the terminal; the command's own output is its answer.
  const log = createLogger("warn", (line) => stderr(`${line}\n`));
  const opened: OpenedDatabase = await openDatabase(config, log, { poolMax: 2 });
  const actor = cliActor(osUser());
  const started = performance.now();
  return {
    sql: opened.db.sql,
    config,
    actor,
    async record(e) {
      await recordAudit(opened.db.sql, {
        ...actorColumns(actor),
        action: e.action,
        target: e.target,
        statement: null,
        outcome: e.outcome,
        status: e.outcome === "ok" ? 0 : 1, // for the CLI: its exit code
        errorCode: e.errorCode ?? null,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        rowCount: null,
        requestId: null,
        clientIp: null,
        security: e.security ?? false,
        reason: e.reason ?? null,
      });
    },
    close: () => opened.close(),
  };
}
