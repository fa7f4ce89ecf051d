// The plan of a user migration: its statements parsed by PostgreSQL's parser (the SQL console's,
// src/admin/meta/parser.ts), classified (classify.ts) with the database's facts from the catalog
// (src/catalog/sizes.sql.ts) and the console's impact estimate (src/admin/meta/impact.ts), and one
// line that says what it means. Reading only: the plan never runs the migration.
//
// Traps:
// - The plan reads the database as it is now: a table an earlier pending migration creates does
//   not exist yet, so it has no size (and costs nothing to lock).
// - A file the parser rejects has no plan; it "needs approval" like a dangerous one, since nothing
//   about it can be said (PostgreSQL would refuse it anyway).
import { readFile } from "node:fs/promises";
import { columnTypeChange, relationSizes } from "../../catalog/index.ts";
import type { Sql } from "../../db/pool.ts";
import { checksum } from "../../db/migrations/system.ts";
import { migrationStatus, positionToLineColumn, type MigrationState } from "../../db/migrations/user.ts";
import { AdminError } from "../errors.ts";
import type { TableName } from "../meta/guard.ts";
import { estimateImpact } from "../meta/impact.ts";
import { parseBatch, type ParsedStatement } from "../meta/parser.ts";
import { quoteIdentifier } from "../../lib/sql-text.ts";
import { classifyMigration, formatBytes, formatRows, type Facts, type PlanFinding } from "./classify.ts";

export type { PlanFinding } from "./classify.ts";

export interface MigrationPlan {
  version: string;
  name: string;
  file: string;
  /** Of the file as read (the checksum an approval binds to). */
  checksum: string;
  verdict: string;
  /** Destructive or security findings, or a file that does not parse: production needs an approval. */
  needsApproval: boolean;
  statements: number;
  findings: PlanFinding[];
  /** Set when the parser rejects the file. */
  error: { message: string; line: number; column: number } | null;
}

export interface PlanOptions {
  /** Schemas the REST API exposes (config.rest.schemas). */
  exposedSchemas: readonly string[];
}

/** The text of a migration file as it will run (a BOM dropped, as user.ts does) and its checksum. */
export async function readMigrationFile(path: string): Promise<{ text: string; checksum: string }> {
  const raw = await readFile(path, "utf8");
  return { text: raw.replace(/^\uFEFF/, ""), checksum: checksum(raw) };
}

/** Plans of every pending migration in `dir`, in version order. */
export async function planPending(sql: Sql, dir: string, opts: PlanOptions): Promise<MigrationPlan[]> {
  const states = await migrationStatus(sql, dir);
  const plans: MigrationPlan[] = [];
  for (const s of states.filter((x) => !x.applied && x.upFile)) plans.push(await planState(sql, s, opts));
  return plans;
}

async function planState(sql: Sql, s: MigrationState, opts: PlanOptions): Promise<MigrationPlan> {
  const file = await readMigrationFile(s.upFile!);
  return planFile(sql, { version: s.version, name: s.name, path: s.upFile!, ...file }, opts);
}

/** The plan of one file's text. */
export async function planFile(
  sql: Sql,
  m: { version: string; name: string; path: string; text: string; checksum: string },
  opts: PlanOptions,
): Promise<MigrationPlan> {
  const base = { version: m.version, name: m.name, file: m.path, checksum: m.checksum };
  let stmts: ParsedStatement[];
  try {
    stmts = await parseBatch(m.text);
  } catch (err) {
    if (!(err instanceof AdminError)) throw err;
    const position = Number((err.data as { position?: number } | undefined)?.position ?? 1);
    const at = positionToLineColumn(m.text, position);
    const error = { message: err.message, ...at };
    return {
      ...base,
      verdict: `cannot be planned: the parser rejects it (${err.message}, line ${at.line})`,
      needsApproval: true,
      statements: 0,
      findings: [],
      error,
    };
  }
  const findings = await classifyMigration(stmts, catalogFacts(sql), {
    exposedSchemas: opts.exposedSchemas,
    lineOf: (offset) => positionToLineColumn(m.text, offset + 1).line,
  });
  const needsApproval = findings.some((f) => f.kind !== "locking");
  return { ...base, verdict: verdictOf(stmts.length, findings), needsApproval, statements: stmts.length, findings, error: null };
}

