// The execute step of REST's parse → plan → execute, and the only part of the REST service that
// touches the database. It alone decides how a planned request runs (chooseStrategy):
//
// - "context": one guarded statement on a connection that already holds the caller's role and
//   claims (db.runAs, db/context-pool.ts) — a read, a plan-cache hit's bound statement, or a write
//   that is complete as one statement. No transaction: one round trip, nothing else sent. When the
//   connection turns out not to be the caller's, db.runAs falls back to a transaction by itself.
// - "one round trip": a read in a transaction whose BEGIN, context, statement and COMMIT are sent
//   together (db.readAs) — reads when the context pool may not be used.
// - "transaction": db.withPrincipal — EXPLAIN (always rolled back), planned/estimated counts, RPC,
//   and writes with a check before or after their statement, or a rollback.
//
// The context pool may be used only when nothing in the database reads request.method/path/headers
// (the schema cache's usesRequestInfo is false) and config rest.requestSettings is not "always":
// only a transaction sets those. Either way RLS and column grants decide, as the caller's role with
// the caller's claims. Rows become status, headers and body text here; JSON is built by PostgreSQL
// and passed through as text, so bigint/numeric precision is never lost in JavaScript.
import type { Database, Principal, RequestInfo, Tx } from "../db/pool.ts";
import { PlinthError } from "../errors.ts";
import { quoteIdentifier } from "../lib/sql-text.ts";
import { fromPostgresError, invalidRange, maxAffectedViolation, singularity } from "./errors.ts";
import { outputLabels } from "./sql/read.ts";
import type { CallPlan, ReadPlan, WritePlan } from "./plan/types.ts";
import type { PlannedRequest } from "./plan/plan.ts";
import type { MediaType } from "./parse/headers.ts";
import {
  callStatement,
  deleteRemovedFilesStatement,
  INSERTED,
  missingFileRefStatement,
  plannedCountStatement,
  readStatement,
  tracksInserted,
  type ReadStatement,
  writeStatements,
  type Statement,
} from "./sql/statements.ts";

