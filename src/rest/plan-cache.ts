// Reads of the same shape — same table, select, order, headers, and filters that differ only in
// their values (`id=eq.1`, `id=eq.2`, …) — share one plan and one SQL statement: the first is
// planned with a stand-in for each value, later ones copy the statement's parameters and put their
// own values where the stand-ins were. A value can only ever be a parameter there, so nothing a
// client sends reaches SQL text any other way than through the planner.
//
// Only values the planner passes through unchanged are stood in for (eq, neq, gt, gte, lt, lte,
// match, imatch, isdistinct, optionally after not.); every stand-in must come back as exactly one
// whole parameter and nowhere in the text, or the shape is marked as not cacheable and planned
// afresh each time. The cache is emptied whenever the schema cache is replaced.
import type { SchemaCache } from "../schema-cache/types.ts";
import type { PlannedRequest } from "./plan/index.ts";
import { readStatement, type ReadStatement } from "./sql/statements.ts";

export interface CachedRead {
  planned: PlannedRequest;
  statement: ReadStatement;
  /** For each value of the shape, in order: the index of its parameter. */
  slots: number[];
}

/** Query keys that are never filters: their values are part of the shape. */
const RESERVED = /(^|\.)(select|order|limit|offset|columns|on_conflict|or|and|not\.or|not\.and)$/;
/** `[not.]op.value` for the operators whose value the planner passes through as one parameter. */
const PASS_THROUGH = /^((?:not\.)?(?:eq|neq|gt|gte|lt|lte|match|imatch|isdistinct)\.)([\s\S]*)$/;
const STAND_IN = (i: number) => `\u0001plinth-value-${i}\u0001`;
const MAX_SHAPES = 2000;

export interface Shape {
  key: string;
  values: string[];
  /** The query with each value replaced by its stand-in (what a first request is planned with). */
  query: Array<[string, string]>;
}

/** The shape of a GET/HEAD query string: `prefix` (method, table, headers) and the query with its pass-through values taken out. */
export function shapeOf(prefix: string, query: Array<[string, string]>): Shape {
  const values: string[] = [];
  const standIn: Array<[string, string]> = [];
  let key = prefix;
  for (const [k, v] of query) {
    const m = RESERVED.test(k) ? null : PASS_THROUGH.exec(v);
    if (m) {
      standIn.push([k, m[1] + STAND_IN(values.length)]);
      values.push(m[2]!);
      key += `\u0000${k}\u0000${m[1]}\u0002`;
    } else {
      standIn.push([k, v]);
      key += `\u0000${k}\u0000${v}`;
    }
  }
  return { key, values, query: standIn };
}

export class PlanCache {
  private shapes = new Map<string, CachedRead | null>();
  private schema: SchemaCache | null = null;

  /**
   * The cached read for `shape`, planning it (with stand-ins) on first sight through `plan`; null
   * when the shape is not cacheable (the caller plans the real request itself).
   */
  lookup(schema: SchemaCache, shape: Shape, plan: (query: Array<[string, string]>) => PlannedRequest): CachedRead | null {
    if (schema !== this.schema) {
      this.shapes.clear();
      this.schema = schema;
    }
    const hit = this.shapes.get(shape.key);
    if (hit !== undefined) return hit;
    const entry = this.build(shape, plan);
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
    if (planned.plan.kind !== "read" || planned.plan.count === "planned" || planned.plan.count === "estimated" || planned.plan.media.kind === "plan") return null;
    const statement = readStatement(planned.plan, { guard: true });
    if (statement.text.includes("\u0001")) return null;
    const slots: number[] = [];
    for (let i = 0; i < shape.values.length; i++) {
      const at = statement.params.indexOf(STAND_IN(i));
      if (at < 0 || statement.params.lastIndexOf(STAND_IN(i)) !== at) return null;
      slots.push(at);
    }
    // A stand-in copied into some other parameter (transformed) would be bound as is: not cacheable.
    if (statement.params.some((p, i) => !slots.includes(i) && typeof p === "string" && p.includes("\u0001plinth-value-"))) return null;
    return { planned, statement, slots };
  }
}

/** The cached statement with this request's values in their parameters. */
export function bind(entry: CachedRead, values: string[]): ReadStatement {
  const params = entry.statement.params.slice();
  for (let i = 0; i < entry.slots.length; i++) params[entry.slots[i]!] = values[i]!;
  return { ...entry.statement, params };
}
