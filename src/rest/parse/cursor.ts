// A tiny cursor for the recursive-descent parsers of parse/. Failures throw ParseFailure with a
// human description ("unexpected "x", expecting ...") and no positions or parser state.

export class ParseFailure extends Error {
  constructor(readonly details: string) {
    super(details);
  }
}

export class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(n = 0): string {
    return this.text[this.pos + n] ?? "";
  }
  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (this.text.startsWith(s, this.pos)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  expect(s: string, what = `"${s}"`): void {
    if (!this.eat(s)) this.fail(what);
  }
  skipSpaces(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }
  fail(expecting: string): never {
    const found = this.done ? "end of input" : `"${this.text.slice(this.pos, this.pos + 1)}"`;
    throw new ParseFailure(`unexpected ${found} expecting ${expecting}`);
  }
  end(): void {
    if (!this.done) this.fail("end of input");
  }
}

/** `"quoted \" value"`: double quotes, backslash escapes any character. */
export function quoted(c: Cursor): string {
  c.expect('"');
  let out = "";
  for (;;) {
    if (c.done) c.fail('closing quote "');
    const ch = c.peek();
    if (ch === '"') {
      c.pos++;
      return out;
    }
    if (ch === "\\") {
      c.pos++;
      if (c.done) c.fail("escaped character");
    }
    out += c.peek();
    c.pos++;
  }
}

const IDENT_CHAR = /[\p{L}\p{N}_ $]/u;

/** PostgREST's identifier: letters, digits, `_`, `$`, spaces (trimmed); `-` joins parts unless `->`. */
export function identifier(c: Cursor, what = "field name (* or [a..z0..9_$])"): string {
  const start = c.pos;
  for (;;) {
    const ch = c.peek();
    if (ch && IDENT_CHAR.test(ch)) {
      c.pos++;
      continue;
    }
    if (ch === "-" && c.peek(1) !== ">" && c.pos > start && IDENT_CHAR.test(c.peek(1) || "")) {
      c.pos++;
      continue;
    }
    break;
  }
  const s = c.text.slice(start, c.pos).trim();
  if (!s) {
    c.pos = start;
    c.fail(what);
  }
  return s;
}

/** A field name: quoted or an identifier. */
export function fieldName(c: Cursor): string {
  if (c.peek() === '"') return quoted(c);
  return identifier(c);
}
