// Which URLs rich text may carry. This is policy, not parsing: the value arrives already decoded
// (by htmlparser2 inside sanitize-html, or by decodeAttributeValue for JSON document attributes),
// and this function only normalises it the way a browser's URL parser would and checks the scheme.
//
// - relative URLs (path, query, fragment, //host) pass;
// - links (a href) may be http, https, mailto or tel; every other URL attribute http or https;
// - img src may also be a base64 data:image of a raster type (never svg+xml: that is a document).
//
// Trap: sanitize-html's own scheme check (launder's naughtyHref) cannot tell data:image/png from
// data:image/svg+xml, nor an attribute from another on the same tag, hence this function. It runs
// first and its result is what is stored; sanitize-html's check stays on as a second gate.
import { sanitizeHtmlLibrary } from "./html.ts";

const LINK_SCHEMES = new Set(["http", "https", "mailto", "tel"]);
const OTHER_SCHEMES = new Set(["http", "https"]);
const DATA_IMAGE = /^data:image\/(?:png|gif|jpe?g|webp|avif|bmp);base64,[A-Za-z0-9+/]+=*$/i;

/** The schemes safeUrl can let through for each tag, for sanitize-html's second check. */
export const SCHEMES_BY_TAG: Record<string, string[]> = { a: [...LINK_SCHEMES], img: [...OTHER_SCHEMES, "data"] };
export const DEFAULT_SCHEMES = [...OTHER_SCHEMES];

/**
 * The URL to keep for this element/attribute, or null to drop the attribute. `decoded` is the value
 * after character references were resolved; the result has the leading/trailing C0 controls and
 * spaces, and the tabs and newlines anywhere, removed, as the browser's URL parser ignores them.
 */
export function safeUrl(decoded: string, element: string, attr: string): string | null {
  const url = decoded.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
  const colon = url.indexOf(":");
  const sep = url.search(/[/?#]/);
  if (colon < 0 || (sep >= 0 && sep < colon)) return url;
  const scheme = url.slice(0, colon).toLowerCase();
  if (element === "img" && attr === "src" && scheme === "data") {
    const compact = url.replace(/\s+/g, "");
    return DATA_IMAGE.test(compact) ? compact : null;
  }
  return (element === "a" && attr === "href" ? LINK_SCHEMES : OTHER_SCHEMES).has(scheme) ? url : null;
}

/**
 * A JSON string as a browser would read it between double quotes in markup (`&#106;avascript:`
 * → `javascript:`). Editor documents are usually rendered through the DOM, where no decoding
 * happens, but a renderer that writes attrs into HTML without escaping `&` would decode them, so
 * the URL is checked in that view. The decoding is htmlparser2's, reached through sanitize-html:
 * inside a double-quoted attribute only `"` ends the value, and it is escaped here.
 */
export function decodeAttributeValue(raw: string): string {
  if (!raw.includes("&")) return raw;
  let value = raw;
  sanitizeHtmlLibrary()(`<a href="${raw.replaceAll('"', "&quot;")}">`, {
    allowedTags: [],
    allowedAttributes: {},
    onOpenTag: (_name, attribs) => {
      value = attribs.href ?? "";
    },
  });
  return value;
}
