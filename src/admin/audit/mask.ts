// Statement text for the audit log with every literal replaced by a placeholder, so passwords,
// personal data and API secrets typed into the SQL console never reach the log. Masking goes by the
// parser's own tokens (strings, dollar-quoted bodies, numbers, bit strings), as pg_stat_statements
// does, and also covers DDL (defaults, comments), which libpg_query's normalize leaves as typed.
import { pgQuery } from "../meta/parser.ts";

const LITERAL_TOKENS = new Set(["SCONST", "USCONST", "ICONST", "FCONST", "BCONST", "XCONST"]);
const MAX_LENGTH = 20_000;

export async function maskLiterals(text: string): Promise<string> {
  const pg = await pgQuery();
  let tokens: { start: number; end: number; tokenName: string }[];
  try {
    tokens = (await pg.scan(text)).tokens;
  } catch {
    return clip(maskUnscannable(text));
  }
  const bytes = Buffer.from(text, "utf8");
  // Continue numbering after the statement's own $n parameters, as pg_stat_statements does.
  let n = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) n = Math.max(n, Number(m[1]));
  const parts: string[] = [];
  let at = 0;
  for (const t of tokens) {
    if (!LITERAL_TOKENS.has(t.tokenName)) continue;
    parts.push(bytes.subarray(at, t.start).toString("utf8"), `$${++n}`);
    at = t.end;
  }
  parts.push(bytes.subarray(at).toString("utf8"));
  return clip(parts.join(""));
}

/**
 * Text the scanner refuses (an unterminated string): everything from the first quote on is cut,
 * since where the literal ends is unknown.
 */
function maskUnscannable(text: string): string {
  const cut = text.search(/['$]/);
  return cut < 0 ? text : `${text.slice(0, cut)}$? /* rest masked: statement did not scan */`;
}

const clip = (s: string) => (s.length > MAX_LENGTH ? `${s.slice(0, MAX_LENGTH)} /* truncated */` : s);
