// The SQL console's statement guard: which statements destroy data or open access, decided on
// PostgreSQL's own parse tree (never on text, which comments, quoting and CTEs defeat). Pure apart
// from the parser; the caller decides what to do with the findings: a refusal (REFUSED_KINDS:
// server files, role changes, replication role) is a 403 whatever the caller confirms; any other
// finding is a 409 unless confirmed. What a DELETE/UPDATE/MERGE really touches is judged on its
// plan, with the database, in effect.ts.
//
// Traps, kept here on purpose:
// - DML hides in CTEs (`WITH d AS (DELETE FROM t) SELECT …`), PREPARE, EXPLAIN ANALYZE, rules and
//   SQL-function bodies: the whole tree is walked, except plain EXPLAIN, which does not execute.
// - `WHERE true` or `WHERE 1 = 1` filters nothing: a WHERE that names no column counts as none.
//   One that names a column may still select every row (`id = id`): effect.ts plans it.
// - ALTER DEFAULT PRIVILEGES carries its GRANT as a bare body, not a `GrantStmt` node; ALTER
//   ROLE/DATABASE … SET carries its SET as a bare body too.
// - DO bodies are strings: PL/pgSQL ones are parsed and each embedded statement classified; a
//   dynamic EXECUTE of a non-constant string, or a DO in another language, cannot be checked and is
//   dangerous by definition.
// - ALTER … DROP DEFAULT removes no data (it is AT_ColumnDefault without an expression): allowed.
import {
  copyRule,
  extensionRule,
  functionCallRule,
  grantRule,
  policyRule,
  REFUSED_KINDS,
  rlsRule,
  roleAttributeRule,
  variableSetRule,
  type RefusedKind,
  type Rule,
} from "./access-rules.ts";
import { nodeKind, parseBatch, pgQuery, walk, type ParsedStatement } from "./parser.ts";

export { REFUSED_KINDS, type RefusedKind } from "./access-rules.ts";

export const DANGER_KINDS = [
  "drop",
  "drop_database",
  "truncate",
  "delete_without_where",
  "update_without_where",
  "delete_every_row",
  "update_every_row",
  "merge_every_row",
  "write_unplanned",
  "alter_drop",
  "alter_system",
  "grant_public",
  "grant_api_role",
  "disable_rls",
  "permissive_policy",
  "role_attribute",
  "do_block",
] as const;
export type DangerKind = (typeof DANGER_KINDS)[number];
export type FindingKind = DangerKind | RefusedKind;

export const isRefusal = (f: { kind: FindingKind }): boolean => (REFUSED_KINDS as readonly string[]).includes(f.kind);

/** A table whose rows a finding puts at risk, for the impact estimate. */
export interface TableName {
  schema: string | null;
  name: string;
}

export interface Finding {
  /** Index of the statement in the batch. */
  index: number;
  statement: string;
  kind: FindingKind;
  reason: string;
  /** Tables whose rows are at stake (TRUNCATE, DROP TABLE, ALTER TABLE … DROP, every-row writes). */
  tables: TableName[];
  /** Schemas dropped whole (their tables' rows are at stake). */
  schemas: string[];
  /** True for DELETE/UPDATE with a column-free WHERE: EXPLAIN of the statement estimates its rows. */
  explainable: boolean;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof obj(v).String === "object" ? (obj(obj(v).String).sval as string) : undefined);

/** Everything dangerous in a parsed batch, statement by statement, in order. */
export async function inspectBatch(stmts: ParsedStatement[]): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [index, s] of stmts.entries()) {
    for (const d of await classify(s.node, 0)) {
      out.push({ index, statement: s.text, kind: d.kind, reason: d.reason, tables: d.tables, schemas: d.schemas, explainable: d.explainable && d.depth === 0 });
    }
  }
  return out;
}

