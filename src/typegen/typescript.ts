// `plinth gen types typescript`: the `Database` type supabase-js is parameterised with, in the shape
// `supabase gen types typescript` produces (postgres-meta's generator was read for the shape, not
// copied): per schema Tables (Row, Insert, Update, Relationships), Views, Functions (Args, Returns,
// set-returning as arrays, SetofOptions for row results), Enums and CompositeTypes; then the helper
// types Tables, TablesInsert, TablesUpdate, Enums, CompositeTypes and the Constants object.
// Pure: takes the model (model.ts), returns text.
//
// Traps:
// - Names are emitted with JSON.stringify, so any table or column name is a valid property key.
// - A function is listed only if /rpc can call it: every input parameter named, or none, or one
//   unnamed json/jsonb/text parameter, or one unnamed row-type parameter (a computed field, also
//   listed in that table's Row, as PostgREST selects it like a column).
// - Identity ALWAYS columns cannot be written: `?: never` in Insert and Update.
import type { TsColumn, TsFunction, TsModel, TsRelation, TsType } from "./model.ts";

/** What PostgREST's version is reported as, so createClient<Database>() picks the right features. */
export const POSTGREST_VERSION = "12.2.3";

const UNNAMED_OK = new Set(["json", "jsonb", "text"]);
const k = (s: string) => JSON.stringify(s);

interface Ctx {
  model: TsModel;
  schema: string;
}

/** TypeScript for a type name (pg_type.typname after domains), as seen from `ctx.schema`. */
function tsType(typname: string, ctx: Ctx): string {
  if (typname === "bool") return "boolean";
  if (["int2", "int4", "int8", "float4", "float8", "numeric", "oid"].includes(typname)) return "number";
  if (
    [
      "bytea",
      "bpchar",
      "varchar",
      "date",
      "text",
      "citext",
      "time",
      "timetz",
      "timestamp",
      "timestamptz",
      "uuid",
      "vector",
      "interval",
      "name",
      "inet",
      "cidr",
      "macaddr",
    ].includes(typname)
  )
    return "string";
  if (typname === "json" || typname === "jsonb") return "Json";
  if (typname === "void") return "undefined";
  if (typname === "record") return "Record<string, unknown>";
  if (typname.startsWith("_")) return `(${tsType(typname.slice(1), ctx)})[]`;
  const pick = <T extends { schema: string }>(xs: T[]) => xs.find((x) => x.schema === ctx.schema) ?? xs[0];
  const en = pick(ctx.model.types.filter((t) => t.kind === "enum" && t.name === typname));
  if (en) return `Database[${k(en.schema)}]["Enums"][${k(en.name)}]`;
  const comp = pick(ctx.model.types.filter((t) => t.kind === "composite" && t.name === typname));
  if (comp) return `Database[${k(comp.schema)}]["CompositeTypes"][${k(comp.name)}]`;
  const rel = pick(ctx.model.relations.filter((r) => r.name === typname));
  if (rel) return `Database[${k(rel.schema)}][${k(isView(rel) ? "Views" : "Tables")}][${k(rel.name)}]["Row"]`;
  return "unknown";
}

const isView = (r: TsRelation) => r.kind === "v" || r.kind === "m";
const nullable = (t: string, isNull: boolean) => (isNull && t !== "unknown" ? `${t} | null` : t);
const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);

function block(lines: string[], indent: string): string {
  return lines.length ? lines.map((l) => `${indent}${l}`).join("\n") : `${indent}[_ in never]: never`;
}

/** The functions of a schema /rpc can call, with their input arguments. */
function callable(fns: TsFunction[], model: TsModel): { fn: TsFunction; inArgs: TsFunction["args"] }[] {
  const out: { fn: TsFunction; inArgs: TsFunction["args"] }[] = [];
  for (const fn of fns) {
    const inArgs = fn.args.filter((a) => a.mode === "in" || a.mode === "inout" || a.mode === "variadic");
    const unnamed = inArgs.filter((a) => a.name === "");
    const rowArg = inArgs.length === 1 && unnamed.length === 1 && model.relations.some((r) => r.name === inArgs[0]!.typname);
    if (!unnamed.length || (inArgs.length === 1 && (UNNAMED_OK.has(inArgs[0]!.typname) || rowArg))) out.push({ fn, inArgs });
  }
  return out;
}

