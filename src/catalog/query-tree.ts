// Reading a view's stored query tree (pg_rewrite.ev_action of its _RETURN rule, printed as text):
// each entry of the top-level target list carries `:resorigtbl` / `:resorigcol`, the table and
// column a plain column reference comes from (0 for expressions). Only the top-level query's target
// list counts; subqueries in the range table or in expressions have their own target lists, which
// must not be mistaken for the view's. The format is PostgreSQL's nodeToString output: if a version
// changes it, the entries come back empty (views then simply get no inferred relationships).

/** One column of a view and where it comes from (relid 0: an expression, not a plain column). */
export interface TargetEntry {
  column: string;
  relid: number;
  attnum: number;
}

/** Top-level target entries of a printed query tree; [] when the text is not what we expect. */
export function targetEntries(action: string): TargetEntry[] {
  const s = action;
  const n = s.length;
  // depth: 1 inside the rule's action list "(", 2 inside the first {QUERY …}.
  let depth = 0;
  let i = 0;
  let listStart = -1;
  for (; i < n; i++) {
    const c = s[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "{" || c === "(") depth++;
    else if (c === "}" || c === ")") {
      depth--;
      if (depth <= 0) break; // end of the first query
    } else if (depth === 2 && c === ":" && s.startsWith(":targetList (", i)) {
      listStart = i + ":targetList ".length;
      break;
    }
  }
  if (listStart < 0) return [];
  const out: TargetEntry[] = [];
  depth = 0;
  let entryStart = -1;
  for (i = listStart; i < n; i++) {
    const c = s[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "{" || c === "(") {
      depth++;
      if (depth === 2 && c === "{") entryStart = i;
    } else if (c === "}" || c === ")") {
      if (depth === 2 && c === "}" && entryStart >= 0) {
        const e = parseEntry(s.slice(entryStart, i + 1));
        if (e) out.push(e);
        entryStart = -1;
      }
      depth--;
      if (depth === 0) break;
    }
  }
  return out;
}

/** The fields of one {TARGETENTRY …} at its own level (its :expr's nested nodes removed). */
function parseEntry(text: string): TargetEntry | null {
  let flat = "";
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\") {
      if (depth === 1) flat += text.slice(i, i + 2);
      i++;
      continue;
    }
    if (c === "{" || c === "(") depth++;
    else if (c === "}" || c === ")") depth--;
    else if (depth === 1) flat += c;
  }
  const m = /:resname (\S+) :ressortgroupref \d+ :resorigtbl (\d+) :resorigcol (\d+) :resjunk false/.exec(flat);
  if (!m) return null;
  return { column: m[1]!.replace(/\\(.)/g, "$1"), relid: Number(m[2]), attnum: Number(m[3]) };
}