interface Danger {
  kind: FindingKind;
  reason: string;
  tables: TableName[];
  schemas: string[];
  explainable: boolean;
  /** 0: the statement itself; >0: found inside a DO block. */
  depth: number;
}

const MAX_DO_DEPTH = 4;

/** The dangers in one statement node (including those nested anywhere inside it). */
async function classify(node: unknown, depth: number): Promise<Danger[]> {
  const found: Danger[] = [];
  const doBodies: Obj[] = [];
  const add = (kind: FindingKind, reason: string, tables: TableName[] = [], explainable = false, schemas: string[] = []) =>
    found.push({ kind, reason, tables, schemas, explainable, depth });
  const rule = (r: Rule<FindingKind> | null) => {
    if (r) add(r.kind, r.reason);
  };
  walk(node, (key, value) => {
    const v = obj(value);
    switch (key) {
      case "ExplainStmt":
        // Plain EXPLAIN plans without executing; EXPLAIN ANALYZE runs the statement.
        return list(v.options).some((o) => obj(obj(o).DefElem).defname === "analyze" && optionOn(obj(obj(o).DefElem).arg));
      case "DropStmt": {
        const type = String(v.removeType ?? "OBJECT")
          .replace(/^OBJECT_/, "")
          .toLowerCase()
          .replace(/_/g, " ");
        const names = list(v.objects).map(objectName);
        const tables = v.removeType === "OBJECT_TABLE" || v.removeType === "OBJECT_MATVIEW" ? names.map(tableFromParts) : [];
        const schemas = v.removeType === "OBJECT_SCHEMA" ? names.map((n) => n.join(".")) : [];
        const what = `DROP ${type.toUpperCase()} ${names.map((n) => n.join(".")).join(", ")}${v.behavior === "DROP_CASCADE" ? " CASCADE" : ""}`;
        add("drop", `${what} removes ${names.length > 1 ? "them" : "it"}${tables.length || schemas.length ? " with all rows" : ""}`, tables, false, schemas);
        return true;
      }
      case "DropdbStmt":
        add("drop_database", `DROP DATABASE ${String(v.dbname)} removes the whole database`);
        return true;
      case "DropRoleStmt":
      case "DropOwnedStmt":
      case "DropTableSpaceStmt":
      case "DropSubscriptionStmt":
      case "DropUserMappingStmt":
        add(
          "drop",
          `${key
            .replace(/Stmt$/, "")
            .replace(/([a-z])([A-Z])/g, "$1 $2")
            .toUpperCase()} removes objects`,
        );
        return true;
      case "TruncateStmt":
        add(
          "truncate",
          "TRUNCATE removes every row",
          list(v.relations).map((r) => rangeVar(obj(r).RangeVar)),
        );
        return true;
      case "DeleteStmt":
      case "UpdateStmt": {
        const verb = key === "DeleteStmt" ? "DELETE" : "UPDATE";
        const reason = !v.whereClause
          ? `${verb} without WHERE affects every row`
          : !mentionsColumn(v.whereClause)
            ? `${verb} whose WHERE names no column affects every row (or none)`
            : null;
        if (reason && !obj(v.whereClause).CurrentOfExpr) {
          // With no WHERE at all every row is at stake (counted); a column-free WHERE is planned.
          add(key === "DeleteStmt" ? "delete_without_where" : "update_without_where", reason, v.whereClause ? [] : [rangeVar(v.relation)], !!v.whereClause);
        }
        return true;
      }
      case "AlterTableStmt":
        for (const c of list(v.cmds)) {
          const cmd = obj(obj(c).AlterTableCmd);
          const sub = String(cmd.subtype ?? "");
          rule(rlsRule(sub));
          if (sub.startsWith("AT_Drop") || sub === "AT_DetachPartition") {
            const what = sub
              .replace(/^AT_/, "")
              .replace(/([a-z])([A-Z])/g, "$1 $2")
              .toUpperCase();
            add("alter_drop", `ALTER ${String(v.objtype ?? "").replace(/^OBJECT_/, "")} … ${what}${cmd.name ? ` ${String(cmd.name)}` : ""}`, [
              rangeVar(v.relation),
            ]);
          }
        }
        return true;
      case "AlterDomainStmt":
        if (v.subtype === "X") add("alter_drop", "ALTER DOMAIN … DROP CONSTRAINT");
        return true;
      case "AlterPublicationStmt":
        if (v.action === "AP_DropObjects") add("alter_drop", "ALTER PUBLICATION … DROP stops publishing changes");
        return true;
      case "AlterExtensionContentsStmt":
        if (v.action === -1) add("alter_drop", "ALTER EXTENSION … DROP");
        return true;
      case "AlterOpFamilyStmt":
        if (v.isDrop) add("alter_drop", "ALTER OPERATOR FAMILY … DROP");
        return true;
      case "AlterTSConfigurationStmt":
        if (v.kind === "ALTER_TSCONFIG_DROP_MAPPING") add("alter_drop", "ALTER TEXT SEARCH CONFIGURATION … DROP MAPPING");
        return true;
      case "AlterSystemStmt":
        add("alter_system", "ALTER SYSTEM changes the server's configuration file");
        return true;
      case "CopyStmt":
        rule(copyRule(v));
        return true;
      case "FuncCall":
        rule(functionCallRule(v));
        return true;
      case "VariableSetStmt":
        rule(variableSetRule(v));
        return true;
      case "AlterRoleSetStmt":
      case "AlterDatabaseSetStmt":
        rule(variableSetRule(obj(v.setstmt)));
        return true;
      case "CreateExtensionStmt":
        rule(extensionRule(v));
        return true;
      case "GrantStmt":
        rule(grantRule(list(v.grantees), v.is_grant, "GRANT …"));
        return true;
      case "AlterDefaultPrivilegesStmt":
        rule(grantRule(list(obj(v.action).grantees), obj(v.action).is_grant, "ALTER DEFAULT PRIVILEGES … GRANT …"));
        return true;
      case "GrantRoleStmt":
        rule(grantRule(list(v.grantee_roles), v.is_grant, "GRANT role"));
        return true;
      case "CreatePolicyStmt":
        rule(policyRule(v, v.permissive === true, "CREATE POLICY"));
        return true;
      case "AlterPolicyStmt":
        rule(policyRule(v, true, "ALTER POLICY"));
        return true;
      case "AlterRoleStmt":
      case "CreateRoleStmt":
        rule(roleAttributeRule(key, v));
        return true;
      case "DoStmt":
        doBodies.push(v);
        return false;
      default:
        return true;
    }
  });
  for (const d of doBodies) found.push(...(await classifyDo(d, depth)));
  return found;
}

