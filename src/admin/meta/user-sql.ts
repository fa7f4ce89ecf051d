// The two kinds of SQL text the table and policy editors accept from callers: a type name
// ("varchar(20)", "text[]", "plinth.rich_text") and an expression (a default, a policy's USING).
// Both are checked with the real parser before they reach DDL. Type names are re-rendered from the
// parse tree (so nothing but a type can come out); expressions cannot be re-rendered (libpg_query's
// wasm build has no deparser), so they are proven to be exactly one parenthesised expression.
import { AdminErrors } from "../errors.ts";
import { ident } from "./ident.ts";
import { nodeKind, pgQuery } from "./parser.ts";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" ? (v as Obj) : {});

/** A type name as safe SQL text, e.g. `"pg_catalog"."varchar"(20)[]`. */
export async function typeName(input: string): Promise<string> {
  if (typeof input !== "string" || !input.trim() || input.length > 200) throw AdminErrors.validation("type must be a type name");
  const pg = await pgQuery();
  let tree;
  try {
    tree = await pg.parse(`SELECT NULL::${input}`);
  } catch {
    throw badType(input);
  }
  const stmts = tree.stmts ?? [];
  if (stmts.length !== 1) throw badType(input);
  const [kind, select] = nodeKind(stmts[0]!.stmt);
  const targets = Array.isArray(select.targetList) ? select.targetList : [];
  const extra = Object.keys(select).filter((k) => !["targetList", "limitOption", "op"].includes(k));
  if (kind !== "SelectStmt" || targets.length !== 1 || extra.length) throw badType(input);
  const cast = obj(obj(obj(obj(targets[0]).ResTarget).val).TypeCast);
  const constant = obj(obj(cast.arg).A_Const);
  if (constant.isnull !== true) throw badType(input);
  return renderTypeName(obj(cast.typeName), input);
}

function renderTypeName(t: Obj, input: string): string {
  if (t.setof || t.pct_type) throw badType(input);
  const names = (Array.isArray(t.names) ? t.names : []).map((n) => obj(obj(n).String).sval);
  if (!names.length || names.some((n) => typeof n !== "string")) throw badType(input);
  let sql = (names as string[]).map(ident).join(".");
  const mods = Array.isArray(t.typmods) ? t.typmods : [];
  if (mods.length) {
    // INTERVAL's field qualifiers (DAY TO SECOND) are encoded as typmod bit masks that mean
    // something else when written back as numbers; refuse rather than change the type.
    if (names.join(".") === "pg_catalog.interval") throw AdminErrors.validation("interval qualifiers are not supported; use interval");
    sql += `(${mods.map((m) => renderTypmod(m, input)).join(", ")})`;
  }
  for (const b of Array.isArray(t.arrayBounds) ? t.arrayBounds : []) {
    const n = obj(obj(b).Integer).ival;
    sql += typeof n === "number" && n >= 0 ? `[${n}]` : "[]";
  }
  return sql;
}

function renderTypmod(m: unknown, input: string): string {
  const c = obj(obj(m).A_Const);
  if ("ival" in c) {
    const v = obj(c.ival).ival ?? 0;
    if (typeof v === "number" && Number.isInteger(v)) return String(v);
  }
  // Extension types take words as modifiers, e.g. geometry(Point, 4326).
  const ref = obj(obj(m).ColumnRef).fields;
  if (Array.isArray(ref) && ref.length === 1) {
    const word = obj(obj(ref[0]).String).sval;
    if (typeof word === "string") return ident(word);
  }
  throw badType(input);
}

const badType = (input: string) => AdminErrors.validation(`"${input.slice(0, 80)}" is not a type name`);

/**
 * An SQL expression as text to put between parentheses in DDL, e.g. a column default or a policy's
 * USING clause. It must scan without `;`, keep its parentheses balanced (so it cannot close the
 * surrounding ones), and parse as the single target of `SELECT (…)` with no other clause. The
 * newlines around it end any `--` comment before the closing parenthesis.
 */
export async function expression(input: string, what: string): Promise<string> {
  if (typeof input !== "string" || !input.trim()) throw AdminErrors.validation(`${what} must be an SQL expression`);
  if (input.length > 10_000) throw AdminErrors.validation(`${what} is too long`);
  const pg = await pgQuery();
  let tokens;
  try {
    tokens = (await pg.scan(input)).tokens;
  } catch {
    throw badExpression(what);
  }
  let depth = 0;
  for (const t of tokens) {
    if (t.text === ";") throw badExpression(what);
    if (t.text === "(" || t.text === "[") depth++;
    if (t.text === ")" || t.text === "]") depth--;
    if (depth < 0) throw badExpression(what);
  }
  if (depth !== 0) throw badExpression(what);
  const wrapped = `(\n${input}\n)`;
  let tree;
  try {
    tree = await pg.parse(`SELECT ${wrapped}`);
  } catch (err) {
    throw AdminErrors.validation(`${what}: ${(err as Error).message}`);
  }
  const stmts = tree.stmts ?? [];
  const [kind, select] = nodeKind(stmts[0]?.stmt);
  const extra = Object.keys(select).filter((k) => !["targetList", "limitOption", "op"].includes(k));
  const targets = Array.isArray(select.targetList) ? select.targetList : [];
  if (stmts.length !== 1 || kind !== "SelectStmt" || targets.length !== 1 || extra.length || select.op !== "SETOP_NONE") {
    throw badExpression(what);
  }
  return wrapped;
}

const badExpression = (what: string) => AdminErrors.validation(`${what} must be a single SQL expression`);

/** A JSON default: SQL expression text, or a number/boolean/null written as its SQL literal. */
export async function defaultExpression(value: string | number | boolean | null): Promise<string> {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw AdminErrors.validation("default must be a finite number");
    return String(value);
  }
  return expression(value, "default");
}
