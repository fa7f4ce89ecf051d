/**
 * A small, dependency-free QR Code encoder (ISO/IEC 18004), enough for otpauth:// URIs:
 * byte mode (UTF-8), error-correction level M (default) or L, versions 1–15 chosen automatically,
 * Reed–Solomon over GF(256), block interleaving, all function patterns, and the best of the 8 masks
 * by the standard penalty rules.
 */

export type QrEcLevel = "L" | "M";

/** Format-info bits for each error-correction level (ISO/IEC 18004 table 12). */
const EC_FORMAT_BITS: Record<QrEcLevel, number> = { L: 0b01, M: 0b00 };

/** Total codewords per version 1..15 (index 0 unused). */
const TOTAL_CODEWORDS = [0, 26, 44, 70, 100, 134, 172, 196, 242, 292, 346, 404, 466, 532, 581, 655];

/** ECC codewords per block and number of blocks, per level, versions 1..15 (index 0 unused). */
const EC_PER_BLOCK: Record<QrEcLevel, number[]> = {
  L: [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22],
  M: [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24],
};
const NUM_BLOCKS: Record<QrEcLevel, number[]> = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10],
};

/** Alignment pattern centre coordinates, versions 1..15 (Annex E). */
const ALIGNMENT: number[][] = [
  [], [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34],
  [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50], [6, 30, 54], [6, 32, 58], [6, 34, 62],
  [6, 26, 46, 66], [6, 26, 48, 70],
];

export const QR_MAX_VERSION = 15;

// ---- GF(256) with the QR primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D) ----

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}

function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
}

/** Generator polynomial ∏(x − α^i), i = 0..degree−1; coefficients highest power first (leading 1 included). */
export function rsGenerator(degree: number): number[] {
  let g = [1];
  for (let i = 0; i < degree; i++) {
    const next = new Array<number>(g.length + 1).fill(0);
    for (let j = 0; j < g.length; j++) {
      next[j] = next[j]! ^ g[j]!;
      next[j + 1] = next[j + 1]! ^ gfMul(g[j]!, EXP[i]!);
    }
    g = next;
  }
  return g;
}

/** The `eccLen` Reed–Solomon check codewords for `data` (remainder of data·x^n mod g). */
export function rsEncode(data: readonly number[], eccLen: number): number[] {
  const g = rsGenerator(eccLen);
  const rem = new Array<number>(eccLen).fill(0);
  for (const d of data) {
    const factor = d ^ rem[0]!;
    rem.shift();
    rem.push(0);
    if (factor !== 0) for (let i = 0; i < eccLen; i++) rem[i] = rem[i]! ^ gfMul(g[i + 1]!, factor);
  }
  return rem;
}

// ---- BCH-coded format and version information ----

/** 15-bit format information (after the 0x5412 mask) for a level and mask pattern. */
export function formatBits(ec: QrEcLevel, mask: number): number {
  const data = (EC_FORMAT_BITS[ec] << 3) | mask;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  return ((data << 10) | (rem & 0x3ff)) ^ 0x5412;
}

/** 18-bit version information (versions ≥ 7). */
export function versionBits(version: number): number {
  let rem = version;
  for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
  return (version << 12) | (rem & 0xfff);
}

// ---- Codeword construction ----

export interface QrParams {
  version: number;
  ec: QrEcLevel;
  dataCodewords: number;
  eccPerBlock: number;
  numBlocks: number;
}

export function qrParams(version: number, ec: QrEcLevel): QrParams {
  const eccPerBlock = EC_PER_BLOCK[ec][version]!;
  const numBlocks = NUM_BLOCKS[ec][version]!;
  return { version, ec, eccPerBlock, numBlocks, dataCodewords: TOTAL_CODEWORDS[version]! - eccPerBlock * numBlocks };
}

function chooseVersion(byteLen: number, ec: QrEcLevel): QrParams {
  for (let v = 1; v <= QR_MAX_VERSION; v++) {
    const p = qrParams(v, ec);
    const countBits = v <= 9 ? 8 : 16;
    if (4 + countBits + 8 * byteLen <= p.dataCodewords * 8) return p;
  }
  throw new RangeError(`QR: ${byteLen} bytes do not fit in version ${QR_MAX_VERSION}-${ec}`);
}

