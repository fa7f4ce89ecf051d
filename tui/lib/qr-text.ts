// A QR code as terminal text, for MFA enrolment in the console: the `qrcode` package encodes (the
// same library the auth API uses), this only draws — two module rows per text line with half
// blocks, light modules as ink and dark ones as blank, so it scans on the usual dark terminal
// background; a quiet zone of two modules all round. Used by the TOTP enrolment (screens/Account.tsx).
import QRCode from "qrcode";

export const QUIET = 2;

/** The module matrix (`[row][col]`, true = dark), without quiet zone. */
export function qrModules(text: string, ec: "L" | "M" = "M"): boolean[][] {
  const q = QRCode.create([{ data: new TextEncoder().encode(text), mode: "byte" }] as unknown as QRCode.QRCodeSegment[], { errorCorrectionLevel: ec });
  const n = q.modules.size;
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => q.modules.data[r * n + c] === 1));
}

/**
 * Lines of half blocks: ▀ top light, ▄ bottom light, █ both, space both dark. `ec` "L" (7 % error
 * correction: a screen is a clean medium) keeps an otpauth URI within 21 lines, so it fits 80×24.
 */
export function qrText(text: string, ec: "L" | "M" = "M"): string[] {
  const m = qrModules(text, ec);
  const n = m.length + 2 * QUIET;
  const light = (r: number, c: number) => {
    const rr = r - QUIET;
    const cc = c - QUIET;
    return rr < 0 || cc < 0 || rr >= m.length || cc >= m.length || !m[rr]![cc];
  };
  const lines: string[] = [];
  for (let r = 0; r < n; r += 2) {
    let line = "";
    for (let c = 0; c < n; c++) {
      const top = light(r, c);
      const bottom = r + 1 < n ? light(r + 1, c) : false;
      line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
    }
    lines.push(line);
  }
  return lines;
}
