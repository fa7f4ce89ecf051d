// QR codes (src/auth/qr.ts, encoded by the `qrcode` library): a decode round-trip through an
// independent minimal decoder (test/support/qr-decode.ts) that also checks the Reed–Solomon words,
// and the SVG drawing supabase-js embeds. Fast; no database.
import { describe, expect, test } from "bun:test";
import { qrEncode, qrMatrix, qrSvg } from "../src/auth/qr.ts";
import { otpauthUri } from "../src/auth/totp.ts";
import { decodeQr, functionModules } from "./support/qr-decode.ts";

/** Reed–Solomon check words over GF(256) with the QR polynomial 0x11d (an independent reference). */
function rsEncode(data: readonly number[], eccLen: number): number[] {
  const exp = new Array<number>(512);
  const log = new Array<number>(256);
  let x = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) exp[i] = exp[i - 255]!;
  const mul = (a: number, b: number) => (a === 0 || b === 0 ? 0 : exp[log[a]! + log[b]!]!);
  let gen = [1];
  for (let i = 0; i < eccLen; i++) {
    const next = new Array<number>(gen.length + 1).fill(0);
    for (let j = 0; j < gen.length; j++) {
      next[j] = next[j]! ^ gen[j]!;
      next[j + 1] = next[j + 1]! ^ mul(gen[j]!, exp[i]!);
    }
    gen = next;
  }
  const rem = new Array<number>(eccLen).fill(0);
  for (const d of data) {
    const f = d ^ rem.shift()!;
    rem.push(0);
    for (let j = 0; j < eccLen; j++) rem[j] = rem[j]! ^ mul(gen[j + 1]!, f);
  }
  return rem;
}

describe("Reed–Solomon reference", () => {
  test("1-M 'HELLO WORLD' worked example", () => {
    const data = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17];
    expect(rsEncode(data, 10)).toEqual([196, 35, 39, 119, 235, 215, 231, 226, 93, 23]);
  });
});

describe("decode round-trip", () => {
  const uris = [
    "otpauth://totp/a",
    otpauthUri("Plinth", "a@b.co", "JBSWY3DPEHPK3PXP"),
    otpauthUri("Plinth Staging", "someone.with.a.long.address+mfa@example.com", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    otpauthUri("Ünïcødé Issuer ✓", "日本語ユーザー@example.jp", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    "otpauth://totp/x?secret=" + "A".repeat(380),
  ];
  for (const [i, uri] of uris.entries()) {
    for (const ec of ["M", "L"] as const) {
      test(`uri #${i} (${new TextEncoder().encode(uri).length} bytes), level ${ec}`, () => {
        const sym = qrEncode(uri, { ec });
        const d = decodeQr(sym.modules);
        expect(d.text).toBe(uri);
        expect(d.version).toBe(sym.version);
        expect(d.ec).toBe(ec);
        expect(d.mask).toBe(sym.mask);
        // ECC codewords de-interleave to each block's Reed–Solomon check words.
        for (const [data, ecc] of d.blocks) expect(ecc).toEqual(rsEncode(data, ecc.length));
      });
    }
  }

  test("every mask decodes", () => {
    const uri = otpauthUri("Plinth", "mask@test.dev", "JBSWY3DPEHPK3PXP");
    for (let mask = 0; mask < 8; mask++) {
      const d = decodeQr(qrMatrix(uri, { mask }));
      expect(d.mask).toBe(mask);
      expect(d.text).toBe(uri);
    }
  });

  test("covers versions 1 through 15", () => {
    const seen = new Set<number>();
    for (let len = 1; len <= 412; len += 7) {
      const text = "otpauth://" + "z".repeat(Math.max(0, len - 10));
      const sym = qrEncode(text);
      expect(decodeQr(sym.modules).text).toBe(text);
      seen.add(sym.version);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  test("padding codewords alternate 0xEC 0x11", () => {
    const d = decodeQr(qrMatrix("hi"));
    // 4+8+16 = 28 bits, + 4-bit terminator = 4 bytes; the rest (16 − 4) is padding.
    expect(d.dataCodewords.slice(4)).toEqual([236, 17, 236, 17, 236, 17, 236, 17, 236, 17, 236, 17]);
  });

  test("decoder's function-module map agrees with the encoder's data capacity", () => {
    // Count of data modules ÷ 8 = total codewords (remainder bits aside), e.g. v7 has 196 codewords.
    const count = (v: number) =>
      functionModules(v)
        .flat()
        .filter((x) => !x).length;
    expect(Math.floor(count(1) / 8)).toBe(26);
    expect(Math.floor(count(7) / 8)).toBe(196);
    expect(Math.floor(count(14) / 8)).toBe(581);
    expect(count(14) % 8).toBe(3);
  });
});

describe("SVG", () => {
  test("compact single-path SVG with quiet zone", () => {
    const uri = otpauthUri("Plinth", "a@b.co", "JBSWY3DPEHPK3PXP");
    const svg = qrSvg(uri);
    const n = qrMatrix(uri).length;
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain(`viewBox="0 0 ${n + 8} ${n + 8}"`);
    expect(svg).toContain(`shape-rendering="crispEdges"`);
    expect(svg.match(/<path/g)!.length).toBe(1);
    expect(svg).not.toContain("#"); // safe inside an unescaped data: URL
    // Every subpath starts inside the quiet zone bounds.
    const d = /d="([^"]*)"/.exec(svg.slice(svg.indexOf("<path")))![1]!;
    for (const mm of d.matchAll(/M(\d+) (\d+)/g)) {
      const x = Number(mm[1]);
      const y = Number(mm[2]);
      expect(x).toBeGreaterThanOrEqual(4);
      expect(y).toBeGreaterThanOrEqual(4);
      expect(x).toBeLessThan(n + 4);
      expect(y).toBeLessThan(n + 4);
    }
    // The path's module count equals the matrix's dark count.
    let dark = 0;
    for (const mm of d.matchAll(/h(\d+)/g)) dark += Number(mm[1]);
    expect(dark).toBe(qrMatrix(uri).flat().filter(Boolean).length);
  });
});
