// Reads of the same shape — same table, select, order, headers, and filters that differ only in
// their values (`id=eq.1`, `id=eq.2`, …) — share one plan and one SQL statement: the first is
// planned with a stand-in for each value, later ones copy the statement's parameters and put their
// own values where the stand-ins were. A value can only ever be a parameter there, so nothing a
// client sends reaches SQL text any other way than through the planner.
//
// The shape comes from the parser's own first level (parse/query.ts paramKind: which parameters are
// filters; parse/filter.ts splitOperator: a filter's operator and its value), not from a second
// grammar kept here — and from nothing more: a hit costs that split, never a full parse.
//
// Only values the planner passes through unchanged are stood in for (eq, neq, gt, gte, lt, lte,
// match, imatch, isdistinct, optionally after not.); every stand-in must come back as exactly one
// whole parameter and nowhere in the text, or the shape is marked as not cacheable and planned
// afresh each time. The cache is emptied whenever the schema cache is replaced.
//
// It only saves planning: a hit carries its statement bound (with the guard, and the text without
// it), and execute.ts alone decides how that statement runs.
import type { SchemaCache } from "../schema-cache/types.ts";
import { splitOperator } from "./parse/filter.ts";
import { paramKind } from "./parse/query.ts";
import type { RestRequest } from "./parse/request.ts";
import type { PlannedRequest } from "./plan/plan.ts";
import { readStatement, type ReadStatement } from "./sql/statements.ts";

export interface CachedRead {
  planned: PlannedRequest;
  /** The guarded statement (readStatement(plan, { guard: true })). */
  statement: ReadStatement;
  /** The text of the same statement without the guard (it has the same parameters). */
  plainText: string;
  /** For each value of the shape, in order: the index of its parameter. */
  slots: number[];
}

/** The operators whose value the planner passes through as one parameter. */
const PASS_THROUGH = new Set(["eq", "neq", "gt", "gte", "lt", "lte", "match", "imatch", "isdistinct"]);
const STAND_IN = (i: number) => `\u0001plinth-value-${i}\u0001`;
const MAX_SHAPES = 2000;

export interface Shape {
  key: string;
  values: string[];
  /** The query with each value replaced by its stand-in (what a first request is planned with). */
  query: Array<[string, string]>;
}

/**
 * The shape of a GET/HEAD query string: `prefix` (method, table, headers) and the query with its
 * pass-through values taken out. Parameters the parser ignores (apikey) are left out of both.
 */
export function shapeOf(prefix: string, query: Array<[string, string]>): Shape {
  const values: string[] = [];
  const standIn: Array<[string, string]> = [];
  let key = prefix;
  for (const [k, v] of query) {
    const kind = paramKind(k);
    if (kind === "ignored") continue;
    const split = kind === "filter" ? splitOperator(v) : null;
    if (split && PASS_THROUGH.has(split.op)) {
      standIn.push([k, split.prefix + STAND_IN(values.length)]);
      values.push(split.operand);
      key += `\u0000${k}\u0000${split.prefix}\u0002`;
    } else {
      standIn.push([k, v]);
      key += `\u0000${k}\u0000${v}`;
    }
  }
  return { key, values, query: standIn };
}

/**
 * The shape of a request the cache may answer — a GET or HEAD of a table — or null. Not for
 * expanded file references, whose URLs depend on the request's origin.
 */
export function requestShape(req: RestRequest): Shape | null {
  if ((req.method !== "GET" && req.method !== "HEAD") || req.target.kind !== "table") return null;
  const h = req.headers;
  const prefer = h.prefer.length > 1 ? h.prefer.join(",") : h.prefer[0];
  if (prefer?.includes("file-refs")) return null;
  // Everything a read's plan depends on besides the query: a GET's body is never read, and its
  // schema comes from Accept-Profile alone.
  return shapeOf(`${req.method}\u0000${req.target.name}\u0000${h.accept}\u0000${prefer}\u0000${h.range}\u0000${h.acceptProfile}`, req.query);
}

export class PlanCache {
  private shapes = new Map<string, CachedRead | null>();
  private schema: SchemaCache | null = null;

  /**
   * parse → plan for `req` through `plan`; for a read whose shape was planned before, that plan
   * instead, with this request's statement bound (`bound`).
   */
  plan(schema: SchemaCache, req: RestRequest, plan: (req: RestRequest) => PlannedRequest): PlannedRequest {
    const shape = requestShape(req);
    if (!shape) return plan(req);
    let entry = this.get(schema, shape);
    if (entry === undefined)
      entry = this.put(
        shape,
        this.build(shape, (query) => plan({ ...req, query })),
      );
    if (!entry) return plan(req);
    // Spelled out, not spread: this is the hot path of every repeated read.
    const hit = entry.planned;
    return {
      plan: hit.plan,
      prefs: hit.prefs,
      schema: hit.schema,
      applied: hit.applied,
      bound: { guarded: bind(entry, shape.values), plainText: entry.plainText },
    };
  }

  /**
   * The cached read for `shape`, planning it (with stand-ins) on first sight through `plan`; null
   * when the shape is not cacheable (the caller plans the real request itself).
   */
  lookup(schema: SchemaCache, shape: Shape, plan: (query: Array<[string, string]>) => PlannedRequest): CachedRead | null {
    const hit = this.get(schema, shape);
    return hit !== undefined ? hit : this.put(shape, this.build(shape, plan));
  }

  /** The entry of a shape seen before (null: not cacheable), undefined when new. */
  private get(schema: SchemaCache, shape: Shape): CachedRead | null | undefined {
    if (schema !== this.schema) {
      this.shapes.clear();
      this.schema = schema;
    }
    return this.shapes.get(shape.key);
  }

  private put(shape: Shape, entry: CachedRead | null): CachedRead | null {
    if (this.shapes.size >= MAX_SHAPES) this.shapes.delete(this.shapes.keys().next().value!);
    this.shapes.set(shape.key, entry);
    return entry;
  }

  private build(shape: Shape, plan: (query: Array<[string, string]>) => PlannedRequest): CachedRead | null {
    let planned: PlannedRequest;
    try {
      planned = plan(shape.query);
    } catch {
      return null; // the real request will fail (or not) on its own values
    }
    if (planned.plan.kind !== "read" || planned.plan.count === "planned" || planned.plan.count === "estimated" || planned.plan.media.kind === "plan")
      return null;
    const statement = readStatement(planned.plan, { guard: true });
    const plain = readStatement(planned.plan);
    if (statement.text.includes("\u0001")) return null;
    // The guard only appends a condition: the parameters must be the same, or the slots would not fit both.
    if (!statement.text.startsWith(plain.text) || !Bun.deepEquals(plain.params, statement.params)) return null;
    const slots: number[] = [];
    for (let i = 0; i < shape.values.length; i++) {
      const at = statement.params.indexOf(STAND_IN(i));
      if (at < 0 || statement.params.lastIndexOf(STAND_IN(i)) !== at) return null;
      slots.push(at);
    }
    // A stand-in copied into some other parameter (transformed) would be bound as is: not cacheable.
    if (statement.params.some((p, i) => !slots.includes(i) && typeof p === "string" && p.includes("\u0001plinth-value-"))) return null;
    return { planned, statement, plainText: plain.text, slots };
  }
}

/** The cached (guarded) statement with this request's values in their parameters. */
export function bind(entry: CachedRead, values: string[]): ReadStatement {
  const params = entry.statement.params.slice();
  for (let i = 0; i < entry.slots.length; i++) params[entry.slots[i]!] = values[i]!;
  return { ...entry.statement, params };
}
