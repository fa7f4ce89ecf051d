// The one place a name or a text value becomes SQL text. Everything else in Plinth passes values as
// bind parameters; these exist for identifiers (which cannot be parameters) and for the few places
// PostgreSQL takes no parameter (COMMENT ON … IS, some DDL). REST (rest/sql/ident.ts, which also
// records what kind of name was quoted) and the admin plane (admin/meta/ident.ts, which validates
// names first) both quote through here.

/**
 * A double-quoted identifier: case and reserved words are kept exactly as given, and an embedded
 * quote is doubled, so the result is always one identifier, never SQL. NUL cannot appear in a
 * PostgreSQL identifier: callers refuse such names before they get here.
 */
export function quoteIdentifier(name: string): string {
  if (name.includes("\u0000")) throw new RangeError("an identifier cannot contain NUL");
  // The common case, no quote, without the scan of replaceAll.
  return name.includes('"') ? `"${name.replaceAll('"', '""')}"` : `"${name}"`;
}

/**
 * A string literal. With standard_conforming_strings on (the default since 9.1, and set by
 * postgres.js), backslashes are ordinary characters; the E'' form is used anyway so the result is
 * right under either setting.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\u0000")) throw new RangeError("a text value cannot contain NUL");
  return `E'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}