/** Data codewords: byte-mode segment, terminator, bit padding, pad codewords 0xEC/0x11. */
function dataCodewords(bytes: Uint8Array, p: QrParams): number[] {
  const bits: number[] = [];
  const put = (value: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  put(0b0100, 4);
  put(bytes.length, p.version <= 9 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const capacity = p.dataCodewords * 8;
  put(0, Math.min(4, capacity - bits.length));
  while (bits.length % 8 !== 0) bits.push(0);
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) {
    let b = 0;
    for (let j = 0; j < 8; j++) b = (b << 1) | bits[i + j]!;
    out.push(b);
  }
  for (let pad = 0xec; out.length < p.dataCodewords; pad ^= 0xec ^ 0x11) out.push(pad);
  return out;
}

/** Split into blocks (short blocks first), add ECC to each, interleave data then ECC. */
function interleave(data: number[], p: QrParams): number[] {
  const shortLen = Math.floor(p.dataCodewords / p.numBlocks);
  const numLong = p.dataCodewords % p.numBlocks;
  const blocks: number[][] = [];
  const eccs: number[][] = [];
  let k = 0;
  for (let b = 0; b < p.numBlocks; b++) {
    const len = shortLen + (b >= p.numBlocks - numLong ? 1 : 0);
    const block = data.slice(k, k + len);
    k += len;
    blocks.push(block);
    eccs.push(rsEncode(block, p.eccPerBlock));
  }
  const out: number[] = [];
  for (let i = 0; i <= shortLen; i++) for (const block of blocks) if (i < block.length) out.push(block[i]!);
  for (let i = 0; i < p.eccPerBlock; i++) for (const ecc of eccs) out.push(ecc[i]!);
  return out;
}

// ---- Matrix ----

class Matrix {
  readonly size: number;
  readonly dark: boolean[][];
  readonly fn: boolean[][];
  constructor(readonly version: number) {
    this.size = 17 + 4 * version;
    this.dark = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    this.fn = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
  }
  /** (row, col). */
  setFn(r: number, c: number, dark: boolean): void {
    this.dark[r]![c] = dark;
    this.fn[r]![c] = true;
  }
}

function drawFunctionPatterns(m: Matrix): void {
  const n = m.size;
  // Timing patterns (row 6 and column 6).
  for (let i = 0; i < n; i++) {
    m.setFn(6, i, i % 2 === 0);
    m.setFn(i, 6, i % 2 === 0);
  }
  // Finder patterns with separators.
  for (const [fr, fc] of [[3, 3], [3, n - 4], [n - 4, 3]] as const) {
    for (let dr = -4; dr <= 4; dr++) {
      for (let dc = -4; dc <= 4; dc++) {
        const r = fr + dr;
        const c = fc + dc;
        if (r < 0 || r >= n || c < 0 || c >= n) continue;
        const d = Math.max(Math.abs(dr), Math.abs(dc));
        m.setFn(r, c, d !== 2 && d !== 4);
      }
    }
  }
  // Alignment patterns (skip the three that would overlap finders).
  const pos = ALIGNMENT[m.version]!;
  const last = pos.length - 1;
  for (let i = 0; i < pos.length; i++) {
    for (let j = 0; j < pos.length; j++) {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
      for (let dr = -2; dr <= 2; dr++) {
        for (let dc = -2; dc <= 2; dc++) m.setFn(pos[i]! + dr, pos[j]! + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
      }
    }
  }
  // Reserve format areas (real bits drawn later) and the dark module.
  drawFormat(m, 0);
  // Version information.
  if (m.version >= 7) {
    const bits = versionBits(m.version);
    for (let i = 0; i < 18; i++) {
      const bit = ((bits >>> i) & 1) === 1;
      const a = n - 11 + (i % 3);
      const b = Math.floor(i / 3);
      m.setFn(b, a, bit); // top-right block: row b, col a
      m.setFn(a, b, bit); // bottom-left block: row a, col b
    }
  }
}

/** Draws the 15 format bits (bit 0 = least significant) in both copies, plus the dark module. */
function drawFormat(m: Matrix, bits: number): void {
  const n = m.size;
  const bit = (i: number) => ((bits >>> i) & 1) === 1;
  // Copy around the top-left finder.
  for (let i = 0; i <= 5; i++) m.setFn(i, 8, bit(i));
  m.setFn(7, 8, bit(6));
  m.setFn(8, 8, bit(7));
  m.setFn(8, 7, bit(8));
  for (let i = 9; i < 15; i++) m.setFn(8, 14 - i, bit(i));
  // Copy split between the top-right and bottom-left finders.
  for (let i = 0; i < 8; i++) m.setFn(8, n - 1 - i, bit(i));
  for (let i = 8; i < 15; i++) m.setFn(n - 15 + i, 8, bit(i));
  m.setFn(n - 8, 8, true); // dark module
}

/** Places codeword bits (MSB first) in the two-column zigzag from the bottom-right corner. */
function drawCodewords(m: Matrix, codewords: number[]): void {
  const n = m.size;
  let i = 0;
  const total = codewords.length * 8;
  for (let right = n - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    const upward = ((n - 1 - right) >> 1) % 2 === 0;
    for (let v = 0; v < n; v++) {
      const r = upward ? n - 1 - v : v;
      for (let j = 0; j < 2; j++) {
        const c = right - j;
        if (m.fn[r]![c]) continue;
        // Remainder bits (past the last codeword) stay light.
        if (i < total) m.dark[r]![c] = ((codewords[i >>> 3]! >>> (7 - (i & 7))) & 1) === 1;
        i++;
      }
    }
  }
}

function maskFn(mask: number): (r: number, c: number) => boolean {
  switch (mask) {
    case 0: return (r, c) => (r + c) % 2 === 0;
    case 1: return (r) => r % 2 === 0;
    case 2: return (_r, c) => c % 3 === 0;
    case 3: return (r, c) => (r + c) % 3 === 0;
    case 4: return (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0;
    case 5: return (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0;
    case 6: return (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0;
    case 7: return (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0;
    default: throw new RangeError(`QR: bad mask ${mask}`);
  }
}

function applyMask(m: Matrix, mask: number): void {
  const f = maskFn(mask);
  for (let r = 0; r < m.size; r++) for (let c = 0; c < m.size; c++) if (!m.fn[r]![c] && f(r, c)) m.dark[r]![c] = !m.dark[r]![c];
}

/** The standard penalty score (rules N1–N4) of a finished symbol. */
export function penalty(dark: boolean[][]): number {
  const n = dark.length;
  let score = 0;
  const at = (r: number, c: number, vertical: boolean) => (vertical ? dark[c]![r]! : dark[r]![c]!);
  const FINDER_A = [true, false, true, true, true, false, true, false, false, false, false];
  const FINDER_B = [false, false, false, false, true, false, true, true, true, false, true];
  for (const vertical of [false, true]) {
    for (let r = 0; r < n; r++) {
      // N1: runs of ≥5 same-coloured modules.
      let run = 1;
      for (let c = 1; c <= n; c++) {
        if (c < n && at(r, c, vertical) === at(r, c - 1, vertical)) run++;
        else {
          if (run >= 5) score += 3 + (run - 5);
          run = 1;
        }
      }
      // N3: 1:1:3:1:1 finder-like pattern with 4 light modules on one side.
      for (let c = 0; c + 11 <= n; c++) {
        let a = true;
        let b = true;
        for (let k = 0; k < 11; k++) {
          const v = at(r, c + k, vertical);
          if (v !== FINDER_A[k]) a = false;
          if (v !== FINDER_B[k]) b = false;
        }
        if (a) score += 40;
        if (b) score += 40;
      }
    }
  }
  // N2: 2×2 blocks of one colour.
  for (let r = 0; r + 1 < n; r++) {
    for (let c = 0; c + 1 < n; c++) {
      const v = dark[r]![c];
      if (dark[r]![c + 1] === v && dark[r + 1]![c] === v && dark[r + 1]![c + 1] === v) score += 3;
    }
  }
  // N4: deviation of the dark proportion from 50%, 10 points per 5%.
  let darkCount = 0;
  for (const row of dark) for (const v of row) if (v) darkCount++;
  const k = Math.floor(Math.abs((darkCount * 100) / (n * n) - 50) / 5);
  score += k * 10;
  return score;
}

export interface QrOptions {
  ec?: QrEcLevel;
  /** Force a mask (0..7) instead of choosing by penalty; for tests. */
  mask?: number;
}

export interface QrSymbol {
  version: number;
  ec: QrEcLevel;
  mask: number;
  modules: boolean[][];
}

export function qrEncode(text: string, opts: QrOptions = {}): QrSymbol {
  const ec = opts.ec ?? "M";
  const bytes = new TextEncoder().encode(text);
  const p = chooseVersion(bytes.length, ec);
  const codewords = interleave(dataCodewords(bytes, p), p);
  const base = new Matrix(p.version);
  drawFunctionPatterns(base);
  drawCodewords(base, codewords);
  let best: { mask: number; modules: boolean[][]; score: number } | undefined;
  const masks = opts.mask === undefined ? [0, 1, 2, 3, 4, 5, 6, 7] : [opts.mask];
  for (const mask of masks) {
    const m = new Matrix(p.version);
    for (let r = 0; r < m.size; r++) {
      for (let c = 0; c < m.size; c++) {
        m.dark[r]![c] = base.dark[r]![c]!;
        m.fn[r]![c] = base.fn[r]![c]!;
      }
    }
    applyMask(m, mask);
    drawFormat(m, formatBits(ec, mask));
    const score = penalty(m.dark);
    if (!best || score < best.score) best = { mask, modules: m.dark, score };
  }
  return { version: p.version, ec, mask: best!.mask, modules: best!.modules };
}

/** The module matrix (`[row][col]`, true = dark), without quiet zone. */
export function qrMatrix(text: string, opts: QrOptions = {}): boolean[][] {
  return qrEncode(text, opts).modules;
}

/** A compact SVG: one path of dark modules on a white background, 4-module quiet zone. */
export function qrSvg(text: string, opts: QrOptions = {}): string {
  const modules = qrMatrix(text, opts);
  const quiet = 4;
  const dim = modules.length + 2 * quiet;
  let d = "";
  modules.forEach((row, r) => {
    let c = 0;
    while (c < row.length) {
      if (!row[c]) {
        c++;
        continue;
      }
      const start = c;
      while (c < row.length && row[c]) c++;
      d += `M${start + quiet} ${r + quiet}h${c - start}v1h-${c - start}z`;
    }
  });
  // No '#' anywhere: supabase-js embeds this unescaped in a `data:image/svg+xml;utf-8,` URL.
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${dim} ${dim}" width="${dim * 4}" height="${dim * 4}" shape-rendering="crispEdges">` +
    `<rect width="${dim}" height="${dim}" fill="white"/><path fill="black" d="${d}"/></svg>`
  );
}
