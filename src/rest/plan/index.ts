// planRequest: a parsed HTTP request + the schema cache → a Plan. Pure: no I/O, so every error in the
// request (grammar, unknown names, bad preferences) surfaces here, before any database work.
import type { SchemaCache } from "../../schema-cache/types.ts";
import type { Preferences, QueryAst } from "../parse/ast.ts";
import { negotiate, parsePrefer, parseRangeHeader, type Negotiated } from "../parse/headers.ts";
import { parseQuery } from "../parse/query.ts";
import { parseCsv } from "../parse/csv.ts";
import { invalidBody, invalidPreferences, mediaTypeError, invalidRpcMethod, unacceptableSchema, unsupportedMethod } from "../errors.ts";
import { cached, type Ident } from "../sql/ident.ts";
import { resolveCall } from "./call.ts";
import { attachQuery, lookupTable, planSelectTree, type PlanContext } from "./read.ts";
import type { Plan, RangeSpec, ReadNode } from "./types.ts";
import { checkPut, planDelete, planInsert, planReturning, planUpdate, type Body } from "./write.ts";

export type Method = "GET" | "HEAD" | "POST" | "PATCH" | "PUT" | "DELETE";

export interface RestRequest {
  method: string;
  target: { kind: "table"; name: string } | { kind: "rpc"; name: string };
  query: Array<[string, string]>;
  headers: {
    accept: string | null;
    prefer: string[];
    range: string | null;
    acceptProfile: string | null;
    contentProfile: string | null;
    contentType: string | null;
  };
  /** Raw body text (null when none was sent). */
  body: string | null;
}

export interface PlanOptions {
  maxRows?: number;
  aggregatesEnabled?: boolean;
  /** Accept: application/vnd.pgrst.plan answers the query's EXPLAIN (config rest.planEnabled). */
  planEnabled?: boolean;
  /** Origin that storage URLs of expanded file references start with (config publicUrl or the request's). */
  publicUrl?: string | (() => string);
}

/**
 * Marks every plinth.file_ref column selected as a whole (no JSON path, cast or aggregate), at any
 * depth, to be answered as {bucket, path, size, mimetype, url} instead of the raw {bucket, path}.
 */
function markFileRefs(node: ReadNode, base: string): void {
  for (const s of node.select) {
    if (s.kind === "column" && s.column.plinthType === "file_ref" && !s.json.length && !s.cast && !s.agg) s.expandFile = { base };
  }
  for (const e of node.embeds) markFileRefs(e.node, base);
}

export interface PlannedRequest {
  plan: Plan;
  prefs: Preferences;
  schema: string;
  /** Preferences honoured, for the Preference-Applied header. */
  applied: string[];
}

export function resolveSchema(cache: SchemaCache, method: string, headers: RestRequest["headers"]): string {
  const read = method === "GET" || method === "HEAD";
  const asked = read ? headers.acceptProfile : (headers.contentProfile ?? headers.acceptProfile);
  if (!asked) return cache.schemas[0]!;
  if (!cache.schemas.includes(asked)) throw unacceptableSchema(asked, cache.schemas);
  return asked;
}

