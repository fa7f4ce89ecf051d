// postgres_changes subscriptions: what a channel asked for in its join (one binding per
// `postgres_changes` entry), validated against the catalog, and indexed so that a change finds its
// candidate channels by schema and table without scanning every channel.
import type { Principal, Sql } from "../../db/pool.ts";
import { parseFilters, type Filter } from "./filters.ts";

export type ChangeEvent = "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE";

export interface PgBinding {
  /** Echoed to the client in the join reply and in every matching change's `ids`. */
  id: number;
  /** The params exactly as the client sent them (the join reply echoes them, plus `id`). */
  params: Record<string, unknown>;
  event: "*" | "INSERT" | "UPDATE" | "DELETE";
  schema: string;
  /** "*": every table of the schema in the publication. */
  table: string;
  filters: Filter[];
  /** Column selection (`select: [...]`); the primary key is always included. */
  select: string[] | null;
}

/** One change for one channel: the matching binding ids and the `data` JSON. */
export interface Delivery {
  ids: number[];
  type: ChangeEvent;
  dataJson: string;
}

/** A channel, as the change pipeline sees it. */
export interface ChangeSubscriber {
  readonly bindings: readonly PgBinding[];
  readonly principal: Principal;
  /** Stable identity of the principal for grouping RLS checks (role + claims JSON). */
  readonly principalKey: string;
  /** Sends this batch's changes for the channel, in order (one corked write per socket). */
  deliverChanges(changes: ReadonlyArray<Delivery>): void;
}

export type BindingParse = { ok: true; binding: PgBinding } | { ok: false; message: string };

/** Parses one `postgres_changes` entry (schema defaults to public; table absent = every table). */
export function parseBinding(params: unknown): BindingParse {
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    return { ok: false, message: "No subscription params provided. Please provide at least a `schema` or `table` to subscribe to" };
  }
  const p = params as Record<string, unknown>;
  const rawEvent = typeof p.event === "string" ? p.event.toUpperCase() : "*";
  const event = rawEvent === "INSERT" || rawEvent === "UPDATE" || rawEvent === "DELETE" ? rawEvent : "*";
  const schema = typeof p.schema === "string" && p.schema !== "" ? p.schema : typeof p.table === "string" ? "public" : null;
  if (schema === null) {
    return { ok: false, message: "No subscription params provided. Please provide at least a `schema` or `table` to subscribe to" };
  }
  const table = typeof p.table === "string" && p.table !== "" ? p.table : "*";
  const parsed = parseFilters(typeof p.filter === "string" ? p.filter : null);
  if (!parsed.ok) return { ok: false, message: parsed.message };
  if (parsed.filters.length > 0 && (schema === "*" || table === "*")) {
    return { ok: false, message: "Filters are not supported for wildcard subscriptions. Provide an explicit schema and table name." };
  }
  let select: string[] | null = null;
  if (p.select !== undefined && p.select !== null) {
    if (!Array.isArray(p.select)) {
      return { ok: false, message: 'Error parsing `select` params: expected a list of column name strings, e.g. select: ["col1", "col2"]' };
    }
    const cols = p.select.filter((c): c is string => typeof c === "string");
    if (cols.length > 0) {
      if (schema === "*" || table === "*") {
        return { ok: false, message: "Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table name." };
      }
      select = cols;
    }
  }
  return { ok: true, binding: { id: bindingId(p), params: p, event, schema, table, filters: parsed.filters, select } };
}

/** A stable small integer per distinct params (Supabase uses :erlang.phash2(params), range 2^27). */
export function bindingId(params: Record<string, unknown>): number {
  const canonical = JSON.stringify(
    Object.keys(params)
      .sort()
      .map((k) => [k, params[k]]),
  );
  let h = 0x811c9dc5;
  for (let i = 0; i < canonical.length; i++) {
    h ^= canonical.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 2 ** 27;
}

/**
 * Checks a binding against the catalog as the subscriber's role: the table exists and every filter
 * and selected column exists and is readable. Returns an error message, or null when fine.
 */
export async function validateBinding(sql: Sql, b: PgBinding, principal: Principal): Promise<string | null> {
  if (b.schema === "*" || b.table === "*") return null;
  const cols = [...new Set([...b.filters.map((f) => f.column), ...(b.select ?? [])])];
  const rows = await sql<{ oid: number; readable: string[] }[]>`
    select c.oid::int as oid,
           coalesce(array(select a.attname::text from pg_attribute a
                           where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                             and a.attname = any (${cols}::text[])
                             and has_column_privilege(${principal.role}, c.oid, a.attnum, 'SELECT')), '{}') as readable
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = ${b.schema} and c.relname = ${b.table} and c.relkind in ('r', 'p')`;
  const describe = `[event: ${b.event}, schema: ${b.schema}, table: ${b.table}, filters: ${JSON.stringify(b.filters.map((f) => [f.column, f.op, f.value]))}]`;
  if (rows.length === 0) {
    return `Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: ${describe}`;
  }
  const readable = new Set(rows[0]!.readable);
  for (const f of b.filters) if (!readable.has(f.column)) return `invalid column for filter ${f.column}`;
  for (const c of b.select ?? []) if (!readable.has(c)) return `invalid column for select ${c}`;
  return null;
}

/** Channels indexed by "schema.table" (with "*" for wildcards). */
export class SubscriptionIndex {
  private readonly byKey = new Map<string, Set<ChangeSubscriber>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(sub: ChangeSubscriber): void {
    let added = false;
    for (const key of new Set(sub.bindings.map((b) => `${b.schema}.${b.table}`))) {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(sub);
      added = true;
    }
    if (added) this.count++;
  }

  remove(sub: ChangeSubscriber): void {
    let removed = false;
    for (const key of new Set(sub.bindings.map((b) => `${b.schema}.${b.table}`))) {
      const set = this.byKey.get(key);
      if (set?.delete(sub)) removed = true;
      if (set && set.size === 0) this.byKey.delete(key);
    }
    if (removed) this.count--;
  }

  /** Every channel with at least one binding that may cover the table. */
  candidates(schema: string, table: string): Set<ChangeSubscriber> {
    const out = new Set<ChangeSubscriber>();
    for (const key of [`${schema}.${table}`, `${schema}.*`, `*.${table}`, "*.*"]) {
      const set = this.byKey.get(key);
      if (set) for (const s of set) out.add(s);
    }
    return out;
  }
}
