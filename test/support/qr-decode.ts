// A minimal QR decoder for clean (error-free) symbols, written independently of src/auth/qr.ts so the
// round-trip test checks the encoder against the spec rather than against itself: reads format info,
// unmasks, reads codewords in zigzag order, de-interleaves, parses a single byte-mode segment.

export interface DecodedQr {
  version: number;
  ec: "L" | "M" | "Q" | "H";
  mask: number;
  text: string;
  dataCodewords: number[];
  /** Per block: [data codewords, ECC codewords], de-interleaved. */
  blocks: [number[], number[]][];
}

const EC_BY_BITS = ["M", "L", "H", "Q"] as const; // format-info level bits 00,01,10,11

// Block structure for levels L and M, versions 1..15: [ecc per block, number of blocks].
const BLOCKS: Record<"L" | "M", [number, number][]> = {
  L: [
    [7, 1],
    [10, 1],
    [15, 1],
    [20, 1],
    [26, 1],
    [18, 2],
    [20, 2],
    [24, 2],
    [30, 2],
    [18, 4],
    [20, 4],
    [24, 4],
    [26, 4],
    [30, 4],
    [22, 6],
  ],
  M: [
    [10, 1],
    [16, 1],
    [26, 1],
    [18, 2],
    [24, 2],
    [16, 4],
    [18, 4],
    [22, 4],
    [22, 5],
    [26, 5],
    [30, 5],
    [22, 8],
    [22, 9],
    [24, 9],
    [24, 10],
  ],
};

/** Alignment centres computed from the spec's spacing rule (not a table). */
function alignmentCentres(version: number): number[] {
  if (version === 1) return [];
  const size = 17 + 4 * version;
  const count = Math.floor(version / 7) + 2;
  const step = Math.ceil((size - 13) / (count - 1) / 2) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < count; pos -= step) out.splice(1, 0, pos);
  return out;
}

/** Which modules are function patterns (finders+separators, timing, alignment, format, version). */
export function functionModules(version: number): boolean[][] {
  const n = 17 + 4 * version;
  const f = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  const mark = (r0: number, c0: number, h: number, w: number) => {
    for (let r = r0; r < r0 + h; r++) for (let c = c0; c < c0 + w; c++) if (r >= 0 && c >= 0 && r < n && c < n) f[r]![c] = true;
  };
  mark(0, 0, 9, 9); // finder + separator + format
  mark(0, n - 8, 9, 8);
  mark(n - 8, 0, 8, 9); // includes dark module column 8
  mark(6, 0, 1, n);
  mark(0, 6, n, 1);
  const a = alignmentCentres(version);
  for (const r of a) {
    for (const c of a) {
      if ((r === 6 && c === 6) || (r === 6 && c === n - 7) || (r === n - 7 && c === 6)) continue;
      mark(r - 2, c - 2, 5, 5);
    }
  }
  if (version >= 7) {
    mark(0, n - 11, 6, 3);
    mark(n - 11, 0, 3, 6);
  }
  return f;
}

