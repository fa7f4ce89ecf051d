// Constraints (pg_constraint): primary keys, unique keys, foreign keys (with the referenced table
// and actions), checks, exclusions, NOT NULLs — of the tables of some schemas, of one table, or the
// foreign keys pointing at one table. Columns come in key order.
import type { Queryable } from "./queryable.ts";

export type ConstraintType = "primary_key" | "unique" | "foreign_key" | "check" | "exclusion" | "not_null" | "trigger";

const CONTYPE: Record<ConstraintType, string> = {
  primary_key: "p",
  unique: "u",
  foreign_key: "f",
  check: "c",
  exclusion: "x",
  not_null: "n",
  trigger: "t",
};

export type ForeignKeyAction = "no action" | "restrict" | "cascade" | "set null" | "set default";

export interface ConstraintRow {
  name: string;
  /** A type this PostgreSQL has beyond ConstraintType comes as its pg_constraint.contype letter. */
  type: ConstraintType | (string & {});
  /** The constrained table. */
  relid: number;
  schema: string;
  table: string;
  /** The table is a partition (its keys are its parent's, seen again). */
  partition: boolean;
  columns: string[];
  /** Foreign keys: the referenced table and columns (null / [] otherwise). */
  ref_schema: string | null;
  ref_table: string | null;
  ref_columns: string[];
  on_delete: ForeignKeyAction | null;
  on_update: ForeignKeyAction | null;
  /** pg_get_constraintdef(), e.g. "PRIMARY KEY (id)", "CHECK (price > 0)". */
  definition: string;
}

/**
 * The constraints of every table in some schemas (in catalog order, see index.ts), those a table
 * holds, or the foreign keys other tables hold on it (`referencing`); the last two by name.
 */
export type ConstraintScope = { schemas: readonly string[] } | { relid: number } | { referencing: number };

export function listConstraints(sql: Queryable, scope: ConstraintScope, types?: readonly ConstraintType[]) {
  const where =
    "schemas" in scope
      ? sql`n.nspname = any(${scope.schemas as string[]})`
      : "relid" in scope
        ? sql`con.conrelid = ${scope.relid}::oid`
        : sql`con.confrelid = ${scope.referencing}::oid`;
  const ofType = types ? sql`and con.contype::text = any(${types.map((t) => CONTYPE[t])})` : sql``;
  const order = "schemas" in scope ? sql`order by con.ctid` : sql`order by con.conname`;
  return sql<ConstraintRow[]>`
    select con.conname as name,
      case con.contype when 'p' then 'primary_key' when 'u' then 'unique' when 'f' then 'foreign_key'
                       when 'c' then 'check' when 'x' then 'exclusion' when 'n' then 'not_null'
                       when 't' then 'trigger' else con.contype::text end as type,
      con.conrelid::int8::float8 as relid, n.nspname as schema, c.relname as table, c.relispartition as partition,
      array(select a.attname::text from unnest(con.conkey) with ordinality k(num, ord)
            join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord) as columns,
      fn.nspname as ref_schema, fc.relname as ref_table,
      array(select a.attname::text from unnest(con.confkey) with ordinality k(num, ord)
            join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.ord) as ref_columns,
      case con.confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                           when 'n' then 'set null' when 'd' then 'set default' end as on_delete,
      case con.confupdtype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                           when 'n' then 'set null' when 'd' then 'set default' end as on_update,
      pg_get_constraintdef(con.oid, true) as definition
    from pg_constraint con
      join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
      left join pg_class fc on fc.oid = con.confrelid left join pg_namespace fn on fn.oid = fc.relnamespace
    where ${where} ${ofType}
    ${order}`;
}
