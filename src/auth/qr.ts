// QR codes for MFA enrolment (the otpauth:// URI a phone's authenticator app scans). The encoding —
// modes, Reed–Solomon, masking, version selection — is the `qrcode` package's, a well-kept library
// (it replaced a hand-written encoder). What is Plinth's own is only the drawing: one compact SVG
// path with no '#' in it, because supabase-js puts the SVG unescaped into a
// `data:image/svg+xml;utf-8,` URL (the library's SVG has `fill="#ffffff"`).
import type QRCodeLib from "qrcode";

// Loaded at the first enrolment, not at start (~11,000 heap objects every server would carry).
let lib: typeof QRCodeLib | null = null;
const qrcode = (): typeof QRCodeLib => (lib ??= require("qrcode") as typeof QRCodeLib);

export type QrEcLevel = "L" | "M";

export interface QrOptions {
  /** Error correction: M (15 %) by default, as authenticator apps expect; L holds more. */
  ec?: QrEcLevel;
  /** A fixed mask pattern (0–7); by default the library picks the best by penalty score. */
  mask?: number;
}

export interface QrSymbol {
  version: number;
  ec: QrEcLevel;
  mask: number;
  /** `[row][col]`, true = dark, without quiet zone. */
  modules: boolean[][];
}

export function qrEncode(text: string, opts: QrOptions = {}): QrSymbol {
  const ec = opts.ec ?? "M";
  // One byte-mode segment of the UTF-8 bytes: authenticator apps read it everywhere, and the
  // library's default segmentation (alphanumeric runs) saves a few modules at best for a URI.
  const q = qrcode().create([{ data: new TextEncoder().encode(text), mode: "byte" }] as unknown as QRCodeLib.QRCodeSegment[], {
    errorCorrectionLevel: ec,
    ...(opts.mask === undefined ? {} : { maskPattern: opts.mask as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 }),
  });
  const n = q.modules.size;
  const modules: boolean[][] = [];
  for (let r = 0; r < n; r++) {
    const row: boolean[] = new Array(n);
    for (let c = 0; c < n; c++) row[c] = q.modules.data[r * n + c] === 1;
    modules.push(row);
  }
  return { version: q.version, ec, mask: q.maskPattern as number, modules };
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
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${dim} ${dim}" width="${dim * 4}" height="${dim * 4}" shape-rendering="crispEdges">` +
    `<rect width="${dim}" height="${dim}" fill="white"/><path fill="black" d="${d}"/></svg>`
  );
}