export function planRequest(cache: SchemaCache, req: RestRequest, opts: PlanOptions = {}): PlannedRequest {
  const method = req.method.toUpperCase();
  if (!["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"].includes(method)) throw unsupportedMethod(method);
  const schema = resolveSchema(cache, method, req.headers);
  const prefs = parsePrefer(req.headers.prefer);
  if (prefs.handling === "strict" && prefs.invalid.length) throw invalidPreferences(prefs.invalid);
  const ctx: PlanContext = { cache, schema, aggregatesEnabled: opts.aggregatesEnabled ?? true };
  const read = method === "GET" || method === "HEAD";
  const isRpc = req.target.kind === "rpc";
  const ast = parseQuery(req.query, { rpcRead: isRpc && read });
  const neg: Negotiated = negotiate(req.headers.accept);
  // EXPLAIN output is off unless configured (PostgREST's db-plan-enabled): plans reveal the schema.
  if (neg.media.kind === "plan" && !opts.planEnabled) throw mediaTypeError([`application/vnd.pgrst.plan+${neg.media.format}`]);
  const applied: string[] = [];
  const range = rangeOf(ast, read ? req.headers.range : null, opts.maxRows);
  if (prefs.count) applied.push(`count=${prefs.count}`);
  const strict = prefs.handling === "strict";
  if (strict) applied.push("handling=strict");
  const maxAffected = strict ? prefs.maxAffected : undefined;
  if (maxAffected !== undefined) applied.push(`max-affected=${maxAffected}`);
  const rollback = prefs.tx === "rollback";
  if (prefs.tx) applied.push(`tx=${prefs.tx}`);
  // Prefer: plinth-file-refs=expand answers file_ref columns with the object's metadata and URL.
  const publicUrl = typeof opts.publicUrl === "function" ? opts.publicUrl() : opts.publicUrl;
  const fileRefBase = prefs.fileRefs === "expand" ? (publicUrl ?? "").replace(/\/+$/, "") : null;
  if (fileRefBase !== null) applied.push("plinth-file-refs=expand");

  if (isRpc) {
    if (method !== "GET" && method !== "HEAD" && method !== "POST") throw invalidRpcMethod(method);
    const body = read ? null : { body: parseBody(req, true) };
    const call = resolveCall(ctx, req.target.name, ast, body && { body: body.body.kind === "json" ? body.body.value : {} });
    const r = call.routine;
    let readNode = null;
    if (r.result && !r.returnsScalar) {
      readNode = planSelectTree(ctx, r.result, ast.select);
      attachQuery(readNode, ast, { skipRootFilters: call.argKeys });
      if (fileRefBase) markFileRefs(readNode, fileRefBase);
    }
    return {
      schema,
      prefs,
      applied,
      plan: {
        kind: "call",
        routine: r,
        fn: { schema: cached(r.schema), name: cached(r.name) },
        args: call.args,
        read: readNode,
        range,
        count: prefs.count,
        media: neg.media,
        stripNulls: neg.stripNulls,
        head: method === "HEAD" || (method === "POST" && prefs.return === "minimal"),
        readOnly: read,
        rollback,
        maxAffected,
      },
    };
  }

  const table = lookupTable(ctx, req.target.name);
  if (read) {
    const root = planSelectTree(ctx, table, ast.select);
    attachQuery(root, ast);
    if (fileRefBase) markFileRefs(root, fileRefBase);
    return {
      schema,
      prefs,
      applied,
      plan: { kind: "read", root, range, count: prefs.count, media: neg.media, stripNulls: neg.stripNulls, head: method === "HEAD" },
    };
  }

  const representation = prefs.return ?? "minimal";
  if (prefs.return) applied.push(`return=${prefs.return}`);
  let mutation;
  let fileRefChecks: Array<{ bucket: string; path: string }> = [];
  let owned: Ident[] = [];
  let noop = false;
  if (method === "POST" || method === "PUT") {
    const body = parseBody(req, false);
    if (method === "PUT") checkPut(table, ast, body);
    if (prefs.missing && method === "POST") applied.push(`missing=${prefs.missing}`);
    if (prefs.resolution && method === "POST") applied.push(`resolution=${prefs.resolution}`);
    const { fileRefs, ...insert } = planInsert(ctx, table, ast, prefs, body, method === "PUT");
    mutation = insert;
    fileRefChecks = fileRefs;
  } else if (method === "PATCH") {
    const u = planUpdate(ctx, table, ast, parseBody(req, false));
    mutation = u.mutation;
    fileRefChecks = u.fileRefs;
    owned = u.owned;
    noop = u.noop;
  } else {
    const d = planDelete(ctx, table, ast);
    mutation = d.mutation;
    owned = d.owned;
  }
  const returning = planReturning(ctx, table, ast);
  if (fileRefBase) markFileRefs(returning, fileRefBase);
  return {
    schema,
    prefs,
    applied,
    plan: {
      kind: "write",
      mutation,
      noop,
      fileRefChecks: fileRefChecks.length ? fileRefChecks : undefined,
      ownedFileColumns: owned.length ? owned : undefined,
      returning,
      representation,
      count: prefs.count,
      media: neg.media,
      stripNulls: neg.stripNulls,
      rollback,
      maxAffected,
    },
  };
}

function rangeOf(ast: QueryAst, header: string | null, maxRows?: number): RangeSpec {
  const q = ast.ranges.get("") ?? {};
  const h = parseRangeHeader(header);
  let offset = q.offset ?? 0;
  let limit = q.limit;
  if (h) {
    offset = Math.max(offset, h.offset);
    if (h.limit !== undefined) limit = limit === undefined ? h.limit : Math.min(limit, h.limit);
  }
  if (maxRows !== undefined) limit = limit === undefined ? maxRows : Math.min(limit, maxRows);
  return { offset, limit };
}

function parseBody(req: RestRequest, rpc: boolean): Body {
  const text = req.body;
  if (text === null || text.trim() === "") {
    if (rpc) return { kind: "none" };
    return { kind: "json", value: {} };
  }
  const ct = (req.headers.contentType ?? "application/json").split(";")[0]!.trim().toLowerCase();
  if (ct === "text/csv") return { kind: "json", value: parseCsv(text) };
  if (ct === "application/x-www-form-urlencoded") {
    return { kind: "json", value: Object.fromEntries(new URLSearchParams(text)) };
  }
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch {
    throw invalidBody("Empty or invalid json");
  }
}