function columnsOf(rel: TsRelation, ctx: Ctx): string[] {
  return [...rel.columns].sort(byName).map((c) => `${k(c.name)}: ${nullable(tsType(c.typname, ctx), c.nullable)}`);
}

function returnShape(fn: TsFunction, ctx: Ctx): string {
  const table = fn.args.filter((a) => a.mode === "table");
  if (table.length)
    return `{\n${[...table]
      .sort(byName)
      .map((a) => `            ${k(a.name)}: ${tsType(a.typname, ctx)}`)
      .join("\n")}\n          }`;
  const rel = ctx.model.relationByOid.get(fn.returnRelid);
  if (rel && rel.schema === ctx.schema)
    return `{\n${columnsOf(rel, ctx)
      .map((l) => `            ${l}`)
      .join("\n")}\n          }`;
  return tsType(fn.returnTypname, ctx);
}

function functionSignature(fn: TsFunction, inArgs: TsFunction["args"], ctx: Ctx): string {
  const args = inArgs.length
    ? `{ ${[...inArgs]
        .sort(byName)
        .map((a) => `${k(a.name)}${a.hasDefault ? "?" : ""}: ${tsType(a.typname, ctx)}`)
        .join("; ")} }`
    : "never";
  const rel = ctx.model.relationByOid.get(fn.returnRelid);
  const manyRows = fn.rows > 1;
  let returns = returnShape(fn, ctx);
  // A SETOF result is an array, unless ROWS 1 marks it as one row of a known relation.
  if (fn.returnsSet && !(rel && !manyRows)) returns += "[]";
  const lines = [`Args: ${args}`, `Returns: ${returns}`];
  if (rel) {
    const from = fn.args.length === 1 && fn.args[0]!.name === "" && ctx.model.relations.find((r) => r.name === fn.args[0]!.typname);
    lines.push(
      `SetofOptions: {\n            from: ${k(from ? `${from.schema}.${from.name}`.replace(/^public\./, "") : "*")}\n            to: ${k(rel.name)}\n            isOneToOne: ${from && !fn.returnsSet ? true : !manyRows}\n            isSetofReturn: ${fn.returnsSet}\n          }`,
    );
  }
  return `{\n          ${lines.join("\n          ")}\n        }`;
}

function renderRelation(rel: TsRelation, ctx: Ctx, computed: { fn: TsFunction }[]): string {
  const row = [...columnsOf(rel, ctx), ...computed.map(({ fn }) => `${k(fn.name)}: ${nullable(returnShape(fn, ctx), true)}`)];
  const parts = [`Row: {\n${block(row, "            ")}\n          }`];
  const writable = !isView(rel) || rel.updatable;
  if (writable) {
    const cols = [...rel.columns].sort(byName);
    const insert = cols.map((c) => writeField(c, ctx, isView(rel) ? true : c.nullable || c.hasDefault, isView(rel)));
    const update = cols.map((c) => writeField(c, ctx, true, isView(rel)));
    parts.push(`Insert: {\n${block(insert, "            ")}\n          }`, `Update: {\n${block(update, "            ")}\n          }`);
  }
  const rels = rel.relationships.map(
    (r) =>
      `{\n              foreignKeyName: ${k(r.foreignKeyName)}\n              columns: ${JSON.stringify(r.columns)}\n              isOneToOne: ${r.isOneToOne}\n              referencedRelation: ${k(r.referencedRelation)}\n              referencedColumns: ${JSON.stringify(r.referencedColumns)}\n            },`,
  );
  parts.push(rels.length ? `Relationships: [\n            ${rels.join("\n            ")}\n          ]` : "Relationships: []");
  return `${k(rel.name)}: {\n          ${parts.join("\n          ")}\n        }`;
}

