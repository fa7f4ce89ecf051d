// Image transformation benchmark (issue 19): throughput of the render pipeline Plinth runs
// (src/storage/image/render.ts: file in, auto-rotate, resize cover, WebP q80, file out; libvips
// with one thread, its operation cache off) on a 1024×1024 JPEG to 256×256, and the peak memory
// (VmHWM) of rendering a large source (7000×7000, 49 MP JPEG) to 256 px, from a path (what Plinth
// does) and from an in-memory buffer (what it avoids). Each measurement runs in its own process,
// so one's memory never inflates another's peak. Run alone: `bun bench/image.ts [--quick]`.
//
// The WebAssembly build (@img/sharp-wasm32) is not installed, so it is not re-measured here; the
// figures that decided against it are in src/storage/image/sharp-loader.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, fmt, median, ROOT } from "./lib.ts";
import { table, type BenchContext, type Outcome, type Row } from "./outcome.ts";

if (import.meta.main && !process.env.BENCH_IMAGE_CHILD) {
  const r = await runImage({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(`${s}\n`) });
  console.log(r.body);
}

// --- the child: one measurement, printed as JSON ---------------------------------------------------
if (process.env.BENCH_IMAGE_CHILD) {
  const sharp = (await import("sharp")).default;
  sharp.concurrency(1);
  sharp.cache(false);
  const { readFileSync } = await import("node:fs");
  const hwmMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
  const [mode, src, out, seconds] = process.argv.slice(2) as [string, string, string, string];
  const pipeline = (input: string | Buffer) =>
    sharp(input, { sequentialRead: true, limitInputPixels: 50_000_000, failOn: "error" })
      .rotate()
      .resize({ width: 256, height: 256, fit: "cover", withoutEnlargement: true })
      .webp({ quality: 80 });
  if (mode === "throughput") {
    const until = performance.now() + Number(seconds) * 1000;
    const t0 = performance.now();
    let n = 0;
    while (performance.now() < until) {
      await pipeline(src).toFile(out);
      n++;
    }
    console.log(JSON.stringify({ perSecond: n / ((performance.now() - t0) / 1000), hwmMb: hwmMb() }));
  } else {
    const before = process.memoryUsage().rss / 1048576;
    const t0 = performance.now();
    await pipeline(mode === "large-buffer" ? readFileSync(src) : src).toFile(out);
    console.log(JSON.stringify({ ms: performance.now() - t0, rssBeforeMb: before, hwmMb: hwmMb() }));
  }
  process.exit(0);
}

function child(args: string[]): Record<string, number> {
  const p = Bun.spawnSync([BUN, join(ROOT, "bench", "image.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, BENCH_IMAGE_CHILD: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (p.exitCode !== 0) throw new Error(`bench/image child failed: ${p.stderr.toString().slice(0, 500)}`);
  return JSON.parse(p.stdout.toString().trim().split("\n").pop()!);
}

export async function runImage(ctx: BenchContext): Promise<Outcome> {
  const sharp = (await import("sharp")).default;
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-image-"));
  try {
    ctx.progress("image: making the sources");
    const svg = (w: number) =>
      Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${w}"><defs><linearGradient id="g"><stop offset="0" stop-color="#204080"/>` +
          `<stop offset="1" stop-color="#f0a030"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>` +
          `<circle cx="${w / 2}" cy="${w / 2}" r="${w / 3}" fill="#30c060"/><text x="${w / 10}" y="${w / 2}" font-size="${w / 8}">plinth</text></svg>`,
      );
    const small = join(dir, "1024.jpg");
    const large = join(dir, "7000.jpg");
    await sharp(svg(1024)).jpeg({ quality: 85 }).toFile(small);
    // Noise: a photo-like source that does not compress to nothing (a 7000² gradient is 0.5 MB).
    const side0 = ctx.quick ? 3000 : 7000;
    await sharp({ create: { width: side0, height: side0, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 40 } } })
      .jpeg({ quality: 85 })
      .toFile(large);
    const largeBytes = Bun.file(large).size;
    const seconds = ctx.quick ? 1 : 5;
    const reps = ctx.quick ? 1 : 3;
    ctx.progress("image: throughput");
    const tp = Array.from({ length: reps }, () => child(["throughput", small, join(dir, "out.webp"), String(seconds)]));
    const perSecond = median(tp.map((t) => t.perSecond!));
    ctx.progress("image: memory of a large source");
    const fromPath = Array.from({ length: reps }, () => child(["large-path", large, join(dir, "big.webp"), "0"]));
    const fromBuffer = Array.from({ length: reps }, () => child(["large-buffer", large, join(dir, "big.webp"), "0"]));
    const pathHwm = median(fromPath.map((r) => r.hwmMb!));
    const bufHwm = median(fromBuffer.map((r) => r.hwmMb!));
    const base = median(fromPath.map((r) => r.rssBeforeMb!));
    const side = ctx.quick ? 3000 : 7000;
    const summary: Row[] = [
      ["Image: 1024→256 px JPEG→WebP renders per second (one libvips thread)", `${fmt(perSecond, 1)}/s`, "measured", "—"],
      [`Image: peak RSS rendering a ${side}×${side} JPEG to 256 px (from a path)`, `${fmt(pathHwm)} MB`, "measured", "—"],
    ];
    const body = [
      `Render pipeline of src/storage/image/render.ts in a child process per measurement (sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, native build).`,
      "",
      table(
        ["measurement", "result"],
        [
          ["1024×1024 JPEG → 256×256 WebP q80, renders/s (median of runs)", `${fmt(perSecond, 1)} (${tp.map((t) => fmt(t.perSecond!, 1)).join(", ")})`],
          [
            `${side}×${side} JPEG (${fmt(largeBytes / 1048576, 1)} MB) → 256 px, from a path: peak RSS`,
            `${fmt(pathHwm)} MB (process at start: ${fmt(base)} MB)`,
          ],
          [`same, source read into memory first: peak RSS`, `${fmt(bufHwm)} MB`],
          [`same, time per render`, `${fmt(median(fromPath.map((r) => r.ms!)))} ms`],
        ],
      ),
      "",
      "WebAssembly build (@img/sharp-wasm32, measured once by hand, 2026-12-04): 46 renders/s under Node with RSS 264 MB, and its first operation never completes under Bun 1.4.5 — hence the native addon embedded in the binary.",
    ].join("\n");
    return {
      ok: true,
      summary,
      body,
      lines: [`image: ${fmt(perSecond, 1)} renders/s; large source peak RSS ${fmt(pathHwm)} MB from a path, ${fmt(bufHwm)} MB from a buffer`],
      warnings: [],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
