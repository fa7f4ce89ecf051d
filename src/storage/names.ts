// What a bucket id and an object name may be, file size strings, and MIME type matching. Pure
// functions; the one filesystem path check lives in backends/safe-path.ts.
import { errors } from "./errors.ts";

/**
 * Supabase's S3-safe character set, widened to letters, digits and marks of any script (Supabase
 * refuses non-ASCII names; its users keep asking for them). Nothing else: no control characters,
 * no NUL, no backslash, no `%`, `#`, `~`, `^`, `|`, quotes, brackets or braces.
 */
const KEY_CHARS = /^[\p{L}\p{M}\p{N}_/!.*'() &$=@;:+,?-]+$/u;
const BUCKET_CHARS = /^[\p{L}\p{M}\p{N}_!.*'() &$=@;:+,?-]+$/u;

/** S3's key limit; the local backend names files by version, so it holds any name up to this. */
export const MAX_KEY_BYTES = 1024;
const MAX_BUCKET_LENGTH = 100;
const encoder = new TextEncoder();

/** Throws InvalidKey unless `name` is a relative object name without empty, `.` or `..` segments. */
export function mustBeValidKey(name: unknown): asserts name is string {
  if (typeof name !== "string" || !isValidKey(name)) throw errors.invalidKey(typeof name === "string" ? name : "");
}

export function isValidKey(name: string): boolean {
  if (name.length === 0 || !KEY_CHARS.test(name)) return false;
  if (encoder.encode(name).length > MAX_KEY_BYTES) return false;
  if (name.startsWith("/") || name.endsWith("/")) return false;
  for (const segment of name.split("/")) {
    if (segment === "" || segment === "." || segment === "..") return false;
  }
  return true;
}

export function mustBeValidBucketName(id: unknown): asserts id is string {
  if (typeof id !== "string" || !isValidBucketName(id)) throw errors.invalidBucketName();
}

export function isValidBucketName(id: string): boolean {
  return id.length > 0 && id.length <= MAX_BUCKET_LENGTH && BUCKET_CHARS.test(id) && id !== "." && id !== "..";
}

/**
 * Object names arrive percent-encoded in the URL path. Decoding happens once, here; a malformed
 * escape is an invalid key, and the decoded name is then validated like any other.
 */
export function decodeObjectPath(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw errors.invalidKey(raw);
  }
  return decoded;
}

/**
 * `file_size_limit` as Supabase accepts it: a number of bytes, a numeric string, or a string with
 * a decimal unit ("20mb" = 20,000,000 bytes). null/undefined/0 mean "no bucket limit".
 */
export function parseFileSizeLimit(value: unknown): number | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw errors.invalidFileSizeLimit();
    return value === 0 ? null : Math.floor(value);
  }
  if (typeof value !== "string") throw errors.invalidFileSizeLimit();
  if (/^\d+$/.test(value)) return Number(value) || null;
  const m = /^(\d+(?:\.\d+)?)\s*(gb|mb|kb|b)$/i.exec(value.trim());
  if (!m) throw errors.invalidFileSizeLimit();
  const n = Number(Number.parseFloat(m[1]!).toPrecision(3));
  const unit = { gb: 1e9, mb: 1e6, kb: 1e3, b: 1 }[m[2]!.toLowerCase() as "gb" | "mb" | "kb" | "b"];
  return Math.round(n * unit) || null;
}

/** The media type without parameters, lower-cased: "Text/Plain;charset=UTF-8" → "text/plain". */
export function mediaType(contentType: string): string {
  return contentType.split(";")[0]!.trim().toLowerCase();
}

/** Whether a content type is allowed by a bucket's list (exact types and wildcards like image/*). */
export function mimeAllowed(contentType: string, allowed: readonly string[] | null | undefined): boolean {
  if (!allowed || allowed.length === 0) return true;
  const type = mediaType(contentType);
  return allowed.some((pattern) => {
    const p = mediaType(pattern);
    if (p === "*/*" || p === "*") return true;
    if (p.endsWith("/*")) return type.startsWith(p.slice(0, -1));
    return p === type;
  });
}

export function validateMimeTypes(list: unknown): string[] | null {
  if (list === null || list === undefined) return null;
  if (!Array.isArray(list)) throw errors.invalidParameter("allowed_mime_types");
  for (const item of list) {
    if (typeof item !== "string" || !/^[\w.+-]+\/[\w.+*-]+$|^\*$/.test(mediaType(item))) {
      throw errors.invalidParameter("allowed_mime_types", `Invalid mime type ${String(item).slice(0, 100)}`);
    }
  }
  return list.length === 0 ? null : (list as string[]);
}

/** postgres.js cannot bind LIKE metacharacters literally: escape them for `like $1 || '%'`. */
export function likePrefix(s: string): string {
  return s.replace(/[\\%_]/g, (c) => "\\" + c);
}
