// The table editor: one table in full, and creating, changing and dropping tables. Each edit is one
// transaction (a failing type change leaves the table exactly as it was); names go through
// ident(), types through typeName(), defaults through expression(), comments through literal().
import type { Sql, Tx } from "../../db/pool.ts";
import type { Queryable } from "./introspect/queryable.ts";
import { AdminErrors, postgresErrorOf } from "../errors.ts";
import { handToConsole, inDdlTransaction, type RunDdl, type StatementLog } from "./ddl.ts";
import { checkName, ident, literal, qualified, splitQualified } from "./ident.ts";
import { listPolicies, type PolicyInfo } from "./introspect/policies.sql.ts";
import {
  findTable,
  listColumns,
  listConstraints,
  listForeignKeys,
  listIndexes,
  listTriggers,
  type ColumnInfo,
  type ConstraintInfo,
  type ForeignKeyInfo,
  type IndexInfo,
  type TriggerInfo,
} from "./introspect/tables.sql.ts";
import type { ColumnInput, CreateTableInput, PatchTableInput } from "./model.ts";
import { defaultExpression, typeName } from "./user-sql.ts";

export interface TableDetail {
  schema: string;
  name: string;
  rls_enabled: boolean;
  comment: string | null;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
  constraints: ConstraintInfo[];
  foreign_keys: ForeignKeyInfo[];
  referenced_by: ForeignKeyInfo[];
  policies: Omit<PolicyInfo, "schema" | "table">[];
  triggers: TriggerInfo[];
}

export async function getTable(sql: Queryable, schema: string, name: string): Promise<TableDetail> {
  const t = await findTable(sql, schema, name);
  if (!t) throw AdminErrors.notFound(`Table ${schema}.${name}`);
  const [columns, indexes, constraints, foreignKeys, referencedBy, policies, triggers] = await Promise.all([
    listColumns(sql, t.oid),
    listIndexes(sql, t.oid),
    listConstraints(sql, t.oid),
    listForeignKeys(sql, t.oid, "out"),
    listForeignKeys(sql, t.oid, "in"),
    listPolicies(sql, { schema, table: name }),
    listTriggers(sql, t.oid),
  ]);
  return {
    schema: t.schema,
    name: t.name,
    rls_enabled: t.rls_enabled,
    comment: t.comment,
    columns: [...columns],
    indexes: [...indexes],
    constraints: [...constraints],
    foreign_keys: foreignKeys,
    referenced_by: referencedBy,
    policies: policies.map(({ schema: _s, table: _t, ...p }) => p),
    triggers: [...triggers],
  };
}

export async function createTable(sql: Sql, log: StatementLog, input: CreateTableInput): Promise<TableDetail> {
  const schema = checkName(input.schema ?? "public", "schema");
  const name = checkName(input.name, "name");
  const pk = input.columns.filter((c) => c.primary_key).map((c) => c.name);
  return inDdlTransaction(sql, log, async (run, tx) => {
    const defs: string[] = [];
    for (const c of input.columns) {
      defs.push(await columnDefinition(tx, c, { schema, name, inlinePrimaryKey: pk.length === 1, pk }));
    }
    if (pk.length > 1) defs.push(`PRIMARY KEY (${pk.map(ident).join(", ")})`);
    await run(`CREATE TABLE ${qualified(schema, name)} (${defs.join(", ")})`);
    await handToConsole(run, tx, schema, name);
    if (input.rls) await run(`ALTER TABLE ${qualified(schema, name)} ENABLE ROW LEVEL SECURITY`);
    if (input.comment != null) await run(`COMMENT ON TABLE ${qualified(schema, name)} IS ${literal(input.comment)}`);
    for (const c of input.columns) await commentColumn(run, schema, name, c.name, c.comment);
    return getTable(tx, schema, name);
  }).catch(translateDdlError);
}

