// How many rows a dangerous statement puts at stake. For whole tables (TRUNCATE, DROP TABLE,
// DELETE/UPDATE without WHERE, ALTER … DROP) the planner's estimate (EXPLAIN of a scan) is
// replaced by an exact count when the table is small enough to count within a short time limit —
// a never-analysed table's estimate is a guess of hundreds of rows even when it is empty. A
// column-free WHERE is estimated by EXPLAIN of the statement itself (plain EXPLAIN never executes).
// Runs in its own read-only transaction that is always rolled back.
import type { Sql, Tx } from "../../db/pool.ts";
import { postgresErrorOf } from "../errors.ts";
import type { Finding } from "./guard.ts";
import { ident } from "./ident.ts";
import { bindParams, nodeKind, type ParsedStatement } from "./parser.ts";

export interface Impact {
  /** Rows deleted, updated or removed with the object. */
  rows: number;
  /** true: counted; false: the planner's estimate. */
  exact: boolean;
}

const EXPLAINABLE = new Set(["SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);
/** Tables estimated above this many rows are not counted. */
const COUNT_LIMIT = 1_000_000;

export async function estimateImpact(sql: Sql, finding: Finding, stmt: ParsedStatement, params: unknown[]): Promise<Impact | null> {
  try {
    return await sql.begin("read only", async (tx) => {
      await tx`select set_config('statement_timeout', '2s', true)`;
      let impact: Impact | null = null;
      if (finding.explainable && EXPLAINABLE.has(nodeKind(stmt.node)[0])) {
        // Safe to send as text: it is the caller's own statement, which the console would run
        // anyway; prefixed by EXPLAIN (no ANALYZE) it is only planned.
        const [plan] = await tx.unsafe(`EXPLAIN (FORMAT JSON) ${stmt.text}`, bindParams(tx, stmt, params));
        impact = { rows: modifiedRows(planOf(plan)), exact: false };
      } else if (finding.tables.length || finding.schemas.length) {
        impact = { rows: 0, exact: true };
        for (const t of finding.tables) add(impact, await tableRows(tx, t.schema ? `${ident(t.schema)}.${ident(t.name)}` : ident(t.name)));
        if (finding.schemas.length) {
          const tables = await tx<{ schema: string; name: string }[]>`
            select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any(${finding.schemas}::text[]) and c.relkind in ('r', 'p', 'm')`;
          for (const t of tables) add(impact, await tableRows(tx, `${ident(t.schema)}.${ident(t.name)}`));
        }
      }
      throw new Rollback(impact);
    });
  } catch (err) {
    if (err instanceof Rollback) return err.impact;
    return null; // no estimate (e.g. the table is created earlier in the same batch)
  }
}

function add(total: Impact, part: Impact) {
  total.rows += part.rows;
  total.exact &&= part.exact;
}

async function tableRows(tx: Tx, table: string): Promise<Impact> {
  // Safe: `table` is built from ident() above.
  const [plan] = await tx.unsafe(`EXPLAIN (FORMAT JSON) SELECT FROM ${table}`);
  const estimate = Number(planOf(plan)["Plan Rows"] ?? 0);
  if (estimate > COUNT_LIMIT) return { rows: estimate, exact: false };
  try {
    const [row] = await tx.savepoint((sp) => sp.unsafe(`SELECT count(*)::float8 AS n FROM ${table}`));
    return { rows: Number(row?.n ?? 0), exact: true };
  } catch (err) {
    if (postgresErrorOf(err)?.code !== "57014") throw err; // too slow to count: keep the estimate
    return { rows: estimate, exact: false };
  }
}

/** Thrown to leave the transaction by rollback while carrying the answer out. */
class Rollback extends Error {
  constructor(readonly impact: Impact | null) {
    super("rollback");
  }
}

type Plan = Record<string, unknown>;

function planOf(row: Record<string, unknown> | undefined): Plan {
  const value = row?.["QUERY PLAN"];
  const doc = typeof value === "string" ? JSON.parse(value) : value;
  return ((Array.isArray(doc) ? doc[0] : doc)?.Plan ?? {}) as Plan;
}

/** Rows reaching every ModifyTable node (the node itself reports 0 without RETURNING). */
function modifiedRows(plan: Plan): number {
  const children = (plan.Plans as Plan[] | undefined) ?? [];
  if (plan["Node Type"] === "ModifyTable") return Number(children[0]?.["Plan Rows"] ?? 0);
  return children.reduce((sum, c) => sum + modifiedRows(c), 0);
}
