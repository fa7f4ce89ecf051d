// The plan step of REST's parse → plan → execute: an ApiRequest (parse/request.ts) + the schema cache
// → a PlannedRequest. Pure: no I/O, so every error in the request (unknown names, bad preferences,
// bodies that do not fit) surfaces here or in the parser, before any database work.
import type { SchemaCache } from "../../schema-cache/types.ts";
import type { Body, Preferences, QueryAst } from "../parse/ast.ts";
import { parseRequest, type ApiRequest, type RestRequest } from "../parse/request.ts";
import { cached, type Ident } from "../sql/ident.ts";
import type { MediaType } from "../parse/headers.ts";
import { geoJsonUnavailable } from "../errors.ts";
import type { ReadStatement } from "../sql/statements.ts";
import { resolveCall } from "./call.ts";
import { attachQuery, lookupTable, planSelectTree, type PlanContext } from "./read.ts";
import type { Plan, RangeSpec, ReadNode } from "./types.ts";
import { checkPut, planDelete, planInsert, planReturning, planUpdate } from "./write.ts";

export interface PlanOptions {
  maxRows?: number;
  aggregatesEnabled?: boolean;
  /** Accept: application/vnd.pgrst.plan answers the query's EXPLAIN (config rest.planEnabled). */
  planEnabled?: boolean;
  /** Origin that storage URLs of expanded file references start with (config publicUrl or the request's). */
  publicUrl?: string | (() => string);
}

export interface PlannedRequest {
  plan: Plan;
  prefs: Preferences;
  schema: string;
  /** Preferences honoured, for the Preference-Applied header. */
  applied: string[];
  /**
   * Set on a plan-cache hit (plan-cache.ts): the request's read statement, already bound to its
   * values, with the guard (for the context pool), and the text without it (for a transaction: same
   * parameters). `plan` is then the shape's plan, made with stand-ins for the values: right for
   * shaping the answer, never for building SQL.
   */
  bound?: { guarded: ReadStatement; plainText: string };
}

/** parse → plan, for a request as read off the wire. */
export function planRequest(cache: SchemaCache, req: RestRequest, opts: PlanOptions = {}): PlannedRequest {
  return planApiRequest(cache, parseRequest(req, { schemas: cache.schemas, planEnabled: opts.planEnabled }), opts);
}

export function planApiRequest(cache: SchemaCache, req: ApiRequest, opts: PlanOptions = {}): PlannedRequest {
  const { method, read, prefs, query: ast, schema } = req;
  const media = resolveMedia(cache, req.media);
  const ctx: PlanContext = { cache, schema, aggregatesEnabled: opts.aggregatesEnabled ?? true };
  const applied: string[] = [];
  const range = rangeOf(ast, req.range, opts.maxRows);
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

  if (req.target.kind === "rpc") {
    const body = read ? null : bodyOf(req);
    const call = resolveCall(ctx, req.target.name, ast, body && { body: body.kind === "json" ? body.value : {} });
    const r = call.routine;
    let readNode = null;
    if (r.result && !r.returnsScalar) {
      readNode = planSelectTree(ctx, r.result, ast.select);
      attachQuery(readNode, ast, { skipRootFilters: call.argKeys });
      if (fileRefBase) markFileRefs(readNode, fileRefBase);
    }
    if (media.kind === "geojson") requireGeometry(readNode);
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
        media,
        stripNulls: req.stripNulls,
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
    if (media.kind === "geojson") requireGeometry(root);
    return {
      schema,
      prefs,
      applied,
      plan: { kind: "read", root, range, count: prefs.count, media, stripNulls: req.stripNulls, head: method === "HEAD" },
    };
  }

  const representation = prefs.return ?? "minimal";
  if (prefs.return) applied.push(`return=${prefs.return}`);
  let mutation;
  let fileRefChecks: Array<{ bucket: string; path: string }> = [];
  let owned: Ident[] = [];
  let noop = false;
  if (method === "POST" || method === "PUT") {
    const body = bodyOf(req);
    if (method === "PUT") checkPut(table, ast, body);
    if (prefs.missing && method === "POST") applied.push(`missing=${prefs.missing}`);
    if (prefs.resolution && method === "POST") applied.push(`resolution=${prefs.resolution}`);
    const { fileRefs, ...insert } = planInsert(ctx, table, ast, prefs, body, method === "PUT");
    mutation = insert;
    fileRefChecks = fileRefs;
  } else if (method === "PATCH") {
    const u = planUpdate(ctx, table, ast, bodyOf(req));
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
  if (media.kind === "geojson" && representation === "representation") requireGeometry(returning);
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
      media,
      stripNulls: req.stripNulls,
      rollback,
      maxAffected,
    },
  };
}

/** The media type with what the schema cache says it needs: GeoJSON only with PostGIS's st_asgeojson(record). */
function resolveMedia(cache: SchemaCache, media: MediaType): MediaType {
  if (media.kind !== "geojson") return media;
  if (!cache.geoJson) throw geoJsonUnavailable("PostGIS is not installed in this database", "create extension postgis");
  return { kind: "geojson", fn: cache.geoJson };
}

/** st_asgeojson(row) needs a geometry or geography column among the row's own (not embedded) ones. */
function requireGeometry(node: ReadNode | null): void {
  const spatial = node?.select.some(
    (s) => s.kind === "column" && !s.agg && !s.json.length && !s.cast && (s.column.baseType === "geometry" || s.column.baseType === "geography"),
  );
  if (!spatial) throw geoJsonUnavailable("The selection has no geometry or geography column to make features of");
}

/** The parsed body; one that could not be parsed is refused here, once the target is known to exist. */
function bodyOf(req: ApiRequest): Body {
  if (req.body.kind === "invalid") throw req.body.error;
  return req.body;
}

/** limit/offset of the query string, narrowed by the Range header and capped by config rest.maxRows. */
function rangeOf(ast: QueryAst, header: ApiRequest["range"], maxRows?: number): RangeSpec {
  const q = ast.ranges.get("") ?? {};
  let offset = q.offset ?? 0;
  let limit = q.limit;
  if (header) {
    offset = Math.max(offset, header.offset);
    if (header.limit !== undefined) limit = limit === undefined ? header.limit : Math.min(limit, header.limit);
  }
  if (maxRows !== undefined) limit = limit === undefined ? maxRows : Math.min(limit, maxRows);
  return { offset, limit };
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
