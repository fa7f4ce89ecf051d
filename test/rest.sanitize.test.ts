// The rich-text sanitiser on its own: an XSS corpus (every vector must come out inert), ordinary
// formatting kept, idempotence, and the JSON document rules for plinth.rich_text values.
import { describe, expect, test } from "bun:test";
import { sanitizeHtml } from "../src/lib/sanitize/html.ts";
import { sanitizeRichText } from "../src/lib/sanitize/rich-text.ts";

/** Classic vectors (OWASP cheat sheet, html5sec, PortSwigger's lists), one per line of attack. */
export const XSS_CORPUS: string[] = [
  `<script>alert(1)</script>`,
  `<SCRIPT SRC=//xss.example/x.js></SCRIPT>`,
  `<ScRiPt>alert(1)</sCrIpT>`,
  `<script/xss src=//x.example></script>`,
  `<<script>alert(1);//<</script>`,
  `<script>alert(1)`,
  `<img src=x onerror=alert(1)>`,
  `<img src="x" onerror="alert(1)"/>`,
  `<IMG SRC=x OnErRoR=alert(1)>`,
  `<img src=x onerror\t=\talert(1)>`,
  `<img/src=x/onerror=alert(1)>`,
  `<img src="x" onerror=alert(1)//`,
  `<img """><script>alert(1)</script>">`,
  `<img src=javascript:alert(1)>`,
  `<img src="jav\tascript:alert(1)">`,
  `<img src="jav&#x09;ascript:alert(1)">`,
  `<img src="&#14;  javascript:alert(1)">`,
  `<img src=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;>`,
  `<img src=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)>`,
  `<img src=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x31&#x29>`,
  `<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">`,
  `<a href="javascript:alert(1)">x</a>`,
  `<a href="JaVaScRiPt:alert(1)">x</a>`,
  `<a href=" javascript:alert(1)">x</a>`,
  `<a href="java&#10;script:alert(1)">x</a>`,
  `<a href="javascript&colon;alert(1)">x</a>`,
  `<a href="java&Tab;script:alert(1)">x</a>`,
  `<a href="\u0001javascript:alert(1)">x</a>`,
  `<a href="vbscript:msgbox(1)">x</a>`,
  `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`,
  `<a href="java\u0000script:alert(1)">x</a>`,
  `<a href='javascript:alert(1)' onclick='alert(1)'>x</a>`,
  `<a href=x onmouseover=alert(1)>x</a>`,
  `<svg onload=alert(1)>`,
  `<svg/onload=alert(1)>`,
  `<svg><script>alert(1)</script></svg>`,
  `<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>`,
  `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
  `<body onload=alert(1)>`,
  `<iframe src="javascript:alert(1)"></iframe>`,
  `<iframe srcdoc="<script>alert(1)</script>"></iframe>`,
  `<object data="javascript:alert(1)"></object>`,
  `<embed src="javascript:alert(1)">`,
  `<form action="javascript:alert(1)"><input type=submit></form>`,
  `<button formaction="javascript:alert(1)">x</button>`,
  `<input onfocus=alert(1) autofocus>`,
  `<details open ontoggle=alert(1)>`,
  `<div style="background:url(javascript:alert(1))">x</div>`,
  `<div style="width: expression(alert(1))">x</div>`,
  `<style>@import 'javascript:alert(1)';</style>`,
  `<link rel=stylesheet href="javascript:alert(1)">`,
  `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
  `<base href="javascript:alert(1)//">`,
  `<!--<img src="--><img src=x onerror=alert(1)//">`,
  `<!-- --!><img src=x onerror=alert(1)> -->`,
  `<![CDATA[<script>alert(1)</script>]]>`,
  `<?xml version="1.0"?><script>alert(1)</script>`,
  `<p title="</p><script>alert(1)</script>">x</p>`,
  `<p title='x" onmouseover="alert(1)'>x</p>`,
  `<a href="x" title="a&quot; onclick=&quot;alert(1)">x</a>`,
  `<scr<script>ipt>alert(1)</scr</script>ipt>`,
  `<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>`,
  `<textarea></textarea><img src=x onerror=alert(1)></textarea>`,
  `<title><img src=x onerror=alert(1)></title>`,
  `<xmp><img src=x onerror=alert(1)></xmp>`,
  `<template><img src=x onerror=alert(1)></template>`,
  `<video><source onerror="alert(1)"></video>`,
  `<marquee onstart=alert(1)>x</marquee>`,
  `<isindex action="javascript:alert(1)" type=submit>`,
  `<img src=x:alert(1) onerror=eval(src)>`,
  `<a href="&#x6A;avascript:alert(1)">x</a>`,
  `<a href="&#106avascript:alert(1)">x</a>`,
  `<a href="javascript:alert(1)"`,
  `<div id="x"><a name="y" href="#">x</a></div>`,
  `<img src=x onerror=alert(1) \u0000>`,
  `<a href="http://ok.example/" target="_blank">ok</a>`,
  `<div><p><b>unclosed <i>tags`,
  `</div></p>stray end tags</b>`,
  `<a href="https://x.example/?q=<script>">x</a>`,
];

