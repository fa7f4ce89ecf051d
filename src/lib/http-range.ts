// HTTP Range and conditional-request handling for downloads (RFC 9110 §13–14), single ranges only.

/** Inclusive byte range, as in HTTP. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A Range header that cannot be satisfied (416); the caller renders it in its API's shape. */
export class RangeNotSatisfiable extends Error {
  readonly status = 416;
  constructor() {
    super("invalid range provided");
    this.name = "RangeNotSatisfiable";
  }
}
const unsatisfiable = () => new RangeNotSatisfiable();

/** null: no Range header (or one we ignore, e.g. multiple ranges → whole body, as RFC allows). */
export function parseRange(header: string | null, size: number): ByteRange | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) {
    if (/^bytes=.*,/.test(header)) return null;
    throw unsatisfiable();
  }
  const [, a, b] = m;
  if (!a && !b) throw unsatisfiable();
  if (size === 0) throw unsatisfiable();
  if (!a) {
    const suffix = Number(b);
    if (!Number.isSafeInteger(suffix) || suffix <= 0) throw unsatisfiable();
    return { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(a);
  const end = b ? Number(b) : size - 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start || start >= size) throw unsatisfiable();
  return { start, end: Math.min(end, size - 1) };
}

/** If-None-Match: "*", or a list of (weak or strong) entity tags compared weakly. */
export function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => bare(t) === bare(etag));
}

export function notModifiedSince(header: string | null, lastModified: Date): boolean {
  if (!header) return false;
  const since = Date.parse(header);
  return Number.isFinite(since) && Math.floor(lastModified.getTime() / 1000) <= Math.floor(since / 1000);
}
