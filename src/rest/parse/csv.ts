// text/csv request bodies (RFC 4180): the first line names the columns; an unquoted NULL is null.
import { invalidBody } from "../errors.ts";

export function parseCsv(text: string): Array<Record<string, string | null>> {
  const records = csvRecords(text);
  if (records.length === 0) return [];
  const header = records[0]!.map((h) => h.value);
  return records
    .slice(1)
    .filter((r) => !(r.length === 1 && r[0]!.value === "" && !r[0]!.quoted))
    .map((r) => {
      if (r.length !== header.length) throw invalidBody("All lines of the CSV body must have the same number of fields as the header");
      const row: Record<string, string | null> = {};
      header.forEach((h, i) => {
        const f = r[i]!;
        row[h] = !f.quoted && f.value === "NULL" ? null : f.value;
      });
      return row;
    });
}

interface Field {
  value: string;
  quoted: boolean;
}

function csvRecords(text: string): Field[][] {
  const out: Field[][] = [];
  let row: Field[] = [];
  let i = 0;
  const n = text.length;
  while (i <= n) {
    let value = "";
    let quoted = false;
    if (text[i] === '"') {
      quoted = true;
      i++;
      for (;;) {
        if (i >= n) throw invalidBody("Unterminated quoted field in CSV body");
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
    } else {
      while (i < n && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") value += text[i++];
    }
    row.push({ value, quoted });
    if (i >= n) {
      out.push(row);
      break;
    }
    if (text[i] === ",") {
      i++;
      continue;
    }
    if (text[i] === "\r") i++;
    if (text[i] === "\n") i++;
    out.push(row);
    row = [];
    if (i >= n) break;
  }
  return out;
}