function maskAt(mask: number, i: number, j: number): boolean {
  switch (mask) {
    case 0:
      return (i + j) % 2 === 0;
    case 1:
      return i % 2 === 0;
    case 2:
      return j % 3 === 0;
    case 3:
      return (i + j) % 3 === 0;
    case 4:
      return (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0;
    case 5:
      return ((i * j) % 2) + ((i * j) % 3) === 0;
    case 6:
      return (((i * j) % 2) + ((i * j) % 3)) % 2 === 0;
    default:
      return (((i + j) % 2) + ((i * j) % 3)) % 2 === 0;
  }
}

/** Reads the 15 raw format bits (MSB first) from the copy around the top-left finder. */
export function readFormatBits(m: boolean[][]): number {
  // Spec order, most significant first: row 8 cols 0..5, 7, 8; then col 8 rows 7, 5..0.
  const cells: [number, number][] = [
    [8, 0],
    [8, 1],
    [8, 2],
    [8, 3],
    [8, 4],
    [8, 5],
    [8, 7],
    [8, 8],
    [7, 8],
    [5, 8],
    [4, 8],
    [3, 8],
    [2, 8],
    [1, 8],
    [0, 8],
  ];
  let v = 0;
  for (const [r, c] of cells) v = (v << 1) | (m[r]![c] ? 1 : 0);
  return v;
}

/** Reads the second format copy (bottom-left column 8, then row 8 on the right), MSB first. */
export function readFormatBits2(m: boolean[][]): number {
  const n = m.length;
  const cells: [number, number][] = [];
  for (let r = n - 1; r >= n - 7; r--) cells.push([r, 8]);
  for (let c = n - 8; c < n; c++) cells.push([8, c]);
  let v = 0;
  for (const [r, c] of cells) v = (v << 1) | (m[r]![c] ? 1 : 0);
  return v;
}

export function decodeQr(m: boolean[][]): DecodedQr {
  const n = m.length;
  const version = (n - 17) / 4;
  if (!Number.isInteger(version) || version < 1 || version > 15) throw new Error(`bad size ${n}`);
  const format = readFormatBits(m) ^ 0b101010000010010;
  if ((readFormatBits2(m) ^ 0b101010000010010) !== format) throw new Error("format copies disagree");
  const ec = EC_BY_BITS[(format >> 13) & 3]!;
  const mask = (format >> 10) & 7;
  if (ec !== "L" && ec !== "M") throw new Error(`unsupported level ${ec}`);

  // Zigzag read of non-function modules, unmasked.
  const fn = functionModules(version);
  const bits: number[] = [];
  let upward = true;
  for (let col = n - 1; col > 0; col -= 2) {
    if (col === 6) col--;
    for (let k = 0; k < n; k++) {
      const row = upward ? n - 1 - k : k;
      for (const c of [col, col - 1]) {
        if (fn[row]![c]) continue;
        bits.push(m[row]![c] !== maskAt(mask, row, c) ? 1 : 0);
      }
    }
    upward = !upward;
  }
  const codewords: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) codewords.push(parseInt(bits.slice(i, i + 8).join(""), 2));

  // De-interleave data codewords.
  const [eccPer, numBlocks] = BLOCKS[ec][version - 1]!;
  const total = codewords.length;
  const dataTotal = total - eccPer * numBlocks;
  const shortLen = Math.floor(dataTotal / numBlocks);
  const longCount = dataTotal % numBlocks;
  const lens = Array.from({ length: numBlocks }, (_, b) => shortLen + (b >= numBlocks - longCount ? 1 : 0));
  const blocks: number[][] = lens.map(() => []);
  let k = 0;
  for (let i = 0; i <= shortLen; i++) {
    for (let b = 0; b < numBlocks; b++) if (i < lens[b]!) blocks[b]!.push(codewords[k++]!);
  }
  const data = blocks.flat();
  const eccs: number[][] = lens.map(() => []);
  for (let i = 0; i < eccPer; i++) for (let b = 0; b < numBlocks; b++) eccs[b]!.push(codewords[k++]!);

  // Parse one byte-mode segment.
  const dbits = data.flatMap((b) => Array.from({ length: 8 }, (_, i) => (b >> (7 - i)) & 1));
  let p = 0;
  const take = (len: number) => {
    let v = 0;
    for (let i = 0; i < len; i++) v = (v << 1) | dbits[p++]!;
    return v;
  };
  const mode = take(4);
  if (mode !== 0b0100) throw new Error(`unexpected mode ${mode}`);
  const count = take(version <= 9 ? 8 : 16);
  const bytes = new Uint8Array(count);
  for (let i = 0; i < count; i++) bytes[i] = take(8);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  return { version, ec, mask, text, dataCodewords: data, blocks: blocks.map((d, b) => [d, eccs[b]!]) };
}
