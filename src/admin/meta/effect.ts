// Classification by effect: a DELETE, UPDATE or MERGE is destructive when its plan touches every row
// of its target, whatever its WHERE says. `where id = id` and `where id is not null` name a column,
// so the parse tree calls them filtered; the planner knows better (it reduces both to no filter at
// all on a NOT NULL column). Each such statement is planned with EXPLAIN (never ANALYZE) in a
// read-only transaction that is rolled back, on the console's own connection (its role).
//
// Two signs of "every row", on each ModifyTable node of the plan:
// - structural: below it, no condition of any kind (Filter, Index Cond, Join…, One-Time Filter) and
//   no join or limit: the scan returns the whole relation;
// - estimated: the planner expects at least 90% of the relation's rows (and at least 2) — for
//   filters that keep nearly everything (`where n is not null`) and MERGEs joining the table to
//   itself or to a constant (`using t s on t.id = s.id … then delete`).
//
// Traps:
// - A statement that cannot be planned before the batch runs (its table is created or renamed
//   earlier in the same batch, or it is in a DO block and uses its variables) cannot be judged, so
//   it needs confirm too ("write_unplanned"). A privilege error (42501) is not that: the statement
//   would fail the same way when run.
// - EXPLAIN ANALYZE and PREPARE carry their statement inside: its text is cut out of theirs with
//   the scanner (libpg-query has no deparser). A PREPARE's `$n` are planned generically.
// - Estimates are estimates: on a never-analysed table a filter such as `id > 0` is guessed at a
//   third of the rows. The structural sign does not depend on statistics.
import type { Sql, Tx } from "../../db/pool.ts";
import { postgresErrorOf } from "../errors.ts";
import { doBlockStatements, type DangerKind, type Finding, type TableName } from "./guard.ts";
import { ident } from "./ident.ts";
import { ByteText, bindParams, nodeKind, pgQuery, walk, type ParsedStatement } from "./parser.ts";

/** A write to plan: the text EXPLAIN takes, whether the batch's params bind to it. */
interface PlanTarget {
  index: number;
  statement: string;
  text: string;
  stmt: ParsedStatement | null;
  generic: boolean;
  /** Top-level statement, so the impact estimate may EXPLAIN it again. */
  topLevel: boolean;
}

