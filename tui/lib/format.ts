// Cells and numbers for a terminal: one line each, readable. JSON and arrays are compact JSON,
// Plinth's rich text shows its text without markup, a file reference shows as bucket/path, null
// as ∅ (so it never looks like the string "null"), control characters as visible escapes.

export const NULL_MARK = "∅";

export function cell(value: unknown, type = ""): string {
  if (value === null || value === undefined) return NULL_MARK;
  if (typeof value === "string") return oneLine(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (type.endsWith("rich_text") && typeof value === "object") return oneLine(richText(value));
  if (type.endsWith("file_ref") && typeof value === "object" && value && "bucket" in value && "path" in value) {
    const v = value as { bucket: unknown; path: unknown };
    return `▤ ${String(v.bucket)}/${String(v.path)}`;
  }
  return oneLine(JSON.stringify(value));
}

/** A rich_text value's plain text: HTML without tags, or a document tree's text nodes. */
export function richText(v: unknown): string {
  if (v && typeof v === "object" && "html" in v && typeof (v as { html: unknown }).html === "string") {
    return (v as { html: string }).html
      .replace(/<[^>]*>/g, " ")
      .replace(/&nbsp;/g, " ")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&")
      .replace(/\s+/g, " ")
      .trim();
  }
  const parts: string[] = [];
  const walk = (n: unknown) => {
    if (!n || typeof n !== "object") return;
    const node = n as { text?: unknown; content?: unknown };
    if (typeof node.text === "string") parts.push(node.text);
    if (Array.isArray(node.content)) node.content.forEach(walk);
  };
  walk(v);
  return parts.join(" ");
}

/** Text from the server made safe for the terminal, on one line: control characters as visible escapes. */
export function oneLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we escape.
  return s
    .replace(/\r?\n/g, "↵")
    .replace(/\t/g, " ")
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Terminal columns of `s`: wide (CJK, emoji) characters take two, combining marks none. */
export function width(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x300 && c <= 0x36f) || c === 0x200d || (c >= 0xfe00 && c <= 0xfe0f)) continue;
    const wide =
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1f300 && c <= 0x1faff) ||
      (c >= 0x20000 && c <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

/** `s` cut or padded to exactly `w` columns (an ellipsis marks a cut). */
export function fit(s: string, w: number, align: "left" | "right" = "left"): string {
  if (w <= 0) return "";
  // Whatever reaches a cell is made inert: a value carrying ESC sequences must not drive the terminal.
  let out = oneLine(s);
  if (width(out) > w) {
    let acc = "";
    for (const ch of out) {
      if (width(acc + ch) > w - 1) break;
      acc += ch;
    }
    out = acc + "…";
  }
  const pad = " ".repeat(Math.max(0, w - width(out)));
  return align === "right" ? pad + out : out + pad;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export const ms = (v: number | null | undefined): string => (v === null || v === undefined ? "–" : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`);

export const count = (n: number): string => n.toLocaleString("en-US");

/** A timestamp as "YYYY-MM-DD HH:MM:SS" (UTC), short enough for a column. */
export const when = (iso: string | null | undefined): string => (iso ? iso.replace("T", " ").slice(0, 19) : "–");

/** Multi-line text from the server, each line made inert (statements, policy expressions). */
export const inert = (s: string): string => s.split(/\r?\n/).map(oneLine).join("\n");
