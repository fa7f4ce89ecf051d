// `plinth audit …`: the audit log from the shell, on the same database as `serve` (src/admin/local.ts),
// each run itself an audit entry naming the OS user.
//   verify [--archives] [--json]            walk the hash chain; exit 1 on a break
//   export [--format csv|ndjson] [--since T] [--until T] [--out FILE]   streamed, stdout by default
//   prune [--days N] [--json]               archive then remove rows older than audit.retentionDays
//   report --since T --until T [--json]     compliance summary
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { createArchiveStore } from "../admin/audit/archive-store.ts";
import { EXPORT_FORMATS, exportChunks, type ExportFormat } from "../admin/audit/export.ts";
import { parseFilter } from "../admin/audit/query.ts";
import { complianceReport, formatReport } from "../admin/audit/report.ts";
import { pruneAudit } from "../admin/audit/retention.ts";
import { verifyAuditChain } from "../admin/audit/verify.ts";
import { openLocalAdmin, type LocalAdmin } from "../admin/local.ts";
import { isPlinthError } from "../errors.ts";
import { CommandError, EXIT, parseFlags, runSubcommand, usageError, type CommandEnv } from "./command.ts";

const USAGE = `usage: plinth audit <command>

  verify [--archives] [--json]       check the audit log's hash chain (and the archive files)
  export [--format csv|ndjson] [--since T] [--until T] [--out FILE]
                                     the log, oldest first (ndjson by default; stdout unless --out)
  prune [--days N] [--json]          archive, then remove, rows older than audit.retentionDays
  report --since T --until T [--json]   compliance summary for the period

T is an ISO 8601 date or date-time (a bare date is midnight UTC); --until is exclusive.`;

export function run(args: string[], env: CommandEnv): Promise<number> {
  return runSubcommand("audit", USAGE, { verify, export: exportLog, prune, report }, args, env);
}

/** Bad filter values are usage errors (exit 2) with the API's message. */
function filterOf(flags: Record<string, string | true>) {
  try {
    return parseFilter({ since: str(flags.since), until: str(flags.until) });
  } catch (err) {
    if (isPlinthError(err)) {
      const param = (err as { data?: { param?: string } }).data?.param;
      throw usageError(param ? `--${param}: ${err.message}` : err.message);
    }
    throw err;
  }
}

const str = (v: string | true | undefined) => (typeof v === "string" ? v : undefined);

async function withLocal<T>(env: CommandEnv, action: string, body: (local: LocalAdmin) => Promise<T>): Promise<T> {
  const { config } = env.load();
  let local: LocalAdmin;
  try {
    local = await openLocalAdmin(config, env.stderr);
  } catch (err) {
    throw new CommandError(`cannot reach the database: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const result = await body(local);
    await local.record({ action, target: "audit_log", outcome: "ok" }).catch(() => {});
    return result;
  } catch (err) {
    await local.record({ action, target: "audit_log", outcome: "error", errorCode: isPlinthError(err) ? err.code : "command_failed" }).catch(() => {});
    throw err;
  } finally {
    await local.close();
  }
}

async function verify(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { booleans: ["archives", "json"] });
  if (positional.length) throw usageError(`unexpected argument '${positional[0]}'`);
  const result = await withLocal(env, "audit.verify", async (local) =>
    verifyAuditChain(local.sql, { ...(flags.archives ? { archives: await createArchiveStore(local.config) } : {}) }),
  );
  if (flags.json) env.stdout(`${JSON.stringify(result)}\n`);
  else if (result.ok)
    env.stdout(`audit chain ok: ${result.checked} live rows checked (${result.archived} archived); head seq ${result.head.seq} hash ${result.head.hash}\n`);
  else env.stdout(`audit chain BROKEN at id ${result.first_bad_id ?? "?"} (seq ${result.first_bad_seq ?? "?"}): ${result.reason}: ${result.message}\n`);
  return result.ok ? EXIT.ok : EXIT.failed;
}

async function exportLog(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { values: ["format", "since", "until", "out"] });
  if (positional.length) throw usageError(`unexpected argument '${positional[0]}'`);
  const format = (str(flags.format) ?? "ndjson") as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw usageError("--format must be csv or ndjson");
  const filter = filterOf(flags);
  const out = str(flags.out) ? resolve(env.cwd, str(flags.out)!) : null;
  let rows = 0;
  await withLocal(env, "audit.export", async (local) => {
    // A file is written beside its final name and renamed at the end: no half export under the name.
    const tmp = out ? `${out}.partial` : null;
    const sink = tmp ? createWriteStream(tmp, { mode: 0o600 }) : process.stdout;
    // A file that cannot be created fails here (once() rejects on 'error'), not as a stray event
    // while a write waits for 'drain' that will never come.
    if (tmp) await once(sink, "open").catch((err: Error) => Promise.reject(new CommandError(`cannot write ${out}: ${err.message}`)));
    try {
      for await (const chunk of exportChunks(local.sql, format, filter)) {
        rows += chunk.split("\n").length - 1;
        // Waits for the consumer (a pipe, a disk) so memory stays at one batch.
        if (!sink.write(chunk)) await once(sink, "drain");
      }
      if (tmp) {
        await new Promise<void>((res, rej) => (sink as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? rej(err) : res())));
        await rename(tmp, out!);
      }
    } catch (err) {
      if (tmp) {
        (sink as ReturnType<typeof createWriteStream>).destroy();
        await unlink(tmp).catch(() => {});
      }
      throw err;
    }
  });
  if (out) env.stderr(`exported ${format === "csv" ? rows - 1 : rows} entries to ${out}\n`);
  return EXIT.ok;
}

async function prune(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { values: ["days"], booleans: ["json"] });
  if (positional.length) throw usageError(`unexpected argument '${positional[0]}'`);
  const { config } = env.load();
  const daysText = str(flags.days);
  if (daysText !== undefined && !/^[1-9]\d{0,4}$/.test(daysText)) throw usageError("--days must be a positive number of days");
  const days = daysText !== undefined ? Number(daysText) : config.audit.retentionDays;
  if (!days) throw usageError("no retention set: give --days N or set audit.retentionDays (PLINTH_AUDIT_RETENTION_DAYS)");
  const result = await withLocal(env, "audit.prune", async (local) => pruneAudit(local.sql, await createArchiveStore(local.config), { retentionDays: days }));
  if (flags.json) env.stdout(`${JSON.stringify(result)}\n`);
  else if (result.skipped) env.stdout("another prune is running; nothing done\n");
  else if (!result.archives.length) env.stdout(`nothing older than ${days} days\n`);
  else for (const a of result.archives) env.stdout(`archived rows ${a.first_seq}..${a.last_seq} (${a.rows}) to ${a.location}\n`);
  if (!flags.json && result.archives.length) env.stdout(`removed ${result.removed} rows\n`);
  return EXIT.ok;
}

async function report(args: string[], env: CommandEnv): Promise<number> {
  const { flags, positional } = parseFlags(args, { values: ["since", "until"], booleans: ["json"] });
  if (positional.length) throw usageError(`unexpected argument '${positional[0]}'`);
  if (!str(flags.since) || !str(flags.until)) throw usageError("report needs --since T and --until T");
  const filter = filterOf(flags);
  const result = await withLocal(env, "audit.report", (local) => complianceReport(local.sql, { since: filter.since!, until: filter.until! }));
  env.stdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatReport(result));
  return EXIT.ok;
}