function writeField(c: TsColumn, ctx: Ctx, optional: boolean, view: boolean): string {
  if (c.identityAlways || (view && !c.updatable)) return `${k(c.name)}?: never`;
  return `${k(c.name)}${optional ? "?" : ""}: ${nullable(tsType(c.typname, ctx), view || c.nullable)}`;
}

function renderSchema(schema: string, model: TsModel): string {
  const ctx: Ctx = { model, schema };
  const rels = model.relations.filter((r) => r.schema === schema).sort(byName);
  const fns = callable(
    model.functions.filter((f) => f.schema === schema),
    model,
  ).sort((a, b) => a.fn.name.localeCompare(b.fn.name) || a.fn.signature.localeCompare(b.fn.signature));
  const computedFor = (rel: TsRelation) => fns.filter(({ fn, inArgs }) => inArgs.length === 1 && inArgs[0]!.name === "" && inArgs[0]!.typname === rel.name);
  const tables = rels.filter((r) => !isView(r)).map((r) => renderRelation(r, ctx, computedFor(r)));
  const views = rels.filter(isView).map((r) => renderRelation(r, ctx, computedFor(r)));
  const grouped = new Map<string, typeof fns>();
  for (const f of fns) grouped.set(f.fn.name, [...(grouped.get(f.fn.name) ?? []), f]);
  const functions = [...grouped].map(
    ([name, overloads]) => `${k(name)}:\n        | ${overloads.map(({ fn, inArgs }) => functionSignature(fn, inArgs, ctx)).join("\n        | ")}`,
  );
  const types = model.types.filter((t) => t.schema === schema).sort(byName);
  const enums = types.filter((t) => t.kind === "enum").map((t) => `${k(t.name)}: ${t.labels.length ? t.labels.map(k).join(" | ") : "never"}`);
  const composites = types
    .filter((t): t is TsType => t.kind === "composite")
    .map((t) => `${k(t.name)}: {\n${t.attributes.map((a) => `          ${k(a.name)}: ${nullable(tsType(a.typname, ctx), true)}`).join("\n")}\n        }`);
  const section = (name: string, items: string[]) => `    ${name}: {\n${block(items, "      ")}\n    }`;
  return `  ${k(schema)}: {\n${[section("Tables", tables), section("Views", views), section("Functions", functions), section("Enums", enums), section("CompositeTypes", composites)].join("\n")}\n  }`;
}

/** The whole file. `schemas` in the order given; the first one ("public" when listed) is the default for the helpers. */
export function renderTypeScript(model: TsModel): string {
  const schemas = [...model.schemas].sort((a, b) => a.localeCompare(b));
  const defaultSchema = schemas.includes("public") ? "public" : schemas[0]!;
  const constants = schemas.map((s) => {
    const enums = model.types.filter((t) => t.schema === s && t.kind === "enum").sort(byName);
    const items = enums.map((e) => `      ${k(e.name)}: [${e.labels.map(k).join(", ")}],`);
    return `  ${k(s)}: {\n    Enums: ${items.length ? `{\n${items.join("\n")}\n    }` : "{}"},\n  },`;
  });
  return `export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = {
  // Allows to automatically instantiate createClient with right options
  // instead of createClient<Database, { PostgrestVersion: 'XX' }>(URL, KEY)
  __InternalSupabase: {
    PostgrestVersion: ${k(POSTGREST_VERSION)}
  }
${schemas.map((s) => renderSchema(s, model)).join("\n")}
}

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, ${k(defaultSchema)}>]

${HELPERS}
export const Constants = {
${constants.join("\n")}
} as const
`;
}

/** The helper types, the same for every database (they only index into Database). */
const HELPERS = `export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never
`;
