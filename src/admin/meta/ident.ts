// Names and literals in the admin plane's DDL: validated here (a useful error for an empty, NUL or
// over-long name), then quoted by the one quoting function (lib/sql-text.ts). Every DDL statement
// the admin API builds goes through these; request text is never spliced in any other way.
import { quoteIdentifier, quoteLiteral } from "../../lib/sql-text.ts";
import { AdminErrors } from "../errors.ts";

/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); longer ones are refused, not cut. */
const MAX_IDENT_BYTES = 63;

export function checkName(name: string, what = "name"): string {
  if (typeof name !== "string" || name.length === 0) throw AdminErrors.validation(`${what} must not be empty`);
  if (name.includes("\0")) throw AdminErrors.validation(`${what} must not contain NUL`);
  if (Buffer.byteLength(name, "utf8") > MAX_IDENT_BYTES) throw AdminErrors.validation(`${what} is longer than 63 bytes`);
  return name;
}

/** A quoted identifier: always quoted, so case and reserved words are kept exactly as given. */
export function ident(name: string): string {
  return quoteIdentifier(checkName(name));
}

export const qualified = (schema: string, name: string): string => `${ident(schema)}.${ident(name)}`;

/** A string literal, for the few places PostgreSQL takes no bind parameter (COMMENT ON … IS, DDL). */
export function literal(value: string): string {
  if (value.includes("\0")) throw AdminErrors.validation("text must not contain NUL");
  return quoteLiteral(value);
}

/** "schema.table" or "table" (in `defaultSchema`); quoted parts ("My.Schema"."T") are honoured. */
export function splitQualified(name: string, defaultSchema: string): { schema: string; name: string } {
  const parts: string[] = [];
  let i = 0;
  while (i <= name.length) {
    if (name[i] === '"') {
      let j = i + 1;
      let part = "";
      for (; j < name.length; j++) {
        if (name[j] === '"') {
          if (name[j + 1] === '"') {
            part += '"';
            j++;
          } else break;
        } else part += name[j];
      }
      parts.push(part);
      i = j + 2; // past the closing quote and the dot
    } else {
      const dot = name.indexOf(".", i);
      const end = dot < 0 ? name.length : dot;
      parts.push(name.slice(i, end));
      i = end + 1;
    }
  }
  if (parts.length === 1) return { schema: defaultSchema, name: checkName(parts[0]!, "table") };
  if (parts.length === 2) return { schema: checkName(parts[0]!, "schema"), name: checkName(parts[1]!, "table") };
  throw AdminErrors.validation(`"${name}" is not a table name (schema.table)`);
}
