// QR encoder (src/auth/qr.ts): known-answer vectors, structure, and a decode round-trip through an
// independent minimal decoder (test/support/qr-decode.ts). Fast; no database.
import { describe, expect, test } from "bun:test";
import { formatBits, penalty, qrEncode, qrMatrix, qrSvg, rsEncode, rsGenerator, versionBits } from "../src/auth/qr.ts";
import { otpauthUri } from "../src/auth/totp.ts";
import { decodeQr, functionModules } from "./support/qr-decode.ts";

const bin = (v: number, width: number) => v.toString(2).padStart(width, "0");

describe("Reed–Solomon", () => {
  test("1-M 'HELLO WORLD' worked example", () => {
    const data = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17];
    expect(rsEncode(data, 10)).toEqual([196, 35, 39, 119, 235, 215, 231, 226, 93, 23]);
  });
  test("generator polynomial, degree 7 (α exponents 0,87,229,146,149,238,102,21)", () => {
    // Published: x^7 + α^87 x^6 + α^229 x^5 + α^146 x^4 + α^149 x^3 + α^238 x^2 + α^102 x + α^21
    const alpha = (e: number) => {
      let x = 1;
      for (let i = 0; i < e; i++) {
        x <<= 1;
        if (x & 0x100) x ^= 0x11d;
      }
      return x;
    };
    expect(rsGenerator(7)).toEqual([1, ...[87, 229, 146, 149, 238, 102, 21].map(alpha)]);
  });
});

describe("format and version information", () => {
  test("level M, masks 0..7 match the published table", () => {
    const table = [
      "101010000010010", "101000100100101", "101111001111100", "101101101001011",
      "100010111111001", "100000011001110", "100111110010111", "100101010100000",
    ];
    for (let mask = 0; mask < 8; mask++) expect(bin(formatBits("M", mask), 15)).toBe(table[mask]!);
  });
  test("level L, mask 0 and 7", () => {
    expect(bin(formatBits("L", 0), 15)).toBe("111011111000100");
    expect(bin(formatBits("L", 7), 15)).toBe("110100101110110");
  });
  test("version information", () => {
    expect(bin(versionBits(7), 18)).toBe("000111110010010100");
    expect(bin(versionBits(8), 18)).toBe("001000010110111100");
    expect(bin(versionBits(15), 18)).toBe("001111100100101000");
  });
});

const finderOk = (m: boolean[][], r0: number, c0: number): boolean => {
  for (let r = 0; r < 7; r++) {
    for (let c = 0; c < 7; c++) {
      const d = Math.max(Math.abs(r - 3), Math.abs(c - 3));
      if (m[r0 + r]![c0 + c] !== (d !== 2)) return false;
    }
  }
  return true;
};

describe("structure", () => {
  for (const len of [20, 80, 150, 300]) {
    test(`${len}-byte payload`, () => {
      const sym = qrEncode("x".repeat(len));
      const m = sym.modules;
      const n = m.length;
      expect(n).toBe(17 + 4 * sym.version);
      for (const row of m) expect(row.length).toBe(n);
      expect(finderOk(m, 0, 0)).toBe(true);
      expect(finderOk(m, 0, n - 7)).toBe(true);
      expect(finderOk(m, n - 7, 0)).toBe(true);
      // Separators are light.
      for (let i = 0; i < 8; i++) {
        expect(m[7]![i]).toBe(false);
        expect(m[i]![7]).toBe(false);
        expect(m[7]![n - 1 - i]).toBe(false);
        expect(m[n - 8]![i]).toBe(false);
      }
      // Timing patterns alternate, dark on even indices.
      for (let i = 8; i < n - 8; i++) {
        expect(m[6]![i]).toBe(i % 2 === 0);
        expect(m[i]![6]).toBe(i % 2 === 0);
      }
      expect(m[n - 8]![8]).toBe(true); // dark module
      if (sym.version >= 2) {
        // The bottom-right alignment pattern sits at (n-7, n-7).
        const c = n - 7;
        expect(m[c]![c]).toBe(true);
        expect(m[c - 1]![c]).toBe(false);
        expect(m[c - 2]![c]).toBe(true);
      }
      // The chosen mask has the lowest penalty of the eight.
      const scores = [0, 1, 2, 3, 4, 5, 6, 7].map((mask) => penalty(qrMatrix("x".repeat(len), { mask })));
      expect(penalty(m)).toBe(Math.min(...scores));
    });
  }

  test("version 7+ carries version info in both blocks", () => {
    const sym = qrEncode("y".repeat(150));
    expect(sym.version).toBeGreaterThanOrEqual(7);
    const m = sym.modules;
    const n = m.length;
    const bits = versionBits(sym.version);
    for (let i = 0; i < 18; i++) {
      const bit = ((bits >> i) & 1) === 1;
      expect(m[Math.floor(i / 3)]![n - 11 + (i % 3)]).toBe(bit);
      expect(m[n - 11 + (i % 3)]![Math.floor(i / 3)]).toBe(bit);
    }
  });

  test("versions grow with length and cap at 15", () => {
    expect(qrEncode("a".repeat(14)).version).toBe(1); // 1-M holds 14 bytes
    expect(qrEncode("a".repeat(15)).version).toBe(2);
    expect(qrEncode("a".repeat(17), { ec: "L" }).version).toBe(1); // 1-L holds 17 bytes
    expect(qrEncode("a".repeat(412)).version).toBe(15); // 15-M holds 412 bytes
    expect(() => qrEncode("a".repeat(413))).toThrow(RangeError);
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
    const count = (v: number) => functionModules(v).flat().filter((x) => !x).length;
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
