// A small HTML tokenizer, close enough to the HTML5 tokenizer for sanitising: tags with attributes
// (quoted, unquoted, duplicated), comments (including `<!-->` and unterminated ones), bogus comments
// (`<!doctype>`, `<![CDATA[…]]>` outside foreign content, `<?…>`, `</ x>`), raw-text elements whose
// contents are never markup (script, style, textarea, …) and end-of-input inside a tag (dropped, as
// a browser drops it).
//
// It does not have to agree with a browser on every edge: the sanitiser re-serialises from these
// tokens with everything escaped, so a browser parses the sanitiser's own canonical output, never
// the attacker's. What matters here is only that nothing is lost silently in a way that changes
// meaning, and that it never throws or loops on any input.

export type Token =
  | { kind: "text"; text: string }
  | { kind: "start"; name: string; attrs: Array<[string, string]>; selfClosing: boolean }
  | { kind: "end"; name: string }
  /** Raw text of a raw-text element (script, style, …): never markup. */
  | { kind: "raw"; name: string; text: string }
  | { kind: "comment" };

/** Elements whose content the tokenizer reads as text up to the matching end tag. */
export const RAW_TEXT = new Set(["script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title", "plaintext"]);

const isAlpha = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";

export function tokenize(input: string): Token[] {
  // NUL is a parse error in HTML that browsers replace or drop; it is only ever an evasion trick here.
  const s = input.replaceAll("\u0000", "");
  const out: Token[] = [];
  let text = "";
  const flush = () => {
    if (text) out.push({ kind: "text", text });
    text = "";
  };
  let i = 0;
  const n = s.length;
  while (i < n) {
    const lt = s.indexOf("<", i);
    if (lt < 0) {
      text += s.slice(i);
      break;
    }
    text += s.slice(i, lt);
    i = lt;
    const next = s[i + 1] ?? "";
    if (isAlpha(next)) {
      const tag = readTag(s, i + 1);
      if (!tag) {
        // End of input inside a tag: the browser drops the unfinished tag.
        i = n;
        break;
      }
      flush();
      out.push({ kind: "start", name: tag.name, attrs: tag.attrs, selfClosing: tag.selfClosing });
      i = tag.end;
      if (RAW_TEXT.has(tag.name)) {
        const close = tag.name === "plaintext" ? -1 : findRawEnd(s, i, tag.name);
        const end = close < 0 ? n : close;
        out.push({ kind: "raw", name: tag.name, text: s.slice(i, end) });
        i = end;
      }
      continue;
    }
    if (next === "/") {
      const after = s[i + 2] ?? "";
      if (isAlpha(after)) {
        const tag = readTag(s, i + 2);
        if (!tag) {
          i = n;
          break;
        }
        flush();
        out.push({ kind: "end", name: tag.name });
        i = tag.end;
        continue;
      }
      if (after === ">") {
        i += 3; // `</>` is ignored
        continue;
      }
      if (after === "") {
        text += "</";
        i = n;
        break;
      }
      // `</ x>`, `</1>`: a bogus comment up to the next `>`.
      flush();
      i = skipBogus(s, i + 2);
      out.push({ kind: "comment" });
      continue;
    }
    if (next === "!") {
      flush();
      if (s.startsWith("<!--", i)) i = skipComment(s, i + 4);
      else i = skipBogus(s, i + 2);
      out.push({ kind: "comment" });
      continue;
    }
    if (next === "?") {
      flush();
      i = skipBogus(s, i + 1);
      out.push({ kind: "comment" });
      continue;
    }
    // A `<` that starts nothing is text.
    text += "<";
    i++;
  }
  flush();
  return out;
}

function skipBogus(s: string, from: number): number {
  const gt = s.indexOf(">", from);
  return gt < 0 ? s.length : gt + 1;
}

/** After `<!--`: `-->`, `--!>`, and the abrupt `<!-->` / `<!--->` all end a comment. */
function skipComment(s: string, from: number): number {
  if (s.startsWith(">", from)) return from + 1;
  if (s.startsWith("->", from)) return from + 2;
  let j = from;
  for (;;) {
    const dash = s.indexOf("--", j);
    if (dash < 0) return s.length;
    if (s.startsWith("-->", dash)) return dash + 3;
    if (s.startsWith("--!>", dash)) return dash + 4;
    j = dash + 1;
  }
}

/** The index of `</name` (any case) followed by whitespace, `/` or `>`; -1 if none. */
function findRawEnd(s: string, from: number, name: string): number {
  const lower = s.toLowerCase();
  let j = from;
  for (;;) {
    const k = lower.indexOf("</" + name, j);
    if (k < 0) return -1;
    const c = s[k + 2 + name.length] ?? "";
    if (c === "" || c === ">" || c === "/" || isSpace(c)) return k;
    j = k + 2;
  }
}

interface RawTag {
  name: string;
  attrs: Array<[string, string]>;
  selfClosing: boolean;
  end: number;
}

/** A tag from its name's first character to just past `>`; null when input ends inside it. */
function readTag(s: string, from: number): RawTag | null {
  const n = s.length;
  let i = from;
  while (i < n && !isSpace(s[i]!) && s[i] !== "/" && s[i] !== ">") i++;
  const name = s.slice(from, i).toLowerCase();
  const attrs: Array<[string, string]> = [];
  const seen = new Set<string>();
  let selfClosing = false;
  for (;;) {
    while (i < n && (isSpace(s[i]!) || s[i] === "/")) {
      // A `/` directly before `>` marks the tag self-closing; elsewhere it separates attributes.
      if (s[i] === "/" && s[i + 1] === ">") selfClosing = true;
      i++;
    }
    if (i >= n) return null;
    if (s[i] === ">") return { name, attrs, selfClosing, end: i + 1 };
    selfClosing = false;
    // Attribute name: up to whitespace, `/`, `>` or `=` (a leading `=` belongs to the name).
    const start = i;
    i++;
    while (i < n && !isSpace(s[i]!) && s[i] !== "/" && s[i] !== ">" && s[i] !== "=") i++;
    const attrName = s.slice(start, i).toLowerCase();
    let value = "";
    let j = i;
    while (j < n && isSpace(s[j]!)) j++;
    if (s[j] === "=") {
      j++;
      while (j < n && isSpace(s[j]!)) j++;
      if (j >= n) return null;
      const q = s[j];
      if (q === '"' || q === "'") {
        const close = s.indexOf(q, j + 1);
        if (close < 0) return null;
        value = s.slice(j + 1, close);
        i = close + 1;
      } else {
        const vs = j;
        while (j < n && !isSpace(s[j]!) && s[j] !== ">") j++;
        value = s.slice(vs, j);
        i = j;
      }
    }
    // The first of duplicated attributes wins, as in browsers.
    if (!seen.has(attrName)) {
      seen.add(attrName);
      attrs.push([attrName, value]);
    }
  }
}
