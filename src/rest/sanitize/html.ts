// sanitizeHtml: HTML in, HTML that only contains allow-listed elements and attributes out.
//
// The output is re-serialised from tokens, never copied: text is escaped, every attribute is
// double-quoted and escaped, every element that was opened is closed in order. So a browser parses
// this function's canonical markup, not the input's, and parser differentials (mXSS) have nothing
// to work with. Rules:
// - Elements outside ALLOWED lose their tags but keep their (sanitised) text, except DROP_CONTENT
//   ones (script, style, iframe, object, embed, form controls, svg, math, …), removed with all they
//   contain. Comments, doctypes, CDATA and processing instructions are removed.
// - Attributes outside the element's allow-list are removed: no event handlers, no `style` (so no
//   CSS expressions or url()), no `id`/`name` (DOM clobbering), no `srcset`/`formaction`.
// - URL attributes must be relative or http(s) (links also mailto/tel); img src may also be a
//   base64 data:image of a raster type. Checked after decoding references and stripping the
//   whitespace and control characters a browser ignores.
// - `target` on links is kept only as `_blank`, with rel="noopener noreferrer" forced.
import { decodeEntities, escapeAttr, escapeText } from "./entities.ts";
import { RAW_TEXT, tokenize } from "./tokenize.ts";

const VOID = new Set(["br", "hr", "img", "col", "wbr"]);

const GLOBAL_ATTRS = ["title", "lang", "dir", "class"];

/** Element → its allowed attributes besides GLOBAL_ATTRS. */
const ALLOWED: Record<string, string[]> = {
  p: [], br: [], hr: [], div: [], span: [], b: [], strong: [], i: [], em: [], u: [], s: [], strike: [], del: ["cite", "datetime"],
  ins: ["cite", "datetime"], sub: [], sup: [], small: [], mark: [], code: [], pre: [], kbd: [], samp: [], var: [], wbr: [],
  blockquote: ["cite"], q: ["cite"], cite: [], abbr: [], dfn: [], time: ["datetime"],
  h1: [], h2: [], h3: [], h4: [], h5: [], h6: [],
  ul: [], ol: ["start", "reversed", "type"], li: ["value"], dl: [], dt: [], dd: [],
  a: ["href", "target", "rel"], img: ["src", "alt", "width", "height"],
  figure: [], figcaption: [], picture: [],
  table: [], caption: [], thead: [], tbody: [], tfoot: [], tr: [], th: ["colspan", "rowspan", "scope"], td: ["colspan", "rowspan"],
  colgroup: ["span"], col: ["span"],
  details: ["open"], summary: [],
};

/** Removed together with everything inside them. */
const DROP_CONTENT = new Set([
  "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "param", "noscript", "noembed", "noframes",
  "xmp", "plaintext", "template", "textarea", "title", "select", "option", "optgroup", "button", "input", "datalist",
  "svg", "math", "canvas", "audio", "video", "source", "track", "base", "link", "meta", "head", "portal", "dialog",
]);

/** Elements that are void in HTML even though we drop them: they have no end tag to wait for. */
const VOID_DROPPED = new Set(["embed", "param", "input", "source", "track", "base", "link", "meta", "frame"]);

const URL_ATTRS = new Set(["href", "src", "cite"]);
const NUMERIC_ATTRS = new Set(["width", "height", "colspan", "rowspan", "span", "start", "value"]);

const LINK_SCHEMES = new Set(["http", "https", "mailto", "tel"]);
const OTHER_SCHEMES = new Set(["http", "https"]);
const DATA_IMAGE = /^data:image\/(?:png|gif|jpe?g|webp|avif|bmp);base64,[A-Za-z0-9+/]+=*$/i;

/** Whether a (raw, undecoded) URL attribute value is safe for this element/attribute. */
export function safeUrl(raw: string, element: string, attr: string): string | null {
  // What the browser's URL parser sees: references decoded, leading/trailing C0 controls and spaces
  // stripped, tabs and newlines removed anywhere.
  const url = decodeEntities(raw).replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
  const colon = url.indexOf(":");
  const sep = url.search(/[/?#]/);
  if (colon < 0 || (sep >= 0 && sep < colon)) return url; // relative: path, query, fragment, //host
  const scheme = url.slice(0, colon).toLowerCase();
  if (element === "img" && attr === "src" && scheme === "data") return DATA_IMAGE.test(url.replace(/\s+/g, "")) ? url.replace(/\s+/g, "") : null;
  const allowed = element === "a" && attr === "href" ? LINK_SCHEMES : OTHER_SCHEMES;
  return allowed.has(scheme) ? url : null;
}

function cleanAttrs(name: string, attrs: Array<[string, string]>): Array<[string, string]> {
  const allowed = ALLOWED[name]!;
  const out: Array<[string, string]> = [];
  let blank = false;
  for (const [k, rawValue] of attrs) {
    if (!GLOBAL_ATTRS.includes(k) && !allowed.includes(k)) continue;
    if (k === "rel") continue; // set below when needed; never taken from input
    let value: string | null;
    if (URL_ATTRS.has(k)) value = safeUrl(rawValue, name, k);
    else value = decodeEntities(rawValue);
    if (value === null) continue;
    if (NUMERIC_ATTRS.has(k) && !/^-?\d{1,6}$/.test(value.trim())) continue;
    if (k === "target") {
      if (value.trim().toLowerCase() !== "_blank") continue;
      blank = true;
      value = "_blank";
    }
    if (k === "dir" && !/^(ltr|rtl|auto)$/i.test(value.trim())) continue;
    out.push([k, value]);
  }
  if (blank) out.push(["rel", "noopener noreferrer"]);
  return out;
}

export function sanitizeHtml(input: string): string {
  const tokens = tokenize(input);
  const stack: string[] = [];
  let out = "";
  // While > 0 we are inside a DROP_CONTENT element: everything is skipped until it closes.
  let dropping: { name: string; depth: number } | null = null;
  for (const t of tokens) {
    if (dropping) {
      if (t.kind === "start" && t.name === dropping.name && !t.selfClosing) dropping.depth++;
      else if (t.kind === "end" && t.name === dropping.name && --dropping.depth === 0) dropping = null;
      continue;
    }
    switch (t.kind) {
      case "text":
        out += escapeText(decodeEntities(t.text));
        break;
      case "raw":
      case "comment":
        break; // raw text only ever belongs to dropped elements
      case "start": {
        if (DROP_CONTENT.has(t.name)) {
          // A raw-text element's content is its own token, so it is already out of the way.
          if (!VOID_DROPPED.has(t.name) && !t.selfClosing && !RAW_TEXT.has(t.name)) dropping = { name: t.name, depth: 1 };
          break;
        }
        if (!Object.hasOwn(ALLOWED, t.name)) break;
        const attrs = cleanAttrs(t.name, t.attrs).map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join("");
        out += `<${t.name}${attrs}>`;
        if (!VOID.has(t.name)) stack.push(t.name);
        break;
      }
      case "end": {
        if (VOID.has(t.name) || !Object.hasOwn(ALLOWED, t.name)) break;
        const at = stack.lastIndexOf(t.name);
        if (at < 0) break; // a stray end tag
        while (stack.length > at) out += `</${stack.pop()}>`;
        break;
      }
    }
  }
  while (stack.length) out += `</${stack.pop()}>`;
  return out;
}
