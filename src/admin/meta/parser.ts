// PostgreSQL's own parser (libpg_query compiled to wasm), loaded on first use so that commands which
// never parse SQL do not pay for compiling 1.7 MB of wasm. Locations in its output are UTF-8 byte
// offsets; everything here converts them to string indices before anyone else sees them.
import type { Node } from "libpg-query";
import { AdminError } from "../errors.ts";

type PgQuery = typeof import("libpg-query");
let loading: Promise<PgQuery> | null = null;

export function pgQuery(): Promise<PgQuery> {
  loading ??= import("libpg-query").then(async (m) => {
    await m.loadModule();
    return m;
  });
  return loading;
}

/** One statement of a batch: its text (trimmed, without the `;`), its tree, where it starts. */
export interface ParsedStatement {
  text: string;
  /** The statement node, e.g. `{ DeleteStmt: {...} }`. */
  node: Node;
  /** Index (in characters) of the statement's first character in the batch. */
  offset: number;
  /** The highest `$n` the statement uses (0: none), so only as many params are bound. */
  paramCount: number;
  /** Every `$n` the statement uses. */
  paramRefs: Set<number>;
}

/** UTF-8 byte offsets → string slices, for one text. */
export class ByteText {
  readonly bytes: Buffer;
  constructor(readonly text: string) {
    this.bytes = Buffer.from(text, "utf8");
  }
  slice(start: number, end = this.bytes.length): string {
    return this.bytes.subarray(start, end).toString("utf8");
  }
  /** Character index of a byte offset. */
  charIndex(byte: number): number {
    return this.slice(0, Math.max(0, Math.min(byte, this.bytes.length))).length;
  }
}

export function syntaxError(message: string, position: number, extra: Record<string, unknown> = {}): AdminError {
  return new AdminError(400, "42601", message, { position, ...extra });
}

/**
 * Splits a batch into statements with the real parser. A syntax error anywhere answers 400 with
 * SQLSTATE 42601 and PostgreSQL's 1-based character position, before any statement runs.
 */
export async function parseBatch(query: string): Promise<ParsedStatement[]> {
  const pg = await pgQuery();
  const text = new ByteText(query);
  let tree;
  try {
    tree = await pg.parse(query);
  } catch (err) {
    const details = err instanceof pg.SqlError ? err.sqlDetails : undefined;
    const message = (err as Error).message || "syntax error";
    // The parser reports the cursor in characters (as PostgreSQL does), 0-based.
    throw syntaxError(message, (details?.cursorPosition ?? 0) + 1);
  }
  return (tree.stmts ?? []).map((raw) => {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : text.bytes.length;
    const node = raw.stmt as Node;
    const refs = paramRefs(node);
    return { text: text.slice(start, end).trim(), node, offset: text.charIndex(start), paramCount: Math.max(0, ...refs), paramRefs: refs };
  });
}

/**
 * The batch's parameters as one statement takes them: `$n` numbers the whole batch, so a statement
 * using only `$2` still receives two values. PostgreSQL cannot infer a type for one it never uses,
 * so those are sent as text nulls (`sql.typed(null, 25)`).
 */
export function bindParams(sql: { typed: (value: never, oid: number) => unknown }, s: ParsedStatement, params: unknown[]): never[] {
  const bound: unknown[] = [];
  for (let n = 1; n <= s.paramCount; n++) bound.push(s.paramRefs.has(n) ? params[n - 1] : sql.typed(null as never, 25));
  return bound as never[];
}

function paramRefs(node: unknown): Set<number> {
  const refs = new Set<number>();
  walk(node, (key, value) => {
    if (key === "ParamRef" && value && typeof value === "object") refs.add((value as { number?: number }).number ?? 0);
    return true;
  });
  return refs;
}

/**
 * Visits every `{Key: value}` pair of a parse tree, depth first. `visit` returns false to skip the
 * subtree under that key.
 */
export function walk(node: unknown, visit: (key: string, value: unknown, parent: Record<string, unknown>) => boolean): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit);
    return;
  }
  if (!node || typeof node !== "object") return;
  const obj = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    if (visit(key, value, obj)) walk(value, visit);
  }
}

/** The node type and body of a statement node: `{ DeleteStmt: {...} }` → ["DeleteStmt", {...}]. */
export function nodeKind(node: unknown): [string, Record<string, unknown>] {
  if (!node || typeof node !== "object") return ["", {}];
  const [kind, body] = Object.entries(node as Record<string, unknown>)[0] ?? ["", {}];
  return [kind, (body && typeof body === "object" ? body : {}) as Record<string, unknown>];
}
