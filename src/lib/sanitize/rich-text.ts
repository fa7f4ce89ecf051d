// Values written to a `plinth.rich_text` column. Migration 0007 defines the type as a jsonb domain
// holding an object: an editor's document tree (ProseMirror/TipTap style,
// {"type": "doc", "content": [...]}) or HTML carried as {"html": "<p>…</p>"}. Writes are cleaned:
// - a JSON string is shorthand for HTML: "<p>hi</p>" is stored as {"html": "<p>hi</p>"} (sanitised);
// - every string under an "html" key, at any depth, goes through sanitizeHtml;
// - a node whose "type" names an active element (script, iframe, object, embed, form, svg, …) is
//   removed from the tree (not "link": that is the editors' hyperlink mark; its href is checked);
// - in "attrs" objects, event handlers (on*), style, srcdoc, srcset and formaction are removed,
//   and URL attributes (href, src, url, cite, action, poster, background, xlink:href) are kept only
//   when safeUrl accepts them, read as a browser would read them in markup.
// Text nodes stay as they are: they are text, and an editor renders them as text.
//
// The one error, a document nested deeper than MAX_DEPTH, is a PlinthError with PostgREST's
// "invalid body" code: rich text only arrives through the REST write path.
import { PlinthError } from "../../errors.ts";
import { sanitizeHtml } from "./html.ts";
import { decodeAttributeValue, safeUrl } from "./url.ts";

const DENIED_TYPES = new Set([
  "script",
  "style",
  "iframe",
  "frame",
  "object",
  "embed",
  "applet",
  "form",
  "input",
  "button",
  "textarea",
  "select",
  "svg",
  "math",
  "template",
  "noscript",
]);
const DROPPED_ATTRS = new Set(["style", "srcdoc", "srcset", "formaction"]);
const URL_KEYS = new Set(["href", "src", "url", "cite", "action", "poster", "background", "xlink:href"]);
const MAX_DEPTH = 128;

const REMOVED = Symbol("removed");
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function sanitizeRichText(value: unknown): unknown {
  if (typeof value === "string") return { html: sanitizeHtml(value) };
  if (value === null || typeof value !== "object") return value; // the domain's check answers
  const out = walk(value as Json, 0);
  return out === REMOVED ? {} : out;
}

function walk(v: Json, depth: number): Json | typeof REMOVED {
  if (depth > MAX_DEPTH) throw new PlinthError(400, "PGRST102", "Rich text document is nested too deeply");
  if (Array.isArray(v)) {
    const items: Json[] = [];
    for (const x of v) {
      const y = walk(x, depth + 1);
      if (y !== REMOVED) items.push(y);
    }
    return items;
  }
  if (v === null || typeof v !== "object") return v;
  if (typeof v.type === "string" && DENIED_TYPES.has(v.type.toLowerCase())) return REMOVED;
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "html" && typeof x === "string") out[k] = sanitizeHtml(x);
    else if (k === "attrs" && x !== null && typeof x === "object" && !Array.isArray(x)) out[k] = cleanAttrs(x, depth + 1);
    else {
      const y = walk(x, depth + 1);
      if (y !== REMOVED) out[k] = y;
    }
  }
  return out;
}

function cleanAttrs(attrs: { [k: string]: Json }, depth: number): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(attrs)) {
    const key = k.toLowerCase();
    if (key.startsWith("on") || DROPPED_ATTRS.has(key)) continue;
    if (URL_KEYS.has(key)) {
      if (x === null) out[k] = null;
      else if (typeof x === "string") {
        // src may carry an image (data:image/png;base64 allowed); href may be mailto:/tel:.
        const url = safeUrl(decodeAttributeValue(x), key === "src" ? "img" : "a", key === "src" ? "src" : "href");
        if (url !== null) out[k] = url;
      }
      continue;
    }
    const y = walk(x, depth + 1);
    if (y !== REMOVED) out[k] = y;
  }
  return out;
}