const refOf = (t: TableName) => (t.schema ? `${quoteIdentifier(t.schema)}.${quoteIdentifier(t.name)}` : quoteIdentifier(t.name));

/** The database's answers to classify.ts, from the catalog; each table asked once per plan. */
function catalogFacts(sql: Sql): Facts {
  const tables = new Map<string, Promise<{ exists: boolean; rows: number; bytes: number }>>();
  return {
    table(t) {
      const ref = refOf(t);
      let p = tables.get(ref);
      if (!p) {
        p = relationSizes(sql, [ref]).then(([r]) => ({ exists: !!r?.exists, rows: r?.rows_estimate ?? 0, bytes: r?.bytes ?? 0 }));
        tables.set(ref, p);
      }
      return p;
    },
    async columnType(t, column, type) {
      try {
        const r = await columnTypeChange(sql, refOf(t), column, type.text);
        return { current: r.current, currentOid: r.current_oid, currentTypmod: r.current_typmod, newOid: r.new_oid, binaryCoercible: r.binary_coercible };
      } catch {
        // A type name PostgreSQL cannot read: say nothing is known (the run itself will say more).
        return { current: null, currentOid: null, currentTypmod: -1, newOid: null, binaryCoercible: false };
      }
    },
    async impact(f, stmt) {
      const impact = await estimateImpact(sql, f, stmt, []);
      return impact ? impact.rows : null;
    },
  };
}

/** One line: what the migration means for a live database. */
export function verdictOf(statements: number, findings: PlanFinding[]): string {
  const count = (k: string) => findings.filter((f) => f.kind === k).length;
  const destructive = count("destructive");
  const security = count("security");
  const heavyLocks = findings.filter((f) => f.kind === "locking" && f.severity !== "info");
  const n = `${statements} statement${statements === 1 ? "" : "s"}`;
  const worst = findings.find((f) => f.kind !== "locking" && f.severity === "danger") ?? findings.find((f) => f.kind !== "locking");
  if (destructive || security) {
    const parts = [destructive && `${destructive} destructive`, security && `${security} security`, heavyLocks.length && `${heavyLocks.length} locking`].filter(
      Boolean,
    );
    return `needs approval: ${parts.join(", ")} (${n}); first: ${firstClause(worst!.message)}`;
  }
  if (heavyLocks.length) {
    const rows = heavyLocks.flatMap((f) => f.tables).reduce((sum, t) => sum + t.rows, 0);
    const bytes = heavyLocks.flatMap((f) => f.tables).reduce((sum, t) => sum + t.bytes, 0);
    const rewrites = heavyLocks.some((f) => f.lock?.rewrites);
    return `locks existing tables: ${heavyLocks.length} locking (${formatRows(rows)}, ${formatBytes(bytes)}${rewrites ? ", rewrites" : ""}) (${n}); nothing destructive`;
  }
  return `safe: ${n}, nothing destructive, no security change, no long lock`;
}

const firstClause = (message: string) => {
  const cut = message.split(/:\s/)[0]!;
  return cut.length > 120 ? `${cut.slice(0, 120)}…` : cut;
};

/** The wire shape of a plan (CLI `plan --json`, GET /admin/v1/migrations/plan): snake_case. */
export function planJson(p: MigrationPlan, approval?: { approvedBy: string; approvedAt: Date; note: string | null } | null) {
  return {
    version: p.version,
    name: p.name,
    verdict: p.verdict,
    needs_approval: p.needsApproval,
    approved: approval ? { by: approval.approvedBy, at: approval.approvedAt.toISOString(), note: approval.note } : null,
    checksum: p.checksum,
    statements: p.statements,
    error: p.error,
    findings: p.findings.map((f) => ({
      kind: f.kind,
      severity: f.severity,
      statement: f.statement,
      message: f.message,
      line: f.line,
      tables: f.tables,
      ...(f.lock ? { lock: f.lock } : {}),
    })),
  };
}
