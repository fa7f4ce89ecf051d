// The console's terminal QR code: drawn from the qrcode package's matrix with half blocks, it reads
// back (with an independent decoder) as the otpauth:// URI it was made from.
import { expect, test } from "bun:test";
import { QUIET, qrText } from "../tui/lib/qr-text.ts";
import { decodeQr } from "./support/qr-decode.ts";

/** The text back to modules (true = dark), quiet zone removed. */
function readBack(lines: string[]): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of lines) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      top.push(!(ch === "█" || ch === "▀"));
      bottom.push(!(ch === "█" || ch === "▄"));
    }
    rows.push(top, bottom);
  }
  const n = lines[0]!.length - 2 * QUIET;
  return rows.slice(QUIET, QUIET + n).map((r) => r.slice(QUIET, QUIET + n));
}

test("an otpauth URI drawn in half blocks decodes to itself and fits an 80-column terminal", () => {
  const uri = "otpauth://totp/Plinth:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Plinth";
  const lines = qrText(uri);
  expect(lines.every((l) => [...l].length === lines[0]!.length)).toBe(true);
  expect([...lines[0]!].length).toBeLessThanOrEqual(80);
  expect(lines.length).toBeLessThanOrEqual(30);
  expect(decodeQr(readBack(lines)).text).toBe(uri);
});