const EXPLAINABLE = new Set(["SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);
const WRITE_KINDS = new Set(["delete_without_where", "update_without_where"]);
const MAX_DEPTH = 4;
const NEARLY_ALL = 0.9;

/** Findings for every-row writes the parse tree could not see. `known`: the guard's findings. */
export async function inspectEffects(sql: Sql, stmts: ParsedStatement[], params: unknown[], known: Finding[]): Promise<Finding[]> {
  const targets: PlanTarget[] = [];
  for (const [index, s] of stmts.entries()) {
    if (known.some((f) => f.index === index && WRITE_KINDS.has(f.kind))) continue; // already asks for confirm
    targets.push(...(await planTargets(index, s, s, 0)));
  }
  if (!targets.length) return [];
  const found: Finding[] = [];
  try {
    await sql.begin("read only", async (tx) => {
      await tx`select set_config('statement_timeout', '2s', true)`;
      for (const t of targets) found.push(...(await judge(tx, t, params)));
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  return found;
}

class Rollback extends Error {}

/** The writes in one statement that can take EXPLAIN, with the text to give it. */
async function planTargets(index: number, top: ParsedStatement, s: ParsedStatement, depth: number): Promise<PlanTarget[]> {
  const [kind, body] = nodeKind(s.node);
  const base = { index, statement: top.text };
  if (EXPLAINABLE.has(kind)) {
    return modifies(s.node) ? [{ ...base, text: s.text, stmt: depth === 0 ? s : null, generic: false, topLevel: depth === 0 }] : [];
  }
  if (kind === "ExplainStmt" && modifies(body.query) && explainAnalyzes(body)) {
    const inner = await innerText(s.text, "explain");
    return inner ? [{ ...base, text: inner, stmt: depth === 0 ? s : null, generic: false, topLevel: false }] : [unplannable(base)];
  }
  if (kind === "PrepareStmt" && modifies(body.query)) {
    const inner = await innerText(s.text, "prepare");
    return inner ? [{ ...base, text: inner, stmt: null, generic: true, topLevel: false }] : [unplannable(base)];
  }
  if (kind === "DoStmt" && depth < MAX_DEPTH) {
    const out: PlanTarget[] = [];
    for (const inner of (await doBlockStatements(body)).statements) out.push(...(await planTargets(index, top, inner, depth + 1)));
    return out;
  }
  return [];
}

/** A target with no text: judged unplannable. */
const unplannable = (base: { index: number; statement: string }): PlanTarget => ({ ...base, text: "", stmt: null, generic: false, topLevel: false });

/** Whether a tree deletes or updates rows (MERGE: with a DELETE or UPDATE action). */
function modifies(node: unknown): boolean {
  let found = false;
  walk(node, (key, value) => {
    if (found) return false;
    if (key === "ExplainStmt") return explainAnalyzes(value as Record<string, unknown>);
    if (key === "DeleteStmt" || key === "UpdateStmt") found = true;
    if (key === "MergeWhenClause") {
      const cmd = (value as { commandType?: string }).commandType;
      if (cmd === "CMD_DELETE" || cmd === "CMD_UPDATE") found = true;
    }
    return !found;
  });
  return found;
}

function explainAnalyzes(v: Record<string, unknown>): boolean {
  return ((v.options ?? []) as { DefElem?: { defname?: string; arg?: unknown } }[]).some((o) => {
    if (o.DefElem?.defname !== "analyze") return false;
    const arg = o.DefElem.arg as { Boolean?: { boolval?: boolean }; String?: { sval?: string } } | undefined;
    if (arg === undefined) return true;
    if (arg.Boolean) return arg.Boolean.boolval === true;
    return !["false", "off", "0", "no"].includes(String(arg.String?.sval ?? "on").toLowerCase());
  });
}

/** The statement inside `EXPLAIN [options] stmt` or `PREPARE name [(types)] AS stmt`. */
async function innerText(text: string, outer: "explain" | "prepare"): Promise<string | null> {
  const pg = await pgQuery();
  const bytes = new ByteText(text);
  const tokens = (await pg.scan(text)).tokens;
  let i = 1;
  if (outer === "explain") {
    if (tokens[i]?.text === "(") {
      for (let depth = 0; i < tokens.length; i++) {
        if (tokens[i]!.text === "(") depth++;
        else if (tokens[i]!.text === ")" && --depth === 0) break;
      }
      i++;
    } else {
      while (i < tokens.length && ["analyze", "analyse", "verbose"].includes(tokens[i]!.text.toLowerCase())) i++;
    }
  } else {
    for (let depth = 0; i < tokens.length; i++) {
      const t = tokens[i]!.text.toLowerCase();
      if (t === "(") depth++;
      else if (t === ")") depth--;
      else if (t === "as" && depth === 0) break;
    }
    i++;
  }
  const start = tokens[i]?.start;
  return start === undefined ? null : bytes.slice(start);
}

type Plan = Record<string, unknown>;

async function judge(tx: Tx, t: PlanTarget, params: unknown[]): Promise<Finding[]> {
  let plan: Plan;
  try {
    if (!t.text) throw new Error("no statement text");
    // Safe to send as text: the caller's own statement, which the console would run anyway;
    // prefixed by EXPLAIN (no ANALYZE) it is only planned. A savepoint keeps the next target's
    // EXPLAIN working after this one fails.
    const options = `FORMAT JSON, VERBOSE${t.generic ? ", GENERIC_PLAN" : ""}`;
    const bound = t.stmt && !t.generic ? bindParams(tx, t.stmt, params) : [];
    const [row] = await tx.savepoint((sp) => sp.unsafe(`EXPLAIN (${options}) ${t.text}`, bound));
    plan = planOf(row);
  } catch (err) {
    const code = postgresErrorOf(err)?.code;
    if (code === "42501") return []; // it would fail the same way when run
    if (code === "57014") return []; // too slow even to plan: no judgement rather than no console
    const why = postgresErrorOf(err)?.message ?? "its text could not be isolated";
    return [
      finding(
        t,
        "write_unplanned",
        `a DELETE/UPDATE/MERGE that cannot be planned before the batch runs (${why}): what it touches cannot be checked`,
        [],
        false,
      ),
    ];
  }
  const out: Finding[] = [];
  for (const node of modifyNodes(plan)) {
    const op = String(node.Operation);
    const target: TableName = { schema: typeof node.Schema === "string" ? node.Schema : null, name: String(node["Relation Name"] ?? "") };
    const child = ((node.Plans as Plan[] | undefined) ?? []).find((p) => p["Parent Relationship"] === "Outer");
    if (!child || !target.name) continue;
    const kind: DangerKind = op === "Delete" ? "delete_every_row" : op === "Update" ? "update_every_row" : "merge_every_row";
    const where = `${target.schema ? `${target.schema}.` : ""}${target.name}`;
    if (unfiltered(child)) {
      out.push(finding(t, kind, `${op.toUpperCase()} on ${where} is planned with no filter: it touches every row, whatever its WHERE says`, [target], false));
      continue;
    }
    const rows = Number(child["Plan Rows"] ?? 0);
    const total = await relationRows(tx, target);
    if (total !== null && rows >= 2 && rows >= NEARLY_ALL * total) {
      out.push(
        finding(
          t,
          kind,
          `${op.toUpperCase()} on ${where} is planned to touch ~${Math.round(rows)} of ~${Math.round(total)} rows: nearly every row`,
          [target],
          t.topLevel,
        ),
      );
    }
  }
  return out;
}

function finding(t: PlanTarget, kind: DangerKind, reason: string, tables: TableName[], explainable: boolean): Finding {
  // The impact estimate EXPLAINs the statement when explainable, otherwise counts the tables.
  return { index: t.index, statement: t.statement, kind, reason, tables: explainable ? [] : tables, schemas: [], explainable };
}

function planOf(row: Record<string, unknown> | undefined): Plan {
  const value = row?.["QUERY PLAN"];
  const doc = typeof value === "string" ? JSON.parse(value) : value;
  return ((Array.isArray(doc) ? doc[0] : doc)?.Plan ?? {}) as Plan;
}

function modifyNodes(plan: Plan): Plan[] {
  const out: Plan[] = [];
  const visit = (p: Plan) => {
    if (p["Node Type"] === "ModifyTable" && ["Delete", "Update", "Merge"].includes(String(p.Operation))) out.push(p);
    for (const c of (p.Plans as Plan[] | undefined) ?? []) visit(c);
  };
  visit(plan);
  return out;
}

const CONDITIONS = ["Filter", "Index Cond", "Recheck Cond", "TID Cond", "Join Filter", "Hash Cond", "Merge Cond", "One-Time Filter", "Run Condition"];
const REDUCING = /Join|Nested Loop|Limit|SetOp|Unique|Aggregate|Group|WindowAgg|Sample/;

/** Nothing below this node can leave a row out (subplans in SET or WHERE expressions aside). */
function unfiltered(p: Plan): boolean {
  if (REDUCING.test(String(p["Node Type"] ?? ""))) return false;
  if (CONDITIONS.some((c) => p[c] !== undefined)) return false;
  const children = ((p.Plans as Plan[] | undefined) ?? []).filter((c) => !["SubPlan", "InitPlan"].includes(String(c["Parent Relationship"])));
  return children.every(unfiltered);
}

/** The planner's row count for the whole relation (children and partitions included). */
async function relationRows(tx: Tx, t: TableName): Promise<number | null> {
  try {
    // Safe: both names come from PostgreSQL's own plan and go through ident().
    const name = t.schema ? `${ident(t.schema)}.${ident(t.name)}` : ident(t.name);
    const [row] = await tx.savepoint((sp) => sp.unsafe(`EXPLAIN (FORMAT JSON) SELECT FROM ${name}`));
    return Number(planOf(row)["Plan Rows"] ?? 0);
  } catch {
    return null;
  }
}
