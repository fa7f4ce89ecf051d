// How stored objects are labelled when served, so that user content is never active content on
// Plinth's origin. An object's type is whatever its uploader said; served as-is, an uploaded
// text/html or image/svg+xml page would run its scripts with the origin's cookies and storage.
//
// Rules (pure, applied to every response that carries or describes object bytes):
//   - `X-Content-Type-Options: nosniff` always, so browsers never guess a type other than the label;
//   - a sandboxing CSP (`default-src 'none'; sandbox`) unless the type is passive media. The CSP
//     makes a rendered document an opaque origin with no scripts, plugins, forms or subresources;
//     it does not affect <img>/<video>/<audio>/fetch use of the same URL.
// Traps:
//   - browsers parse Content-Type themselves: "text/plain, text/html" is text/html to them (the last
//     type in a comma list wins), so "passive" is decided on a strictly parsed single type and
//     anything unusual is treated as active;
//   - the stored type and cache-control came from the uploader (TUS metadata is base64, so it can
//     hold CR/LF); a value that cannot be a header is replaced instead of failing the response.

const TOKEN = "[!#$%&'*+.^_`|~0-9a-z-]+";
/** One media type, optionally with parameters that hold no comma (no second type hidden in them). */
const SINGLE_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})\\s*(;[^,]*)?$`, "i");
const HEADER_SAFE = /^[\x20-\x7e]*$/;

/** Images browsers decode as pictures only (SVG, being a document, is not among them). */
const PASSIVE_IMAGES = new Set([
  "png",
  "jpeg",
  "jpg",
  "pjpeg",
  "gif",
  "webp",
  "avif",
  "bmp",
  "x-icon",
  "vnd.microsoft.icon",
  "tiff",
  "heic",
  "heif",
  "apng",
  "jxl",
]);

export const SANDBOX_CSP = "default-src 'none'; sandbox";

/** Whether a browser could render this type only as inert media (never a document with script). */
export function isPassiveType(contentType: string): boolean {
  const m = SINGLE_TYPE.exec(contentType.trim());
  if (!m) return false;
  const type = m[1]!.toLowerCase();
  const sub = m[2]!.toLowerCase();
  if (sub.includes("xml") || sub.includes("html")) return false;
  if (type === "image") return PASSIVE_IMAGES.has(sub);
  if (type === "video" || type === "audio" || type === "font") return true;
  // PDF viewers run a document's scripts in their own sandbox, and a CSP sandbox stops inline viewing.
  return type === "application" && sub === "pdf";
}

/** The content headers for serving an object whose stored type and cache-control are these. */
export function servedContentHeaders(storedType: unknown, storedCacheControl: unknown): Record<string, string> {
  // unknown: metadata is jsonb that anyone with SQL access may have written by hand.
  const type = headerValue(storedType) ?? "application/octet-stream";
  const headers: Record<string, string> = {
    "content-type": type,
    "cache-control": headerValue(storedCacheControl) ?? "no-cache",
    "x-content-type-options": "nosniff",
  };
  if (!isPassiveType(type)) headers["content-security-policy"] = SANDBOX_CSP;
  return headers;
}

const headerValue = (v: unknown): string | null => (typeof v === "string" && v.trim() !== "" && HEADER_SAFE.test(v) ? v : null);
