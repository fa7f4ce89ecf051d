// Loads sharp (libvips) once, lazily: the first image transformation pays for it, startup does not.
//
// From source, `import("sharp")` finds @img/sharp-linux-x64 in node_modules. In the compiled
// binary there is no node_modules: the build (scripts/build.ts) embeds the addon and libvips as an
// archive and rewrites sharp's addon loader (dist/sharp.cjs) to `process.dlopen` the path in
// `globalThis.__plinthSharpAddon`. Here that archive is unpacked once into
// <dataDir>/lib/sharp-<content hash>/ (as PostgreSQL's is into pgbin/), keeping the packages'
// layout so the addon's $ORIGIN rpath (../../sharp-libvips-linux-x64/lib) finds libvips-cpp.so.
//
// Why native and not @img/sharp-wasm32 (measured 2026-12-04, 1024→256 px JPEG→WebP, one thread):
// native 100 images/s under Bun (RSS 82 MB); wasm32 46/s under Node (RSS 264 MB) and under Bun
// 1.4.5 its first operation never completes (no result within 30 s for a 10×10 PNG). The archive
// costs ~7 MB compressed in the binary and ~19 MB unpacked, once.
//
// Traps: unpack to a temp dir and rename into place, so a crash or a second process never loads
// a half-written .so; a load failure is remembered and answered as "transformations unavailable"
// instead of retrying the dlopen on every request.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { bundledSharpArchive } from "./bundled.ts";

export type Sharp = typeof import("sharp").default;

let loading: Promise<Sharp> | null = null;

export function loadSharp(dataDir: string, archive: string | null = bundledSharpArchive): Promise<Sharp> {
  loading ??= load(dataDir, archive);
  return loading;
}

async function load(dataDir: string, archive: string | null): Promise<Sharp> {
  if (archive) {
    const addon = await unpack(archive, join(resolve(dataDir), "lib"));
    (globalThis as { __plinthSharpAddon?: string }).__plinthSharpAddon = addon;
  }
  const mod = (await import("sharp")) as unknown as { default?: Sharp } & Sharp;
  const sharp = mod.default ?? mod;
  // One libvips thread per render: renders run side by side (render.ts bounds how many), and on a
  // small machine a render that takes every core starves the rest of the server.
  sharp.concurrency(1);
  // libvips' own operation cache holds decoded images between calls: the variant cache on disk
  // does that job, and this one only costs memory.
  sharp.cache(false);
  return sharp;
}

/** Unpacks the archive once; returns the addon's path. */
async function unpack(archive: string, root: string): Promise<string> {
  const key = `sharp-${Bun.hash(readFileSync(archive)).toString(16)}`;
  const dir = join(root, key);
  const found = findAddon(dir);
  if (found) return found;
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const tmp = join(root, `.${key}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await new Bun.Archive(await Bun.file(archive).bytes()).extract(tmp);
    if (!findAddon(tmp)) throw new Error(`bundled sharp archive ${archive} has no sharp-*/lib/*.node`);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process published first: use theirs.
      if (!findAddon(dir)) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const addon = findAddon(dir);
  if (!addon) throw new Error(`sharp addon missing after unpacking into ${dir}`);
  return addon;
}

function findAddon(dir: string): string | null {
  const lib = join(dir, `sharp-${process.platform}-${process.arch}`, "lib");
  if (!existsSync(lib)) return null;
  const node = readdirSync(lib).find((f) => f.endsWith(".node"));
  if (!node) return null;
  // libvips must be there too (the rpath looks for it next door).
  const vips = join(dirname(dirname(lib)), `sharp-libvips-${process.platform}-${process.arch}`, "lib");
  return existsSync(vips) ? join(lib, node) : null;
}