/** An option's value (`analyze`, `analyze true`, `analyze off`); JSON leaves out false booleans. */
function optionOn(arg: unknown): boolean {
  if (arg === undefined) return true;
  const a = obj(arg);
  if (a.Boolean) return obj(a.Boolean).boolval === true;
  const text = str(arg) ?? String(obj(a.Integer).ival ?? "1");
  return !["false", "off", "0", "no"].includes(text.toLowerCase());
}

function mentionsColumn(where: unknown): boolean {
  let seen = false;
  walk(where, (key) => {
    if (key === "ColumnRef") seen = true;
    return !seen;
  });
  return seen;
}

function rangeVar(v: unknown): TableName {
  const r = obj(v);
  return { schema: typeof r.schemaname === "string" ? r.schemaname : null, name: String(r.relname ?? "") };
}

function objectName(o: unknown): string[] {
  const items = list(obj(obj(o).List).items);
  if (items.length) return items.map((i) => str(i) ?? "?");
  const single = str(o);
  return single !== undefined ? [single] : ["?"];
}

function tableFromParts(parts: string[]): TableName {
  return parts.length >= 2 ? { schema: parts[parts.length - 2]!, name: parts[parts.length - 1]! } : { schema: null, name: parts[0]! };
}

/** A DO block: PL/pgSQL bodies are parsed and their statements classified; anything else is opaque. */
async function classifyDo(v: Obj, depth: number): Promise<Danger[]> {
  const opaque = (reason: string): Danger => ({ kind: "do_block", reason, tables: [], schemas: [], explainable: false, depth });
  if (depth >= MAX_DO_DEPTH) return [opaque("DO blocks nested too deeply to check")];
  const body = await doBlockStatements(v);
  const found: Danger[] = body.opaque.map(opaque);
  for (const s of body.statements) {
    for (const d of await classify(s.node, depth + 1)) found.push({ ...d, reason: `in a DO block: ${d.reason}`, explainable: false });
  }
  return found;
}

