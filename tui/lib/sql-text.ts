// SQL for the editor: tokens for highlighting (keywords, strings, numbers, comments, quoted
// identifiers) and completion of keywords, tables and columns at the cursor. A lexer, not a parser:
// the server's parser is the one that decides anything.
export type TokenKind = "keyword" | "string" | "number" | "comment" | "ident" | "quoted" | "punct" | "space";
export interface Token {
  kind: TokenKind;
  text: string;
}

export const KEYWORDS = new Set(
  (
    "select from where and or not null is in like ilike between insert into values update set delete create table alter drop add column " +
    "primary key foreign references unique default index on join left right inner outer full cross using group by order asc desc limit " +
    "offset having distinct as case when then else end returning with recursive union all except intersect exists true false begin commit " +
    "rollback grant revoke to policy enable disable row level security truncate cascade restrict view function returns language schema " +
    "if constraint check explain analyze vacuum nulls first last over partition by window filter lateral materialized sequence type enum"
  ).split(" "),
);

/** Tokens of one line; `inComment` carries a /* … *\/ comment across lines. */
export function tokenize(line: string, inComment = false): { tokens: Token[]; inComment: boolean } {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, text: string) => tokens.push({ kind, text });
  while (i < line.length) {
    if (inComment) {
      const end = line.indexOf("*/", i);
      if (end < 0) {
        push("comment", line.slice(i));
        return { tokens, inComment: true };
      }
      push("comment", line.slice(i, end + 2));
      i = end + 2;
      inComment = false;
      continue;
    }
    const rest = line.slice(i);
    let m: RegExpMatchArray | null;
    if (rest.startsWith("--")) {
      push("comment", rest);
      break;
    }
    if (rest.startsWith("/*")) {
      inComment = true;
      continue;
    }
    if ((m = rest.match(/^\s+/))) push("space", m[0]);
    else if ((m = rest.match(/^'(?:[^']|'')*'?/))) push("string", m[0]);
    else if ((m = rest.match(/^"(?:[^"]|"")*"?/))) push("quoted", m[0]);
    else if ((m = rest.match(/^\d+(?:\.\d+)?/))) push("number", m[0]);
    else if ((m = rest.match(/^[A-Za-z_][A-Za-z0-9_$]*/))) push(KEYWORDS.has(m[0].toLowerCase()) ? "keyword" : "ident", m[0]);
    else push("punct", rest[0]!);
    i += m ? m[0].length : 1;
  }
  return { tokens, inComment };
}

export interface Catalog {
  /** "schema.table" and bare "table" names. */
  tables: string[];
  /** table name → its columns. */
  columns: Record<string, string[]>;
}

/**
 * Completions for the word ending at `col` in `line`: after `x.`, the columns of table x (or the
 * tables of schema x); after FROM/JOIN/INTO/UPDATE/TABLE, tables; elsewhere keywords, tables and
 * the columns of tables the text mentions. Returns the word being completed and the candidates.
 */
export function complete(text: string, line: string, col: number, catalog: Catalog): { word: string; candidates: string[] } {
  const before = line.slice(0, col);
  const m = before.match(/([A-Za-z_][A-Za-z0-9_]*\.)?([A-Za-z_][A-Za-z0-9_]*)?$/);
  const qualifier = m?.[1]?.slice(0, -1) ?? null;
  const word = m?.[2] ?? "";
  const lower = word.toLowerCase();
  let pool: string[];
  if (qualifier) {
    const q = qualifier.toLowerCase();
    const cols = catalog.columns[q] ?? catalog.columns[`public.${q}`];
    pool = cols ?? catalog.tables.filter((t) => t.startsWith(`${q}.`)).map((t) => t.slice(q.length + 1));
  } else {
    const prev = before
      .slice(0, before.length - word.length)
      .match(/([A-Za-z_]+)\s*$/)?.[1]
      ?.toLowerCase();
    const wantsTable = prev !== undefined && ["from", "join", "into", "update", "table"].includes(prev);
    const mentioned = catalog.tables.filter((t) => new RegExp(`\\b${t.split(".").pop()}\\b`, "i").test(text));
    const cols = mentioned.flatMap((t) => catalog.columns[t] ?? []);
    pool = wantsTable ? catalog.tables : [...cols, ...catalog.tables, ...[...KEYWORDS].map((k) => k.toUpperCase())];
  }
  const seen = new Set<string>();
  const candidates = pool.filter((c) => c.toLowerCase().startsWith(lower) && c.toLowerCase() !== lower && !seen.has(c) && seen.add(c));
  return { word, candidates: candidates.slice(0, 50) };
}

/** Whether a statement is one the console should not write to history (or log) as typed. */
export const isEmpty = (sql: string): boolean => sql.replace(/--.*$/gm, "").trim() === "";
