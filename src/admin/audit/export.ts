// The audit log as a stream of CSV or NDJSON, oldest first, for GET /admin/v1/audit/export and
// `plinth audit export`. Rows come from the database in batches (keyset pages, see exportChunks) and
// each batch is fetched and turned into text only when the consumer asks for more (a pull stream),
// so a month of a busy server leaves the process with one batch in memory, not the month. NDJSON lines are the listing's JSON
// records (with seq, prev_hash and hash, so an export can be checked against the chain); CSV has one
// flat column per field.
//
// Trap: CSV opened in a spreadsheet runs cells that start with = + - @ (or a tab/CR) as formulas,
// and audit rows carry attacker-chosen text (an email typed at sign-in). Such cells get a leading
// apostrophe (OWASP's advice); NDJSON keeps every value as stored.
import type { Sql } from "../../db/pool.ts";
import { AUDIT_COLUMNS, auditRecordOf, type AuditRecord, type AuditRow } from "./log.ts";
import { whereOf, type AuditFilter } from "./query.ts";

export type ExportFormat = "csv" | "ndjson";
export const EXPORT_FORMATS: readonly ExportFormat[] = ["csv", "ndjson"];

export const CSV_COLUMNS = [
  "id",
  "seq",
  "at",
  "actor_role",
  "actor_kind",
  "actor_sub",
  "admin_id",
  "admin_email",
  "admin_level",
  "session_id",
  "os_user",
  "action",
  "target",
  "outcome",
  "status",
  "error_code",
  "duration_ms",
  "row_count",
  "request_id",
  "client_ip",
  "security",
  "reason",
  "details",
  "statement",
  "prev_hash",
  "hash",
] as const;

const BATCH = 1000;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  let s = typeof v === "object" ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvLine(r: AuditRecord): string {
  const flat: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    id: r.id,
    seq: r.seq,
    at: r.at,
    actor_role: r.actor.role,
    actor_kind: r.actor.kind,
    actor_sub: r.actor.sub,
    admin_id: r.actor.admin?.id ?? null,
    admin_email: r.actor.admin?.email ?? null,
    admin_level: r.actor.level,
    session_id: r.actor.session_id,
    os_user: r.actor.os_user,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    status: r.status,
    error_code: r.error_code,
    duration_ms: r.duration_ms,
    row_count: r.row_count,
    request_id: r.request_id,
    client_ip: r.client_ip,
    security: r.security,
    reason: r.reason,
    details: r.details,
    statement: r.statement,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
  return `${CSV_COLUMNS.map((c) => csvCell(flat[c])).join(",")}\r\n`;
}

/**
 * Text chunks of the export, one per batch. Batches are keyset pages on the primary key (id > last
 * id), not one portal: each page is an index range scan, so the first bytes leave at once instead of
 * after the whole range was sorted (measured: a portal over 100k rows spent 2 s sorting first), and
 * no connection or snapshot is held while a slow client reads. The log is append-only and ids only
 * grow, so a page never skips or repeats a row.
 */
export async function* exportChunks(sql: Sql, format: ExportFormat, filter: AuditFilter): AsyncGenerator<string> {
  if (format === "csv") yield `${CSV_COLUMNS.join(",")}\r\n`;
  const where = whereOf(sql, filter);
  let after = 0;
  for (;;) {
    // Safe: AUDIT_COLUMNS is a static column list; every filter value is a bind parameter.
    const rows = await sql<AuditRow[]>`
      select ${sql.unsafe(AUDIT_COLUMNS)} from plinth.audit_log where id > ${after} and ${where} order by id limit ${BATCH}`;
    if (!rows.length) return;
    let chunk = "";
    for (const row of rows) {
      const r = auditRecordOf(row);
      chunk += format === "csv" ? csvLine(r) : `${JSON.stringify(r)}\n`;
    }
    after = Number(rows.at(-1)!.id);
    yield chunk;
    if (rows.length < BATCH) return;
  }
}

/** A pull-driven byte stream of the export (what the HTTP response body is). */
export function exportStream(sql: Sql, format: ExportFormat, filter: AuditFilter): ReadableStream<Uint8Array> {
  const chunks = exportChunks(sql, format, filter);
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await chunks.next();
          if (done) controller.close();
          else controller.enqueue(enc.encode(value));
        } catch (err) {
          controller.error(err);
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}

export const contentTypeOf = (format: ExportFormat) => (format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson");