const DANGEROUS_SCHEME = /^(?:javascript|vbscript|data|file|about|blob):/i;
const ALLOWED_TAGS = new Set([
  "p",
  "br",
  "hr",
  "div",
  "span",
  "b",
  "strong",
  "i",
  "em",
  "u",
  "s",
  "strike",
  "del",
  "ins",
  "sub",
  "sup",
  "small",
  "mark",
  "code",
  "pre",
  "kbd",
  "samp",
  "var",
  "wbr",
  "blockquote",
  "q",
  "cite",
  "abbr",
  "dfn",
  "time",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "ul",
  "ol",
  "li",
  "dl",
  "dt",
  "dd",
  "a",
  "img",
  "figure",
  "figcaption",
  "picture",
  "table",
  "caption",
  "thead",
  "tbody",
  "tfoot",
  "tr",
  "th",
  "td",
  "colgroup",
  "col",
  "details",
  "summary",
]);

/**
 * What an inert document looks like, read back by Bun's HTMLRewriter (lol-html, a browser-grade
 * tokenizer that shares no code with the sanitiser's htmlparser2). The output is canonical, so the
 * only character references an attribute may hold are the four escapes; anything else (`&#106;`)
 * would mean input markup leaked through, and is an error in itself.
 */
function assertInert(html: string) {
  expect(html).not.toMatch(/<\s*\/?\s*(script|style|iframe|object|embed|form|svg|math|base|link|meta|input|button|textarea)/i);
  expect(html).not.toContain("<!--");
  expect(html).not.toContain("<![CDATA[");
  const problems: string[] = [];
  new HTMLRewriter()
    .on("*", {
      element(el) {
        if (!ALLOWED_TAGS.has(el.tagName)) problems.push(`element ${el.tagName}`);
        for (const [k, raw] of el.attributes) {
          if (/^on/.test(k) || k === "style" || k === "srcdoc") problems.push(`attribute ${k}`);
          if (/&(?!(?:amp|lt|gt|quot);)/.test(raw)) problems.push(`character reference in ${k}="${raw}"`);
          if (k !== "href" && k !== "src" && k !== "cite") continue;
          const url = raw
            .replaceAll("&quot;", '"')
            .replaceAll("&lt;", "<")
            .replaceAll("&gt;", ">")
            .replaceAll("&amp;", "&")
            .replace(/[\u0000-\u0020]/g, "");
          if (!/^data:image\/(png|gif|jpe?g|webp|avif|bmp);base64,/i.test(url) && DANGEROUS_SCHEME.test(url)) problems.push(`${k}="${raw}"`);
        }
      },
    })
    .onDocument({
      comments: () => void problems.push("comment"),
      doctype: () => void problems.push("doctype"),
    })
    .transform(html);
  expect(problems).toEqual([]);
}

