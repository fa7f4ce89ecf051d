// Relationship helpers: the foreign keys (and junction tables) that make the REST API embed one
// table in another. many_to_one and one_to_one add a key column to `from` pointing at `to`'s primary
// key (one_to_one makes it unique); many_to_many creates a junction table whose composite primary
// key holds both keys, which is what PostgREST (and src/schema-cache) recognises as a junction.
import type { Sql, Tx } from "../../db/pool.ts";
import { AdminErrors } from "../errors.ts";
import { handToConsole, inDdlTransaction, type RunDdl, type StatementLog } from "./ddl.ts";
import { ident, qualified, splitQualified } from "./ident.ts";
import { findTable } from "./introspect/tables.sql.ts";
import type { RelationshipInput } from "./model.ts";
import { primaryKey } from "./tables.ts";
import { typeName } from "./user-sql.ts";

export interface CreatedObject {
  kind: "column" | "foreign_key" | "unique" | "index" | "table" | "row_level_security";
  schema: string;
  table: string;
  name: string;
}

export async function createRelationship(sql: Sql, log: StatementLog, input: RelationshipInput): Promise<CreatedObject[]> {
  const from = splitQualified(input.from, "public");
  const to = splitQualified(input.to, from.schema);
  return inDdlTransaction(sql, log, async (run, tx) => {
    const target = await keyOf(tx, to.schema, to.name);
    if (input.type === "many_to_many") {
      const source = await keyOf(tx, from.schema, from.name);
      return junction(run, tx, input, from, source, to, target);
    }
    if (!(await findTable(tx, from.schema, from.name))) throw AdminErrors.validation(`Table ${from.schema}.${from.name} not found`);
    const column = input.column ?? keyColumnName(to.name);
    const table = qualified(from.schema, from.name);
    const created: CreatedObject[] = [];
    const note = (kind: CreatedObject["kind"], name: string) => created.push({ kind, schema: from.schema, table: from.name, name });
    const fk = objectName(from.name, column, "fkey");
    await run(`ALTER TABLE ${table} ADD COLUMN ${ident(column)} ${target.type}${input.nullable === false ? " NOT NULL" : ""}`);
    note("column", column);
    await run(
      `ALTER TABLE ${table} ADD CONSTRAINT ${ident(fk)} FOREIGN KEY (${ident(column)}) ` +
        `REFERENCES ${qualified(to.schema, to.name)} (${ident(target.column)})${onDelete(input.on_delete)}`,
    );
    note("foreign_key", fk);
    if (input.type === "one_to_one") {
      const unique = objectName(from.name, column, "key");
      await run(`ALTER TABLE ${table} ADD CONSTRAINT ${ident(unique)} UNIQUE (${ident(column)})`);
      note("unique", unique);
    } else {
      // PostgreSQL does not index the referencing side of a key; embeds and cascades need it.
      const index = objectName(from.name, column, "idx");
      await run(`CREATE INDEX ${ident(index)} ON ${table} (${ident(column)})`);
      note("index", index);
    }
    return created;
  });
}

interface Key {
  column: string;
  /** Safe SQL text of the key's type (re-rendered by typeName). */
  type: string;
  rls: boolean;
}

async function keyOf(tx: Tx, schema: string, name: string): Promise<Key> {
  const t = await findTable(tx, schema, name);
  if (!t) throw AdminErrors.validation(`Table ${schema}.${name} not found`);
  const pk = await primaryKey(tx, schema, name);
  if (pk.length !== 1) throw AdminErrors.validation(`${schema}.${name} needs a single-column primary key to be related`);
  return { column: pk[0]!.name, type: await typeName(pk[0]!.type), rls: t.rls_enabled };
}

async function junction(
  run: RunDdl,
  tx: Tx,
  input: RelationshipInput,
  from: { schema: string; name: string },
  source: Key,
  to: { schema: string; name: string },
  target: Key,
): Promise<CreatedObject[]> {
  const j = splitQualified(input.junction ?? `${from.name}_${to.name}`, from.schema);
  if (await findTable(tx, j.schema, j.name)) throw AdminErrors.conflict("already_exists", `Table ${j.schema}.${j.name} already exists`);
  const a = keyColumnName(from.name);
  let b = keyColumnName(to.name);
  if (a === b) b = `related_${b}`; // a table related to itself
  const table = qualified(j.schema, j.name);
  const action = onDelete(input.on_delete ?? "cascade");
  const fkA = objectName(j.name, a, "fkey");
  const fkB = objectName(j.name, b, "fkey");
  const index = objectName(j.name, b, "idx");
  await run(
    `CREATE TABLE ${table} (` +
      `${ident(a)} ${source.type} NOT NULL, ${ident(b)} ${target.type} NOT NULL, ` +
      `CONSTRAINT ${ident(objectName(j.name, "", "pkey"))} PRIMARY KEY (${ident(a)}, ${ident(b)}), ` +
      `CONSTRAINT ${ident(fkA)} FOREIGN KEY (${ident(a)}) REFERENCES ${qualified(from.schema, from.name)} (${ident(source.column)})${action}, ` +
      `CONSTRAINT ${ident(fkB)} FOREIGN KEY (${ident(b)}) REFERENCES ${qualified(to.schema, to.name)} (${ident(target.column)})${action})`,
  );
  // The primary key's index serves lookups by `a`; lookups from the other side need their own.
  await run(`CREATE INDEX ${ident(index)} ON ${table} (${ident(b)})`);
  await handToConsole(run, tx, j.schema, j.name);
  const created: CreatedObject[] = [
    { kind: "table", schema: j.schema, table: j.name, name: j.name },
    { kind: "column", schema: j.schema, table: j.name, name: a },
    { kind: "column", schema: j.schema, table: j.name, name: b },
    { kind: "foreign_key", schema: j.schema, table: j.name, name: fkA },
    { kind: "foreign_key", schema: j.schema, table: j.name, name: fkB },
    { kind: "index", schema: j.schema, table: j.name, name: index },
  ];
  // A junction between protected tables must not be an open door: it inherits row level security.
  if (source.rls || target.rls) {
    await run(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
    created.push({ kind: "row_level_security", schema: j.schema, table: j.name, name: j.name });
  }
  return created;
}

const onDelete = (action: string | undefined) => (action ? ` ON DELETE ${action.toUpperCase()}` : "");

/** `authors` → `author_id`, `categories` → `category_id`, `boxes` → `box_id`. */
export function keyColumnName(table: string): string {
  return truncateBytes(`${singular(table)}_id`, 63);
}

function singular(word: string): string {
  if (/ies$/i.test(word) && word.length > 3) return word.slice(0, -3) + "y";
  if (/(ss|sh|ch|x|z)es$/i.test(word)) return word.slice(0, -2);
  if (/[^s]s$/i.test(word)) return word.slice(0, -1);
  return word;
}

/** PostgreSQL's naming convention for constraints and indexes, kept within 63 bytes. */
function objectName(table: string, column: string, suffix: string): string {
  const base = column ? `${table}_${column}` : table;
  return `${truncateBytes(base, 63 - suffix.length - 1)}_${suffix}`;
}

function truncateBytes(s: string, max: number): string {
  let out = s;
  while (Buffer.byteLength(out, "utf8") > max) out = out.slice(0, -1);
  return out;
}