export async function alterTable(sql: Sql, log: StatementLog, schema: string, name: string, patch: PatchTableInput): Promise<TableDetail> {
  return inDdlTransaction(sql, log, async (run, tx) => {
    const t = await findTable(tx, schema, name);
    if (!t) throw AdminErrors.notFound(`Table ${schema}.${name}`);
    const table = qualified(schema, name);
    for (const c of patch.add_columns ?? []) {
      const def = await columnDefinition(tx, c, { schema, name, inlinePrimaryKey: !!c.primary_key, pk: [] });
      await run(`ALTER TABLE ${table} ADD COLUMN ${def}`);
      await commentColumn(run, schema, name, c.name, c.comment);
    }
    for (const c of patch.alter_columns ?? []) {
      const column = ident(c.name);
      if (c.type !== undefined) {
        // USING converts every existing value the way a cast would; a value that does not
        // convert fails the whole edit with PostgreSQL's error.
        const type = await typeName(c.type);
        await run(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE ${type} USING ${column}::${type}`);
      }
      if (c.nullable !== undefined) await run(`ALTER TABLE ${table} ALTER COLUMN ${column} ${c.nullable ? "DROP" : "SET"} NOT NULL`);
      if (c.default !== undefined) {
        await run(
          c.default === null
            ? `ALTER TABLE ${table} ALTER COLUMN ${column} DROP DEFAULT`
            : `ALTER TABLE ${table} ALTER COLUMN ${column} SET DEFAULT ${await defaultExpression(c.default)}`,
        );
      }
      await commentColumn(run, schema, name, c.name, c.comment);
      if (c.rename !== undefined && c.rename !== c.name) await run(`ALTER TABLE ${table} RENAME COLUMN ${column} TO ${ident(c.rename)}`);
    }
    for (const c of patch.drop_columns ?? []) await run(`ALTER TABLE ${table} DROP COLUMN ${ident(c)}`);
    if (patch.rls !== undefined) await run(`ALTER TABLE ${table} ${patch.rls ? "ENABLE" : "DISABLE"} ROW LEVEL SECURITY`);
    if (patch.comment !== undefined) await run(`COMMENT ON TABLE ${table} IS ${patch.comment === null ? "NULL" : literal(patch.comment)}`);
    let finalName = name;
    if (patch.rename !== undefined && patch.rename !== name) {
      await run(`ALTER TABLE ${table} RENAME TO ${ident(patch.rename)}`);
      finalName = patch.rename;
    }
    return getTable(tx, schema, finalName);
  }).catch(translateDdlError);
}

/** One object that depends on what was to be dropped, as PostgreSQL reports it. */
export interface Dependent {
  object: string;
  depends_on: string;
}

export interface DropResult {
  schema: string;
  name: string;
  dropped: true;
  /** What CASCADE removed with the table (empty when nothing depended on it). */
  cascaded: Dependent[];
}

export async function dropTable(sql: Sql, log: StatementLog, schema: string, name: string, cascade: boolean): Promise<DropResult> {
  return inDdlTransaction(sql, log, async (run, tx) => {
    if (!(await findTable(tx, schema, name))) throw AdminErrors.notFound(`Table ${schema}.${name}`);
    const table = qualified(schema, name);
    // Try without CASCADE first (in a savepoint): PostgreSQL itself lists what depends on the table.
    let dependents: Dependent[] = [];
    try {
      await tx.savepoint((sp) => {
        log.statements.push(`DROP TABLE ${table}`);
        return sp.unsafe(`DROP TABLE ${table}`);
      });
      return { schema, name, dropped: true as const, cascaded: [] };
    } catch (err) {
      const pg = postgresErrorOf(err);
      if (pg?.code !== "2BP01") throw err;
      dependents = parseDependents(pg.detail);
      if (!cascade) throw hasDependents(`${schema}.${name}`, dependents);
    }
    await run(`DROP TABLE ${table} CASCADE`);
    return { schema, name, dropped: true as const, cascaded: dependents };
  }).catch(translateDdlError);
}

interface ColumnContext {
  /** The table the column belongs to. */
  schema: string;
  name: string;
  inlinePrimaryKey: boolean;
  /** The primary key being created with the table (for self-references). */
  pk: string[];
}

async function columnDefinition(tx: Tx, c: ColumnInput, ctx: ColumnContext): Promise<string> {
  const parts = [ident(c.name), await typeName(c.type)];
  if (c.identity) parts.push(`GENERATED ${c.identity === "always" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`);
  if (c.nullable === false) parts.push("NOT NULL");
  if (c.default !== undefined && c.default !== null) parts.push(`DEFAULT ${await defaultExpression(c.default)}`);
  if (c.primary_key && ctx.inlinePrimaryKey) parts.push("PRIMARY KEY");
  if (c.unique) parts.push("UNIQUE");
  if (c.references) {
    const ref = splitQualified(c.references.table, ctx.schema);
    const self = ref.schema === ctx.schema && ref.name === ctx.name;
    const column = c.references.column ?? (self && ctx.pk.length === 1 ? ctx.pk[0]! : await primaryKeyColumn(tx, ref.schema, ref.name));
    parts.push(`REFERENCES ${qualified(ref.schema, ref.name)} (${ident(column)})`);
    if (c.references.on_delete) parts.push(`ON DELETE ${c.references.on_delete.toUpperCase()}`);
  }
  return parts.join(" ");
}

async function commentColumn(run: RunDdl, schema: string, table: string, column: string, comment: string | null | undefined) {
  if (comment === undefined) return;
  await run(`COMMENT ON COLUMN ${qualified(schema, table)}.${ident(column)} IS ${comment === null ? "NULL" : literal(comment)}`);
}

/** The single primary key column of a table (what a foreign key points at by default). */
export async function primaryKeyColumn(tx: Queryable, schema: string, name: string): Promise<string> {
  const pk = await primaryKey(tx, schema, name);
  if (pk.length !== 1) {
    throw AdminErrors.validation(`${schema}.${name} has ${pk.length ? "a composite" : "no"} primary key; name the referenced column`);
  }
  return pk[0]!.name;
}

export async function primaryKey(tx: Queryable, schema: string, name: string): Promise<{ name: string; type: string }[]> {
  const t = await findTable(tx, schema, name);
  if (!t) throw AdminErrors.validation(`Table ${schema}.${name} not found`);
  return (await listColumns(tx, t.oid)).filter((c) => c.primary_key).map((c) => ({ name: c.name, type: c.type }));
}

export function hasDependents(what: string, dependents: Dependent[]) {
  return AdminErrors.conflict("has_dependents", `Other objects depend on ${what}; drop them first or pass cascade=true`, dependents);
}

/** PostgreSQL's DETAIL for 2BP01: one "X depends on Y" per line (and "and N other objects"). */
export function parseDependents(detail: string | undefined): Dependent[] {
  return (detail ?? "")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const m = /^(.*) depends on (.*)$/.exec(line);
      return m ? { object: m[1]!, depends_on: m[2]! } : { object: line, depends_on: "" };
    });
}

/** Dependency errors of an edit (dropping a column a view uses) are 409s like a table drop's. */
function translateDdlError(err: unknown): never {
  const pg = postgresErrorOf(err);
  if (pg?.code === "2BP01") throw hasDependents("it", parseDependents(pg.detail));
  throw err;
}