export interface RestResult {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

export interface ExecuteOptions {
  /** Observes every statement before it runs (tests assert on identifiers and parameters). */
  onStatement?: (s: Statement) => void;
  /** Path prefix for Location headers, e.g. "/rest/v1". */
  basePath?: string;
  /** config rest.requestSettings: "always" runs every request in a transaction that sets request.method/path/headers. */
  requestSettings?: "auto" | "always";
  /** The schema cache's usesRequestInfo: false when no SQL reads request.*; unknown counts as true. */
  usesRequestInfo?: boolean;
}

/** Thrown inside the transaction to roll it back while still answering with a result. */
class Rollback {
  constructor(readonly result: RestResult) {}
}

const CONTENT_TYPES = {
  json: "application/json; charset=utf-8",
  object: "application/vnd.pgrst.object+json; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  geojson: "application/geo+json; charset=utf-8",
} as const;

/** How a planned request runs. */
type Strategy =
  /** db.runAs: one guarded statement on the context pool. */
  | { via: "context"; statement: Statement; answer: OneStatementAnswer }
  /** db.readAs: one read statement, its transaction sent as one round trip. */
  | { via: "one round trip"; statement: ReadStatement }
  /** db.withPrincipal: everything else. */
  | { via: "transaction" };

/** What the rows of a one-statement request are: a read's, or a write's (shaped: a row; plain: a count). */
type OneStatementAnswer = "read" | "shaped write" | "plain write";

const TRANSACTION: Strategy = { via: "transaction" };

/** The one place that decides how a request runs (see the file header). */
function chooseStrategy(planned: PlannedRequest, opts: ExecuteOptions): Strategy {
  const { plan } = planned;
  if (plan.media.kind === "plan") return TRANSACTION;
  const contextPool = opts.requestSettings !== "always" && opts.usesRequestInfo === false;
  if (plan.kind === "read" && plan.count !== "planned" && plan.count !== "estimated") {
    // A plan-cache hit brings its statement bound: its plan holds stand-ins and must not make SQL.
    const bound = planned.bound;
    if (contextPool) return { via: "context", statement: bound ? bound.guarded : readStatement(plan, { guard: true }), answer: "read" };
    return { via: "one round trip", statement: bound ? { ...bound.guarded, text: bound.plainText } : readStatement(plan) };
  }
  if (plan.kind === "write" && contextPool && oneStatementWrite(plan)) {
    const { plain, shaped } = writeStatements(plan, { guard: true });
    return shaped ? { via: "context", statement: shaped, answer: "shaped write" } : { via: "context", statement: plain[0]!, answer: "plain write" };
  }
  return TRANSACTION;
}

export async function executePlan(
  db: Database,
  principal: Principal,
  info: RequestInfo,
  planned: PlannedRequest,
  opts: ExecuteOptions = {},
): Promise<RestResult> {
  const { plan } = planned;
  let result: RestResult;
  try {
    const strategy = chooseStrategy(planned, opts);
    switch (strategy.via) {
      case "context": {
        const s = strategy.statement;
        opts.onStatement?.(s);
        // Safe: statements come from sql/statements.ts — fixed SQL, cache-matched identifiers quoted
        // by one function, and every request value as a $n parameter.
        const rows = await db.runAs(principal, s.text, s.params, { read: strategy.answer === "read", request: info });
        result = oneStatementResult(plan, s, rows, strategy.answer, opts.basePath ?? "");
        break;
      }
      case "one round trip": {
        const s = strategy.statement;
        opts.onStatement?.(s);
        // Safe: as above. Prepared: the text depends only on the request's shape.
        const rows = await db.readAs(principal, (tx) => tx.unsafe(s.text, s.params as string[], { prepare: true }), info);
        result = readResult(plan as ReadPlan, s, rows, null);
        break;
      }
      case "transaction":
        result = await db.withPrincipal(principal, (tx) => inTransaction(tx, planned, opts), info);
        break;
    }
  } catch (e) {
    if (e instanceof Rollback) result = e.result;
    else if (e instanceof PlinthError) throw e;
    else throw fromPostgresError(e, principal.role !== "anon") ?? e;
  }
  // An EXPLAIN answers with the plan only.
  if (planned.applied.length && plan.media.kind !== "plan") result.headers["preference-applied"] = planned.applied.join(", ");
  return result;
}

/** The answer of a request that ran as one statement through db.runAs. */
function oneStatementResult(
  plan: PlannedRequest["plan"],
  s: Statement,
  rows: readonly Record<string, unknown>[],
  answer: OneStatementAnswer,
  basePath: string,
): RestResult {
  if (answer === "read") return readResult(plan as ReadPlan, s as ReadStatement, rows, null);
  const write = plan as WritePlan;
  if (answer === "shaped write") {
    const row = rows[0]!;
    return writeResult(
      write,
      Number(row.page_total),
      shapedBody(write, row),
      typeof row.location === "string" ? row.location : null,
      insertedOf(write, row),
      basePath,
    );
  }
  const res = rows as unknown as { count: number };
  return writeResult(write, Number(res.count ?? 0), null, null, null, basePath);
}

/** The request's statements in the transaction db.withPrincipal opened; a Rollback ends it without committing. */
async function inTransaction(tx: Tx, planned: PlannedRequest, opts: ExecuteOptions): Promise<RestResult> {
  const { plan } = planned;
  const run: Run = (tx, s) => {
    opts.onStatement?.(s);
    // Safe: statements come from sql/statements.ts — fixed SQL, cache-matched identifiers quoted by
    // one function, and every request value as a $n parameter.
    // Prepared: the statement text depends only on the request's shape, so repeated requests reuse
    // the plan (and skip the extra describe round trip postgres.js makes for unprepared queries).
    return tx.unsafe(s.text, s.params as string[], { prepare: true });
  };
  // EXPLAIN is always rolled back: with ANALYZE a write really executes.
  if (plan.media.kind === "plan") throw new Rollback(await executeExplain(tx, run, planned, plan.media));
  let result: RestResult;
  if (plan.kind === "read") result = await executeRead(tx, run, plan);
  else if (plan.kind === "write") result = await executeWrite(tx, run, plan, opts.basePath ?? "");
  else result = await executeCall(tx, run, plan);
  if ((plan.kind === "write" || plan.kind === "call") && plan.rollback) throw new Rollback(result);
  return result;
}

type Run = (tx: Tx, s: Statement) => Promise<readonly Record<string, unknown>[]>;

async function plannedCount(tx: Tx, run: Run, plan: ReadPlan): Promise<number | null> {
  const rows = await run(tx, plannedCountStatement(plan.root));
  const planJson = rows[0]?.["QUERY PLAN"] as Array<{ Plan?: { "Plan Rows"?: number } }> | string | undefined;
  const parsed = typeof planJson === "string" ? (JSON.parse(planJson) as Array<{ Plan?: { "Plan Rows"?: number } }>) : planJson;
  const n = parsed?.[0]?.Plan?.["Plan Rows"];
  return typeof n === "number" ? n : null;
}

function contentRange(offset: number, pageTotal: number, total: number | null): string {
  const totalText = total === null ? "*" : String(total);
  if (pageTotal === 0 || total === 0) return `*/${totalText}`;
  return `${offset}-${offset + pageTotal - 1}/${totalText}`;
}

/** Status for a read: 206 when a count shows the page is partial, 416 past the end. */
function rangeStatus(offset: number, pageTotal: number, total: number | null): number {
  if (total === null) return 200;
  if (offset > total && !(offset === 0 && total === 0)) return 416;
  if (pageTotal < total) return 206;
  return 200;
}

const EMPTY_FEATURES = '{"type" : "FeatureCollection", "features" : []}';

function mediaHeaders(media: { kind: string }): Record<string, string> {
  const ct = CONTENT_TYPES[media.kind as keyof typeof CONTENT_TYPES] ?? CONTENT_TYPES.json;
  return { "content-type": ct };
}

function csvHeader(labels: string[]): string {
  return labels.map((l) => (/[",\n\r]/.test(l) ? `"${l.replaceAll('"', '""')}"` : l)).join(",");
}

/**
 * PostgREST runs every request with `search_path` set to the request's schema followed by its
 * db-extra-search-path, which Supabase configures as `public, extensions`. Plinth qualifies every
 * name, so ordinary requests need no search_path; an EXPLAIN with `settings` shows it, so the EXPLAIN
 * transaction sets the same value PostgREST's would (one statement, only on this path).
 */
const EXTRA_SEARCH_PATH = ["public", "extensions"];

/** Accept: application/vnd.pgrst.plan+json|text — the EXPLAIN of the statement the request would run. */
async function executeExplain(tx: Tx, run: Run, planned: PlannedRequest, media: Extract<MediaType, { kind: "plan" }>): Promise<RestResult> {
  const { plan } = planned;
  let stmt: Statement;
  // A plan-cache hit's plan holds stand-ins for the values: its bound statement is the request's.
  if (plan.kind === "read") stmt = planned.bound ? { ...planned.bound.guarded, text: planned.bound.plainText } : readStatement(plan);
  else if (plan.kind === "call") stmt = callStatement(plan);
  else {
    const { plain, shaped } = writeStatements(plan);
    stmt = shaped ?? plain[0]!;
  }
  const searchPath = [planned.schema, ...EXTRA_SEARCH_PATH].map((s) => quoteIdentifier(s)).join(", ");
  await run(tx, { text: "select set_config('search_path', $1, true)", params: [searchPath], idents: [] });
  // Options come from a fixed set in PostgREST's order (parse/headers.ts), never from request text.
  const opts = [`FORMAT ${media.format === "json" ? "JSON" : "TEXT"}`, ...media.options.map((o) => o.toUpperCase())].join(", ");
  const rows = await run(tx, { ...stmt, text: `EXPLAIN (${opts}) ${stmt.text}` });
  const lines = rows.map((r) => r["QUERY PLAN"]);
  const body = media.format === "json" ? (typeof lines[0] === "string" ? lines[0] : JSON.stringify(lines[0])) : lines.join("\n");
  // As PostgREST writes it: for="<media type>", then options=a|b when there are any.
  const optionsParam = media.options.length ? `; options=${media.options.join("|")}` : "";
  const ct = `application/vnd.pgrst.plan+${media.format}; for="${media.for.replace(/["\\]/g, "")}"${optionsParam}; charset=utf-8`;
  return { status: 200, headers: { "content-type": ct }, body };
}

async function executeRead(tx: Tx, run: Run, plan: ReadPlan): Promise<RestResult> {
  let planned: number | null = null;
  if (plan.count === "planned" || plan.count === "estimated") planned = await plannedCount(tx, run, plan);
  const stmt = readStatement(plan);
  const rows = await run(tx, stmt);
  return readResult(plan, stmt, rows, planned);
}

function readResult(plan: ReadPlan, stmt: ReadStatement, rows: readonly Record<string, unknown>[], planned: number | null): RestResult {
  const row = rows[0]!;
  const pageTotal = Number(row.page_total);
  let total: number | null = null;
  if (plan.count === "exact" || plan.count === "estimated") {
    total = stmt.totalInSql ? Number(row.total) : plan.range.offset + pageTotal;
    if (!stmt.totalInSql && plan.range.offset > 0 && pageTotal === 0) total = Number(row.total ?? 0);
  }
  if (plan.count === "planned") total = planned;
  if (plan.count === "estimated" && planned !== null && planned > 1000) total = planned;
  const offset = plan.range.offset;
  if (total !== null && offset > 0 && offset >= total && pageTotal === 0 && !(total === 0 && offset === 0)) {
    throw invalidRange(`An offset of ${offset} was requested, but there are only ${total} rows.`);
  }
  if (plan.media.kind === "object" && pageTotal !== 1) throw singularity(pageTotal);
  const headers: Record<string, string> = { "content-range": contentRange(offset, pageTotal, total), ...mediaHeaders(plan.media) };
  let body = plan.head ? null : String(row.body);
  if (plan.media.kind === "csv" && body !== null) body = csvHeader(outputLabels(plan.root)) + "\n" + body;
  return { status: rangeStatus(offset, pageTotal, total), headers, body };
}

/** A file reference that names no storage object the caller can see: like a foreign key violation. */
const missingFileRef = (bucket: string, path: string) =>
  new PlinthError(
    409,
    "23503",
    `File reference ${bucket}/${path} does not name a storage object you can access`,
    `Key (bucket, path)=(${bucket}, ${path}) is not present in storage.objects.`,
    "Upload the object first, or check the storage policies that let this role see it.",
  );

/**
 * A write that is complete as one statement in autocommit: nothing to check before it (file
 * references) or after it that could still undo it (max-affected, a single object, tx=rollback),
 * and nothing to do next (deleting removed files).
 */
function oneStatementWrite(plan: WritePlan): boolean {
  return (
    !plan.noop &&
    !plan.fileRefChecks &&
    !plan.ownedFileColumns?.length &&
    plan.maxAffected === undefined &&
    !plan.rollback &&
    plan.media.kind !== "object" &&
    plan.media.kind !== "plan"
  );
}

const shapedBody = (plan: WritePlan, row: Record<string, unknown>): string | null => (plan.representation === "representation" ? String(row.body) : null);

function insertedOf(plan: WritePlan, row: Record<string, unknown>): number | null {
  const m = plan.mutation;
  return m.kind === "insert" && tracksInserted(m) ? Number(row.inserted ?? 0) : null;
}

async function executeWrite(tx: Tx, run: Run, plan: WritePlan, basePath: string): Promise<RestResult> {
  if (plan.noop) {
    // PATCH {}: nothing to set. PostgREST answers as for an update that matched no row.
    const body = plan.representation === "representation" ? (plan.media.kind === "csv" ? "" : plan.media.kind === "geojson" ? EMPTY_FEATURES : "[]") : null;
    if (plan.media.kind === "object") throw singularity(0);
    return { status: body === null ? 204 : 200, headers: { "content-range": "*/*", ...(body !== null ? mediaHeaders(plan.media) : {}) }, body };
  }
  if (plan.fileRefChecks) {
    const [missing] = await run(tx, missingFileRefStatement(plan.fileRefChecks));
    if (missing) throw missingFileRef(String(missing.bucket), String(missing.path));
  }
  const { plain, shaped } = writeStatements(plan);
  let affected = 0;
  let body: string | null = null;
  let location: string | null = null;
  let inserted: number | null = null;
  const m = plan.mutation;
  const tracking = m.kind === "insert" && tracksInserted(m);
  if (shaped) {
    const row = (await run(tx, shaped))[0]!;
    affected = Number(row.page_total);
    body = shapedBody(plan, row);
    if (typeof row.location === "string") location = row.location;
    inserted = insertedOf(plan, row);
    const removed = row.removed_refs;
    if (removed !== null && removed !== undefined)
      await run(tx, deleteRemovedFilesStatement(plan, typeof removed === "string" ? JSON.parse(removed) : removed));
  } else {
    for (const s of plain) {
      const res = (await run(tx, s)) as unknown as { count: number };
      affected += Number(res.count ?? 0);
    }
    if (tracking) {
      // Fixed text, no parameters: reads the counter the upsert left in this transaction.
      const [r] = await tx.unsafe(`select ${INSERTED} as inserted`);
      inserted = Number(r?.inserted ?? 0);
    }
  }
  if (plan.maxAffected !== undefined && affected > plan.maxAffected) throw maxAffectedViolation(affected);
  if (plan.media.kind === "object" && affected !== 1) throw singularity(affected);
  return writeResult(plan, affected, body, location, inserted, basePath);
}

/** Status, headers and body of a write that affected `affected` rows. */
function writeResult(plan: WritePlan, affected: number, body: string | null, location: string | null, inserted: number | null, basePath: string): RestResult {
  const m = plan.mutation;
  const isInsert = m.kind === "insert";
  const headers: Record<string, string> = {};
  const total = plan.count ? String(affected) : "*";
  headers["content-range"] = isInsert ? `*/${total}` : affected > 0 ? `0-${affected - 1}/${total}` : `*/${total}`;
  if (location) {
    const t = m.target.table;
    headers.location = `${basePath}/${encodeURIComponent(t.name)}?${location}`;
  }
  const put = m.kind === "insert" && m.put;
  // Inserts answer 201, merging upserts that inserted nothing 200; PUT without a body 204.
  const insertStatus = inserted !== null && inserted <= 0 ? 200 : 201;
  if (body !== null) {
    Object.assign(headers, mediaHeaders(plan.media));
    if (plan.media.kind === "csv") body = csvHeader(outputLabels(plan.returning)) + "\n" + body;
    return { status: isInsert ? insertStatus : 200, headers, body };
  }
  return { status: isInsert && !put ? insertStatus : 204, headers, body: null };
}

async function executeCall(tx: Tx, run: Run, plan: CallPlan): Promise<RestResult> {
  // GET/HEAD calls run read-only, as PostgREST does: a volatile function that writes fails (405).
  if (plan.readOnly) await tx.unsafe("set transaction read only");
  const stmt = callStatement(plan);
  const rows = await run(tx, stmt);
  const row = rows[0]!;
  if (stmt.shape === "void") {
    return { status: 204, headers: {}, body: null };
  }
  const pageTotal = stmt.shape === "scalar" || stmt.shape === "single" ? 1 : Number(row.page_total);
  if (plan.maxAffected !== undefined) {
    if (!plan.routine.returnsSet)
      throw new PlinthError(400, "PGRST128", "Function must return SETOF or TABLE when max-affected preference is used with handling=strict");
    if (pageTotal > plan.maxAffected) throw maxAffectedViolation(pageTotal);
  }
  let total: number | null = null;
  if (plan.count) total = row.total === null || row.total === undefined ? plan.range.offset + pageTotal : Number(row.total);
  if (plan.media.kind === "object" && Number(row.page_total) !== 1) throw singularity(Number(row.page_total));
  const headers: Record<string, string> = { "content-range": contentRange(plan.range.offset, pageTotal, total), ...mediaHeaders(plan.media) };
  let body = plan.head ? null : String(row.body);
  if (plan.media.kind === "csv" && body !== null && plan.read) body = csvHeader(outputLabels(plan.read)) + "\n" + body;
  return { status: rangeStatus(plan.range.offset, pageTotal, total), headers, body };
}
