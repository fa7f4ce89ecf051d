// sanitizeHtml: HTML in, HTML that only contains allow-listed elements and attributes out.
//
// Parsing, entity decoding and re-serialisation are sanitize-html's (on htmlparser2); this file is
// the allow-list it is configured with. The output is rebuilt from the parse, never copied: text
// is escaped, attributes are double-quoted and escaped, elements are closed in order. So a browser
// parses the sanitiser's canonical markup, not the input's, and parser differentials (mXSS) have
// nothing to work with. Rules:
// - Elements outside ALLOWED lose their tags but keep their (sanitised) text, except DROP_CONTENT
//   ones (script, style, iframe, object, embed, form controls, svg, math, …), removed with all
//   they contain. Comments, doctypes, CDATA and processing instructions are removed.
// - Attributes outside the element's allow-list are removed: no event handlers, no `style` (so no
//   CSS expressions or url()), no `id`/`name` (DOM clobbering), no `srcset`/`formaction`.
// - URL attributes go through safeUrl (url.ts) after decoding; numeric ones must be integers.
// - `target` on links is kept only as `_blank`, with rel="noopener noreferrer" forced; `rel` is
//   never taken from input.
//
// Traps:
// - NUL is stripped before parsing: a browser turns it into U+FFFD, and it is only ever an evasion
//   trick (`java\0script:`); stripping it means the checked value is the stored value.
// - sanitize-html writes void elements as `<img … />`; the trailing ` />` is rewritten to `>` so the
//   canonical form stays the one already stored in rich_text columns. That rewrite is exact: text
//   and attribute values come out with every `>` escaped, so ` />` occurs only at a void tag's end.
// - sanitize-html drops an empty value of an attribute that cannot be boolean (`title=""`,
//   `href=""`), except `alt`; boolean attributes come out bare (`<details open>`).
import type sanitizeLib from "sanitize-html";
import { DEFAULT_SCHEMES, SCHEMES_BY_TAG, safeUrl } from "./url.ts";

const VOID = ["br", "hr", "img", "col", "wbr"];

const GLOBAL_ATTRS = ["title", "lang", "dir", "class"];

/** Element → its allowed attributes besides GLOBAL_ATTRS. */
const ALLOWED: Record<string, string[]> = {
  p: [],
  br: [],
  hr: [],
  div: [],
  span: [],
  b: [],
  strong: [],
  i: [],
  em: [],
  u: [],
  s: [],
  strike: [],
  del: ["cite", "datetime"],
  ins: ["cite", "datetime"],
  sub: [],
  sup: [],
  small: [],
  mark: [],
  code: [],
  pre: [],
  kbd: [],
  samp: [],
  var: [],
  wbr: [],
  blockquote: ["cite"],
  q: ["cite"],
  cite: [],
  abbr: [],
  dfn: [],
  time: ["datetime"],
  h1: [],
  h2: [],
  h3: [],
  h4: [],
  h5: [],
  h6: [],
  ul: [],
  ol: ["start", "reversed", "type"],
  li: ["value"],
  dl: [],
  dt: [],
  dd: [],
  a: ["href", "target", "rel"],
  img: ["src", "alt", "width", "height"],
  figure: [],
  figcaption: [],
  picture: [],
  table: [],
  caption: [],
  thead: [],
  tbody: [],
  tfoot: [],
  tr: [],
  th: ["colspan", "rowspan", "scope"],
  td: ["colspan", "rowspan"],
  colgroup: ["span"],
  col: ["span"],
  details: ["open"],
  summary: [],
};

/** Removed together with everything inside them (sanitize-html's nonTextTags skip the subtree). */
const DROP_CONTENT = [
  "script",
  "style",
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
  "applet",
  "param",
  "noscript",
  "noembed",
  "noframes",
  "xmp",
  "plaintext",
  "template",
  "textarea",
  "title",
  "select",
  "option",
  "optgroup",
  "button",
  "input",
  "datalist",
  "svg",
  "math",
  "canvas",
  "audio",
  "video",
  "source",
  "track",
  "base",
  "link",
  "meta",
  "head",
  "portal",
  "dialog",
];

const URL_ATTRS = new Set(["href", "src", "cite"]);
const NUMERIC_ATTRS = new Set(["width", "height", "colspan", "rowspan", "span", "start", "value"]);

/** Value rules the allow-list cannot express; runs on every tag before attributes are filtered. */
function checkValues(tagName: string, attribs: sanitizeLib.Attributes): sanitizeLib.Tag {
  if (!Object.hasOwn(ALLOWED, tagName)) return { tagName, attribs };
  const out: sanitizeLib.Attributes = {};
  let blank = false;
  for (const [k, value] of Object.entries(attribs)) {
    if (k === "rel") continue; // set below when needed; never taken from input
    if (URL_ATTRS.has(k)) {
      const url = safeUrl(value, tagName, k);
      if (url !== null) out[k] = url;
    } else if (NUMERIC_ATTRS.has(k)) {
      if (/^-?\d{1,6}$/.test(value.trim())) out[k] = value;
    } else if (k === "target") {
      if (value.trim().toLowerCase() !== "_blank") continue;
      blank = true;
      out[k] = "_blank";
    } else if (k === "dir") {
      if (/^(ltr|rtl|auto)$/i.test(value.trim())) out[k] = value;
    } else out[k] = value;
  }
  if (blank) out.rel = "noopener noreferrer";
  return { tagName, attribs: out };
}

const OPTIONS: sanitizeLib.IOptions = {
  allowedTags: Object.keys(ALLOWED),
  allowedAttributes: { "*": GLOBAL_ATTRS, ...ALLOWED },
  nonTextTags: DROP_CONTENT,
  disallowedTagsMode: "discard",
  selfClosing: VOID,
  allowedSchemes: DEFAULT_SCHEMES,
  allowedSchemesByTag: SCHEMES_BY_TAG,
  allowProtocolRelative: true,
  transformTags: { "*": checkValues },
  parseStyleAttributes: false, // `style` is never allowed; nothing to parse
};

// Loaded at the first rich-text write rather than at start: the library and its parser add ~17,000
// objects to the heap of every server, most of which never store rich text (a bigger heap made
// every request's garbage collection dearer: bench/gateway.ts, 2026-12-04).
let lib: typeof sanitizeLib | null = null;
export const sanitizeHtmlLibrary = (): typeof sanitizeLib => (lib ??= require("sanitize-html") as typeof sanitizeLib);

export function sanitizeHtml(input: string): string {
  const sanitize = sanitizeHtmlLibrary();
  return sanitize(input.replaceAll("\u0000", ""), OPTIONS).replaceAll(" />", ">");
}
