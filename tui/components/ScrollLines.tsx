// Text longer than the space there is (a dry run's SQL, a table's security described): lines cut to
// the width, a window of `height` of them from `offset`, and a "lines a–b of n" mark when it does
// not all fit. Pure: the owner holds the offset (scrollBy clamps it). SQL lines may be highlighted
// with the SQL editor's own lexer (tokens coloured by kind; the server decides what SQL means).
import { Box, Text } from "ink";
import { fit, oneLine, width as widthOf } from "../lib/format.ts";
import { tokenize, type TokenKind } from "../lib/sql-text.ts";
import { tone, type Tone } from "../lib/theme.ts";

export interface Line {
  text: string;
  tone?: Tone;
  bold?: boolean;
  /** Colour the line as SQL. */
  sql?: boolean;
  /** One line cut at the width (with …) instead of wrapped. */
  cut?: boolean;
}

/** `text` (made inert) broken into pieces of at most `w` columns, at spaces where it can. */
export function wrap(text: string, w: number): string[] {
  const out: string[] = [];
  let rest = oneLine(text);
  const max = Math.max(8, w);
  while (widthOf(rest) > max) {
    let cut = 0;
    let acc = "";
    for (const ch of rest) {
      if (widthOf(acc + ch) > max) break;
      acc += ch;
      cut += ch.length;
    }
    const space = acc.lastIndexOf(" ");
    if (space > max / 2) cut = space + 1;
    out.push(rest.slice(0, cut).trimEnd());
    rest = `  ${rest.slice(cut).trimStart()}`;
  }
  out.push(rest);
  return out;
}

/** Every line wrapped to `w`, keeping its tone. */
export const wrapAll = (lines: Line[], w: number): Line[] =>
  lines.flatMap((l) => (l.cut ? [{ ...l, text: fit(l.text, w).trimEnd() }] : wrap(l.text, w).map((text) => ({ ...l, text }))));

/** The offset moved by `by` lines and kept inside the text. */
export const scrollBy = (offset: number, by: number, total: number, height: number): number => Math.max(0, Math.min(Math.max(0, total - height), offset + by));

const TOKEN_TONE: Partial<Record<TokenKind, Tone>> = { keyword: "keyword", string: "string", number: "number", comment: "comment" };

export function ScrollLines({ lines, height, offset, width }: { lines: Line[]; height: number; offset: number; width: number }) {
  const wrapped = wrapAll(lines, width);
  const fits = wrapped.length <= height;
  const room = fits ? height : Math.max(1, height - 1);
  const start = Math.max(0, Math.min(offset, wrapped.length - room));
  const shown = wrapped.slice(start, start + room);
  return (
    <Box flexDirection="column" height={height}>
      {shown.map((l, i) =>
        l.sql ? (
          <Text key={i} wrap="truncate">
            {tokenize(l.text).tokens.map((t, j) => (
              <Text key={j} color={TOKEN_TONE[t.kind] ? tone(TOKEN_TONE[t.kind]!) : undefined}>
                {t.text}
              </Text>
            ))}
          </Text>
        ) : (
          <Text key={i} wrap="truncate" color={l.tone ? tone(l.tone) : undefined} bold={l.bold}>
            {l.text}
          </Text>
        ),
      )}
      {fits ? null : (
        <Text color={tone("muted")} wrap="truncate">
          lines {start + 1}–{start + shown.length} of {wrapped.length} · ↑↓ PgUp PgDn scroll
        </Text>
      )}
    </Box>
  );
}