/**
 * The statements a DO block runs, as far as they can be known: its PL/pgSQL statements and the
 * constant strings it EXECUTEs. `opaque` says why the rest cannot be checked (another language, a
 * body that does not parse, a computed EXECUTE).
 */
export async function doBlockStatements(v: Obj): Promise<{ statements: ParsedStatement[]; opaque: string[] }> {
  const args = list(v.args).map((a) => obj(obj(a).DefElem));
  const body = str(args.find((a) => a.defname === "as")?.arg) ?? "";
  const language = (str(args.find((a) => a.defname === "language")?.arg) ?? "plpgsql").toLowerCase();
  if (language !== "plpgsql") return { statements: [], opaque: [`DO block in ${language} cannot be checked`] };
  const pg = await pgQuery();
  const tag = "$plinth_guard$";
  if (body.includes(tag)) return { statements: [], opaque: ["DO block cannot be checked"] };
  let tree: unknown;
  try {
    tree = await pg.parsePlPgSQL(`CREATE FUNCTION plinth_guard() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}`);
  } catch {
    return { statements: [], opaque: ["DO block does not parse as PL/pgSQL"] };
  }
  const queries: string[] = [];
  const dynamic: unknown[] = [];
  walk(tree, (key, value) => {
    const v = obj(value);
    if (key === "PLpgSQL_stmt_dynexecute" || key === "PLpgSQL_stmt_dynfors") dynamic.push(v.query);
    else if (key === "dynquery") dynamic.push(value);
    else if (key === "PLpgSQL_expr" && typeof v.query === "string") {
      queries.push(v.parseMode === 0 || v.parseMode === undefined ? v.query : `SELECT ${v.query}`);
      return false;
    }
    return true;
  });
  const opaque: string[] = [];
  for (const q of dynamic) {
    const text = await constantString(obj(obj(q).PLpgSQL_expr).query);
    if (text === null) opaque.push("DO block runs dynamic SQL (EXECUTE) that cannot be checked");
    else queries.push(text);
  }
  const statements: ParsedStatement[] = [];
  for (const q of queries) {
    try {
      statements.push(...(await parseBatch(q)));
    } catch {
      // assignments (`x := …`) and the like are not statements; they cannot modify data
    }
  }
  return { statements, opaque };
}

/** The value of an EXECUTE argument when it is a plain string constant; null otherwise. */
async function constantString(expr: unknown): Promise<string | null> {
  if (typeof expr !== "string") return null;
  const pg = await pgQuery();
  try {
    const tree = await pg.parse(`SELECT ${expr}`);
    const [kind, select] = nodeKind(tree.stmts?.[0]?.stmt);
    const targets = list(select.targetList);
    if (kind !== "SelectStmt" || targets.length !== 1 || (tree.stmts?.length ?? 0) !== 1) return null;
    const c = obj(obj(obj(obj(targets[0]).ResTarget).val).A_Const);
    const s = obj(c.sval).sval;
    return typeof s === "string" ? s : null;
  } catch {
    return null;
  }
}
