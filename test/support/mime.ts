// Just enough MIME to read what nodemailer sends: headers (folded, RFC 2047 encoded words),
// multipart trees, quoted-printable / base64 / 7bit / 8bit bodies, any charset TextDecoder knows.
// For tests only: it trusts its input and ignores what auth mails never contain.

export interface ParsedMail {
  /** Lower-cased names; the first occurrence wins; encoded words decoded. */
  headers: Record<string, string>;
  subject: string;
  /** The first text/plain and text/html parts that are not attachments ("" when absent). */
  text: string;
  html: string;
}

/** `raw` is the message as bytes (or a string holding only ASCII/Latin-1 byte values). */
export function parseMail(raw: Uint8Array | string): ParsedMail {
  const bytes = typeof raw === "string" ? raw : Buffer.from(raw).toString("latin1");
  // The last line break ends the message's last line (SMTP's <CRLF>.<CRLF>); it is not content.
  const entity = parseEntity(bytes.replace(/\r?\n$/, ""));
  const found = { text: undefined as string | undefined, html: undefined as string | undefined };
  collectBodies(entity, found);
  return { headers: entity.headers, subject: entity.headers.subject ?? "", text: found.text ?? "", html: found.html ?? "" };
}

interface Entity {
  headers: Record<string, string>;
  /** Latin-1 string: one char per byte, still transfer-encoded. */
  body: string;
}

function parseEntity(bytes: string): Entity {
  const split = /\r?\n\r?\n/.exec(bytes);
  const head = split ? bytes.slice(0, split.index) : bytes;
  const body = split ? bytes.slice(split.index + split[0].length) : "";
  const headers: Record<string, string> = {};
  // Unfold: a line starting with whitespace continues the previous header.
  for (const line of head.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers[name] ??= decodeHeader(line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function collectBodies(entity: Entity, found: { text?: string; html?: string }): void {
  const { value: type, params } = parseParams(entity.headers["content-type"] ?? "text/plain");
  if (type.startsWith("multipart/") && params.boundary) {
    for (const part of splitMultipart(entity.body, params.boundary)) collectBodies(parseEntity(part), found);
    return;
  }
  if (parseParams(entity.headers["content-disposition"] ?? "").value === "attachment") return;
  if (type !== "text/plain" && type !== "text/html") return;
  const bytes = decodeTransfer(entity.body, entity.headers["content-transfer-encoding"] ?? "7bit");
  const text = new TextDecoder(params.charset ?? "utf-8").decode(bytes);
  if (type === "text/plain") found.text ??= text;
  else found.html ??= text;
}

/** The parts between `--boundary` lines, up to `--boundary--`; preamble and epilogue dropped. */
function splitMultipart(body: string, boundary: string): string[] {
  const parts: string[] = [];
  let current: string[] | null = null;
  for (const line of body.split(/\r?\n/)) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}` || trimmed === `--${boundary}--`) {
      if (current !== null) parts.push(current.join("\r\n"));
      if (trimmed === `--${boundary}--`) return parts;
      current = [];
    } else if (current !== null) {
      current.push(line);
    }
  }
  if (current !== null) parts.push(current.join("\r\n"));
  return parts;
}

/** `text/plain; charset="utf-8"; format=flowed` → value and lower-cased parameter names. */
function parseParams(header: string): { value: string; params: Record<string, string> } {
  const [value = "", ...rest] = header.split(";");
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf("=");
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
  }
  return { value: value.trim().toLowerCase(), params };
}

function decodeTransfer(body: string, encoding: string): Uint8Array {
  switch (encoding.trim().toLowerCase()) {
    case "base64":
      return Buffer.from(body.replace(/\s+/g, ""), "base64");
    case "quoted-printable":
      return quotedPrintable(body.replace(/=\r?\n/g, ""));
    default:
      return Buffer.from(body, "latin1");
  }
}

function quotedPrintable(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const hex = s[i] === "=" ? s.slice(i + 1, i + 3) : "";
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(s.charCodeAt(i) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/**
 * RFC 2047 encoded words; raw 8-bit header bytes are read as UTF-8 (SMTPUTF8). Adjacent words
 * are decoded together, since an encoder may split one multi-byte character between two words.
 */
function decodeHeader(value: string): string {
  // Whitespace between two adjacent encoded words is not part of the text.
  const joined = value.replace(/(\?=)\s+(?==\?)/g, "$1");
  let out = "";
  let pending: { charset: string; bytes: number[] } | null = null;
  const flush = () => {
    if (pending) out += new TextDecoder(pending.charset).decode(Uint8Array.from(pending.bytes));
    pending = null;
  };
  for (const part of joined.split(/(=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=)/)) {
    const word = /^=\?([^?*]+)(?:\*[^?]*)?\?([QqBb])\?([^?]*)\?=$/.exec(part);
    if (!word) {
      if (part === "") continue;
      flush();
      out += new TextDecoder().decode(Buffer.from(part, "latin1"));
      continue;
    }
    const [, charset = "utf-8", enc = "B", data = ""] = word;
    const bytes = enc.toUpperCase() === "B" ? Buffer.from(data, "base64") : quotedPrintable(data.replace(/_/g, " "));
    if (pending && pending.charset.toLowerCase() !== charset.toLowerCase()) flush();
    pending ??= { charset, bytes: [] };
    pending.bytes.push(...bytes);
  }
  flush();
  return out;
}
