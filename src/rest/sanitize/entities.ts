// Character references: enough of HTML's decoding to see what a URL attribute really says
// (`&#106;avascript:`, `&#x6A`, `java&Tab;script&colon;`), and the escaping used on output.
//
// The named table is deliberately partial. A reference the decoder does not know stays literal and
// is then escaped on output (`&amp;foo;`), so the browser sees exactly the text that was checked.

const NAMED: Record<string, string> = {
  amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0",
  // Those an attacker reaches for in URLs: separators, whitespace and the scheme's colon.
  colon: ":", tab: "\t", newline: "\n", sol: "/", bsol: "\\", lpar: "(", rpar: ")", semi: ";",
  comma: ",", period: ".", excl: "!", quest: "?", num: "#", percnt: "%", equals: "=", plus: "+",
  lowbar: "_", hyphen: "-", dash: "\u2010", grave: "`", lsqb: "[", rsqb: "]", lbrack: "[", rbrack: "]",
  lcub: "{", rcub: "}", lbrace: "{", rbrace: "}", verbar: "|", vert: "|", ast: "*", commat: "@",
  dollar: "$", hat: "^", zwnj: "\u200c", zwj: "\u200d", shy: "\u00ad",
  // Common typography, so ordinary text in attributes round-trips.
  copy: "©", reg: "®", trade: "™", hellip: "…", mdash: "—", ndash: "–", lsquo: "‘", rsquo: "’",
  ldquo: "“", rdquo: "”", laquo: "«", raquo: "»", middot: "·", bull: "•", deg: "°", euro: "€",
  pound: "£", yen: "¥", cent: "¢", sect: "§", para: "¶", times: "×", divide: "÷", plusmn: "±",
  eacute: "é", egrave: "è", ecirc: "ê", aacute: "á", agrave: "à", acirc: "â", ouml: "ö", uuml: "ü",
  auml: "ä", ccedil: "ç", ntilde: "ñ", iacute: "í", oacute: "ó", uacute: "ú", szlig: "ß",
};

const NAMED_LOWER = new Map(Object.entries(NAMED).map(([k, v]) => [k.toLowerCase(), v]));

/** Code points a numeric reference may not produce (HTML maps them to U+FFFD). */
function fromCodePoint(cp: number): string {
  if (!Number.isFinite(cp) || cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "\ufffd";
  return String.fromCodePoint(cp);
}

/**
 * Decodes references as a browser would in an attribute value: numeric ones with or without the
 * trailing semicolon, named ones (from the table, case-insensitively, which is stricter than the
 * browser and only ever decodes more) with a semicolon. Unknown names stay as they are.
 */
export function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(?:#[xX]([0-9a-fA-F]{1,8});?|#([0-9]{1,10});?|([A-Za-z][A-Za-z0-9]{0,31});)/g, (whole, hex, dec, name) => {
    if (hex !== undefined) return fromCodePoint(parseInt(hex, 16));
    if (dec !== undefined) return fromCodePoint(parseInt(dec, 10));
    const v = NAMED_LOWER.get(String(name).toLowerCase());
    return v ?? whole;
  });
}

/** Text content: `&`, `<`, `>` escaped; nothing in the result can start markup. */
export function escapeText(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A double-quoted attribute value. */
export function escapeAttr(s: string): string {
  return escapeText(s).replaceAll('"', "&quot;");
}
