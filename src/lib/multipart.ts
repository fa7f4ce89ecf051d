// A streaming multipart/form-data reader: text fields are collected (bounded), the file part is handed
// to the caller as a stream while the request is still arriving, so an upload of any size passes
// through a few chunks of memory. Request.formData() would buffer the whole body.

export interface MultipartField {
  name: string;
  value: string;
}

export interface MultipartFile {
  name: string;
  filename: string | null;
  contentType: string | null;
  /** The part's bytes. Must be consumed (or abandoned by throwing) before the next part is read. */
  body: AsyncIterable<Uint8Array>;
}

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MultipartError";
  }
}

/** The boundary of a multipart/form-data content type, or null. */
export function multipartBoundary(contentType: string | null): string | null {
  if (!contentType || !/^multipart\/form-data\b/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  return b && b.length <= 200 ? b : null;
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_FIELD_BYTES = 64 * 1024;

/**
 * Reads parts in order, calling onField for text fields, until the first file part, which is
 * returned (fields after the file are reported through `trailingFields` once its body is consumed).
 */
export async function readMultipart(
  stream: ReadableStream<Uint8Array>,
  boundary: string,
  onField: (field: MultipartField) => void,
): Promise<MultipartFile | null> {
  // The delimiter is CRLF--boundary; a virtual CRLF before the body lets the first one match too.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const reader = stream.getReader();
  let buf: Buffer = Buffer.from(CRLF);
  let done = false;

  async function more(): Promise<boolean> {
    if (done) return false;
    const { value, done: d } = await reader.read();
    if (d) {
      done = true;
      return false;
    }
    buf = buf.length === 0 ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.concat([buf, value]);
    return true;
  }

  /** Consumes up to and including the next delimiter, returning what came before it. */
  async function untilDelimiter(limit: number): Promise<Buffer> {
    for (;;) {
      const i = buf.indexOf(delimiter);
      if (i >= 0) {
        const before = buf.subarray(0, i);
        buf = buf.subarray(i + delimiter.length);
        return Buffer.from(before);
      }
      if (buf.length > limit + delimiter.length) throw new MultipartError("multipart field too large");
      if (!(await more())) throw new MultipartError("unexpected end of multipart body");
    }
  }

  /** After a delimiter: "--" ends the body, CRLF starts a part. Returns the part's headers or null. */
  async function partHeaders(): Promise<Map<string, string> | null> {
    while (buf.length < 2) if (!(await more())) throw new MultipartError("unexpected end of multipart body");
    if (buf[0] === 0x2d && buf[1] === 0x2d) return null;
    // Transport padding (spaces/tabs) may precede the CRLF.
    for (;;) {
      const end = buf.indexOf(HEADER_END);
      if (end >= 0) {
        const lineEnd = buf.indexOf(CRLF);
        const text = buf.subarray(lineEnd + 2, end).toString("utf8");
        buf = buf.subarray(end + 4);
        const headers = new Map<string, string>();
        for (const line of text.split("\r\n")) {
          const c = line.indexOf(":");
          if (c > 0) headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
        }
        return headers;
      }
      if (buf.length > MAX_HEADER_BYTES) throw new MultipartError("multipart headers too large");
      if (!(await more())) throw new MultipartError("unexpected end of multipart body");
    }
  }

  // Skip the preamble up to the first delimiter.
  await untilDelimiter(MAX_HEADER_BYTES);
  for (;;) {
    const headers = await partHeaders();
    if (!headers) return null;
    const disposition = parseDisposition(headers.get("content-disposition") ?? "");
    if (!disposition) throw new MultipartError("multipart part without a form-data disposition");
    if (disposition.filename === null && !headers.has("content-type")) {
      const value = await untilDelimiter(MAX_FIELD_BYTES);
      onField({ name: disposition.name, value: value.toString("utf8") });
      continue;
    }
    return {
      name: disposition.name,
      filename: disposition.filename,
      contentType: headers.get("content-type") ?? null,
      body: fileBody(),
    };
  }

  async function* fileBody(): AsyncIterable<Uint8Array> {
    try {
      for (;;) {
        const i = buf.indexOf(delimiter);
        if (i >= 0) {
          if (i > 0) yield buf.subarray(0, i);
          buf = buf.subarray(i + delimiter.length);
          break;
        }
        // Everything except a possible partial delimiter at the end can go out now.
        const safe = buf.length - (delimiter.length - 1);
        if (safe > 0) {
          const out = buf.subarray(0, safe);
          buf = buf.subarray(safe);
          yield out;
        }
        if (!(await more())) throw new MultipartError("unexpected end of multipart body");
      }
      // Fields after the file are read and ignored (storage-js sends them first).
      for (;;) {
        const headers = await partHeaders();
        if (!headers) break;
        await untilDelimiter(MAX_FIELD_BYTES);
      }
    } finally {
      reader.releaseLock();
    }
  }
}

function parseDisposition(value: string): { name: string; filename: string | null } | null {
  if (!/^form-data\b/i.test(value)) return null;
  const param = (key: string): string | null => {
    const m = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"|;\\s*${key}=([^;\\s]*)`, "i").exec(value);
    if (!m) return null;
    return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? "");
  };
  return { name: param("name") ?? "", filename: param("filename") };
}
