// GET /rest/v1/: an OpenAPI 2.0 (Swagger) description of the exposed schema, in the shape PostgREST
// publishes: one path per table/view and per function, one definition per table/view.
import type { Column, SchemaCache, Table } from "../schema-cache/types.ts";
import { VERSION } from "../version.ts";

type Json = Record<string, unknown>;

function columnSchema(c: Column, pk: string[]): Json {
  const s: Json = { format: c.type, ...typeOf(c) };
  if (c.default !== null) s.default = c.default;
  if (c.enumValues.length) s.enum = c.enumValues;
  const notes: string[] = [];
  if (c.description) notes.push(c.description);
  if (pk.includes(c.name)) notes.push("Note:\nThis is a Primary Key.<pk/>");
  if (notes.length) s.description = notes.join("\n\n");
  return s;
}

function typeOf(c: Column): Json {
  const t = c.baseType;
  if (c.category === "A") return { type: "array", items: { type: "string" } };
  if (["int2", "int4", "int8"].includes(t)) return { type: "integer" };
  if (["float4", "float8", "numeric"].includes(t)) return { type: "number" };
  if (t === "bool") return { type: "boolean" };
  if (t === "json" || t === "jsonb") return {};
  return { type: "string" };
}

function definition(t: Table): Json {
  const required = t.columnList.filter((c) => !c.nullable && c.default === null && !c.generated).map((c) => c.name);
  return {
    ...(t.description ? { description: t.description } : {}),
    ...(required.length ? { required } : {}),
    properties: Object.fromEntries(t.columnList.map((c) => [c.name, columnSchema(c, t.pk)])),
    type: "object",
  };
}

const rowFilterParams = (t: Table) => t.columnList.map((c) => ({ $ref: `#/parameters/rowFilter.${t.name}.${c.name}` }));

export function openApiDocument(cache: SchemaCache, schema: string, url: URL): Json {
  const tables = [...cache.tables.values()].filter((t) => t.schema === schema).sort((a, b) => a.name.localeCompare(b.name));
  const paths: Json = {
    "/": {
      get: {
        produces: ["application/openapi+json", "application/json"],
        responses: { 200: { description: "OK" } },
        summary: "OpenAPI description (this document)",
        tags: ["Introspection"],
      },
    },
  };
  const parameters: Json = {
    preferParams: { name: "Prefer", description: "Preference", required: false, in: "header", type: "string", enum: ["params=single-object"] },
    preferReturn: {
      name: "Prefer",
      description: "Preference",
      required: false,
      in: "header",
      type: "string",
      enum: ["return=representation", "return=minimal", "return=none"],
    },
    preferCount: { name: "Prefer", description: "Preference", required: false, in: "header", type: "string", enum: ["count=none"] },
    preferPost: {
      name: "Prefer",
      description: "Preference",
      required: false,
      in: "header",
      type: "string",
      enum: ["return=representation", "return=minimal", "return=none", "resolution=ignore-duplicates", "resolution=merge-duplicates"],
    },
    select: { name: "select", description: "Filtering Columns", required: false, in: "query", type: "string" },
    on_conflict: { name: "on_conflict", description: "On Conflict", required: false, in: "query", type: "string" },
    order: { name: "order", description: "Ordering", required: false, in: "query", type: "string" },
    range: { name: "Range", description: "Limiting and Pagination", required: false, in: "header", type: "string" },
    rangeUnit: { name: "Range-Unit", description: "Limiting and Pagination", required: false, default: "items", in: "header", type: "string" },
    offset: { name: "offset", description: "Limiting and Pagination", required: false, in: "query", type: "string" },
    limit: { name: "limit", description: "Limiting and Pagination", required: false, in: "query", type: "string" },
  };
  const definitions: Json = {};
  for (const t of tables) {
    definitions[t.name] = definition(t);
    parameters[`body.${t.name}`] = { name: t.name, description: t.name, required: false, in: "body", schema: { $ref: `#/definitions/${t.name}` } };
    for (const c of t.columnList) {
      parameters[`rowFilter.${t.name}.${c.name}`] = { name: c.name, required: false, format: c.type, in: "query", type: "string" };
    }
    const ops: Json = {
      get: {
        tags: [t.name],
        parameters: [
          ...rowFilterParams(t),
          { $ref: "#/parameters/select" },
          { $ref: "#/parameters/order" },
          { $ref: "#/parameters/range" },
          { $ref: "#/parameters/rangeUnit" },
          { $ref: "#/parameters/offset" },
          { $ref: "#/parameters/limit" },
          { $ref: "#/parameters/preferCount" },
        ],
        responses: {
          200: { description: "OK", schema: { items: { $ref: `#/definitions/${t.name}` }, type: "array" } },
          206: { description: "Partial Content" },
        },
        ...(t.description ? { summary: t.description } : {}),
      },
    };
    if (t.insertable)
      ops.post = {
        tags: [t.name],
        parameters: [{ $ref: `#/parameters/body.${t.name}` }, { $ref: "#/parameters/select" }, { $ref: "#/parameters/preferPost" }],
        responses: { 201: { description: "Created" } },
      };
    if (t.updatable)
      ops.patch = {
        tags: [t.name],
        parameters: [...rowFilterParams(t), { $ref: `#/parameters/body.${t.name}` }, { $ref: "#/parameters/preferReturn" }],
        responses: { 204: { description: "No Content" } },
      };
    if (t.deletable)
      ops.delete = {
        tags: [t.name],
        parameters: [...rowFilterParams(t), { $ref: "#/parameters/preferReturn" }],
        responses: { 204: { description: "No Content" } },
      };
    paths[`/${t.name}`] = ops;
  }
  for (const [, overloads] of cache.routines) {
    const r = overloads[0]!;
    if (r.schema !== schema) continue;
    const props = Object.fromEntries(r.params.filter((p) => p.name).map((p) => [p.name, { format: p.type, type: "string" }]));
    const required = r.params.filter((p) => p.name && !p.hasDefault).map((p) => p.name);
    const bodyParam = { in: "body", name: "args", required: true, schema: { properties: props, type: "object", ...(required.length ? { required } : {}) } };
    const op: Json = {
      tags: ["(rpc) " + r.name],
      parameters: [bodyParam, { $ref: "#/parameters/preferParams" }],
      produces: ["application/json", "application/vnd.pgrst.object+json"],
      responses: { 200: { description: "OK" } },
    };
    if (r.description) op.summary = r.description;
    const entry: Json = { post: op };
    if (r.volatility !== "v") {
      entry.get = {
        tags: ["(rpc) " + r.name],
        parameters: r.params.filter((p) => p.name).map((p) => ({ format: p.type, in: "query", name: p.name, required: !p.hasDefault, type: "string" })),
        responses: { 200: { description: "OK" } },
      };
    }
    paths[`/rpc/${r.name}`] = entry;
  }
  return {
    swagger: "2.0",
    info: { description: "", title: "Plinth REST API", version: VERSION },
    host: url.host,
    basePath: "/rest/v1",
    schemes: [url.protocol.replace(":", "")],
    consumes: ["application/json", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.object+json", "text/csv"],
    produces: ["application/json", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.object+json", "text/csv"],
    paths,
    definitions,
    parameters,
    externalDocs: { description: "PostgREST Documentation", url: "https://postgrest.org/en/latest/references/api.html" },
  };
}