describe("sanitizeHtml", () => {
  test(`XSS corpus (${XSS_CORPUS.length} vectors) comes out inert and stable`, () => {
    expect(XSS_CORPUS.length).toBeGreaterThanOrEqual(40);
    for (const vector of XSS_CORPUS) {
      const out = sanitizeHtml(vector);
      try {
        assertInert(out);
        // Sanitising is idempotent: the output is already canonical.
        expect(sanitizeHtml(out)).toBe(out);
      } catch (e) {
        throw new Error(`vector ${JSON.stringify(vector)} → ${JSON.stringify(out)}: ${(e as Error).message}`);
      }
    }
  });

  test("specific outcomes", () => {
    expect(sanitizeHtml(`<img src=x onerror=alert(1)>`)).toBe(`<img src="x">`);
    expect(sanitizeHtml(`<a href="javascript:alert(1)">x</a>`)).toBe(`<a>x</a>`);
    expect(sanitizeHtml(`<script>alert(1)</script>ok`)).toBe(`ok`);
    expect(sanitizeHtml(`<svg onload=alert(1)><g>x</g></svg>after`)).toBe(`after`);
    expect(sanitizeHtml(`<p title="</p><script>alert(1)</script>">x</p>`)).toBe(`<p title="&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;">x</p>`);
    expect(sanitizeHtml(`<scr<script>ipt>alert(1)</scr</script>ipt>`)).toBe(`ipt&gt;alert(1)ipt&gt;`);
    expect(sanitizeHtml(`<!--<img src="--><img src=x onerror=alert(1)//">`)).toBe(`<img src="x">`);
    expect(sanitizeHtml(`<div><p><b>unclosed <i>tags`)).toBe(`<div><p><b>unclosed <i>tags</i></b></p></div>`);
    // A stray `</p>` opens and closes an empty paragraph, as the HTML parsing spec (and every browser) does.
    expect(sanitizeHtml(`</div></p>stray end tags</b>`)).toBe(`<p></p>stray end tags`);
    expect(sanitizeHtml(`<a href="http://ok.example/" target="_blank" rel="opener">ok</a>`)).toBe(
      `<a href="http://ok.example/" target="_blank" rel="noopener noreferrer">ok</a>`,
    );
    expect(sanitizeHtml(`<div style="color:red" id=x class="c">x</div>`)).toBe(`<div class="c">x</div>`);
    expect(sanitizeHtml(`<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">`)).toBe(`<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">`);
    expect(sanitizeHtml(`<a href="mailto:a@b.example">m</a>`)).toBe(`<a href="mailto:a@b.example">m</a>`);
    expect(sanitizeHtml(`<img src="x" width="100" height="50%">`)).toBe(`<img src="x" width="100">`);
    expect(sanitizeHtml(`a < b && c > d`)).toBe(`a &lt; b &amp;&amp; c &gt; d`);
    expect(sanitizeHtml(`caf&eacute; &amp; &#60;tag&#62; &unknown;`)).toBe(`café &amp; &lt;tag&gt; &amp;unknown;`);
  });

  test("ordinary formatting survives unchanged", () => {
    const doc =
      `<h1>Title</h1><p>Some <strong>bold</strong>, <em>italic</em> and <a href="https://example.com/a?b=1&amp;c=2" title="t">a link</a>.</p>` +
      `<ul><li>one</li><li>two</li></ul><blockquote cite="https://example.com/">q</blockquote><p><img src="/images/a.png" alt="a"><br>` +
      `<code>x &lt; y</code></p><table><tbody><tr><td colspan="2">c</td></tr></tbody></table>`;
    expect(sanitizeHtml(doc)).toBe(doc);
  });

  test("never throws, always inert, on random input", () => {
    const alphabet = [
      `<`,
      `>`,
      `/`,
      `"`,
      `'`,
      `=`,
      ` `,
      `a`,
      `img`,
      `script`,
      `on`,
      `error`,
      `src`,
      `href`,
      `javascript:`,
      `&#`,
      `;`,
      `x`,
      `!--`,
      `-->`,
      `\u0000`,
      `\t`,
      `svg`,
      `p`,
      `style`,
    ];
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 2000; n++) {
      let s = "";
      const len = 1 + Math.floor(rand() * 30);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      const out = sanitizeHtml(s);
      assertInert(out);
      expect(sanitizeHtml(out)).toBe(out);
    }
  });
});

describe("rich_text documents", () => {
  test("a string is HTML shorthand", () => {
    expect(sanitizeRichText(`<p onclick="x()">hi</p>`)).toEqual({ html: `<p>hi</p>` });
  });

  test("html fields are sanitised at any depth; active nodes and unsafe attrs removed", () => {
    const doc = {
      type: "doc",
      content: [
        {
          type: "paragraph",
          content: [{ type: "text", text: "<b>literal text stays</b>", marks: [{ type: "link", attrs: { href: "javascript:alert(1)", target: "_blank" } }] }],
        },
        { type: "image", attrs: { src: "https://example.com/a.png", onerror: "alert(1)", style: "x" } },
        { type: "image", attrs: { src: "data:image/png;base64,AAAA" } },
        { type: "iframe", attrs: { src: "https://evil.example" } },
        { type: "Script", content: [] },
        { type: "htmlBlock", html: `<img src=x onerror=alert(1)>` },
        { type: "paragraph", attrs: { href: "https://ok.example/" } },
      ],
    };
    expect(sanitizeRichText(doc)).toEqual({
      type: "doc",
      content: [
        { type: "paragraph", content: [{ type: "text", text: "<b>literal text stays</b>", marks: [{ type: "link", attrs: { target: "_blank" } }] }] },
        { type: "image", attrs: { src: "https://example.com/a.png" } },
        { type: "image", attrs: { src: "data:image/png;base64,AAAA" } },
        { type: "htmlBlock", html: `<img src="x">` },
        { type: "paragraph", attrs: { href: "https://ok.example/" } },
      ],
    });
    // A URL in attrs is read as markup would read it: a character reference does not hide a scheme.
    expect(sanitizeRichText({ type: "image", attrs: { src: "&#106;avascript:alert(1)", alt: "&#106;" } })).toEqual({ type: "image", attrs: { alt: "&#106;" } });
    expect(sanitizeRichText({ type: "script" })).toEqual({});
    expect(sanitizeRichText(null)).toBeNull();
  });
});
