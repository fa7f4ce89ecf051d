// `plinth backup`: an online, consistent backup of a deployment into one archive (see manifest.ts
// for its layout). It reaches the database the way `serve` does: it attaches to the embedded
// server a running `serve` owns, or starts it for the duration of the backup; with PLINTH_DB_URL
// the database is the operator's, and only the stored files and the configuration are archived.
//
// Consistency between the database and the stored files. Object bytes are immutable (one file per
// version), written before their row commits and deleted only after their row is gone. The
// database is restored as of the backup's end (its stop LSN). So the objects are copied in two
// passes: all of them while the base backup runs, then, after pg_backup_stop, those that appeared
// since. Every row the restored database has then has its bytes, except for an object both
// created during the backup and deleted in the moment after it; extra bytes without a row are
// harmless (the storage sweeper removes them).
//
// Inside `serve` (the admin API's POST /admin/v1/backups, src/admin/backups/): startEmbedded finds
// the lock of a live owner, this very process, and attaches (owned: false, so the backup never stops
// the server it found). A cancel (opts.signal) stops the copy at the next entry or chunk; the archive
// writer then removes its `.partial` file and closing the session ends PostgreSQL's backup and drops
// its temporary slot, exactly as for any other failure.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import { embeddedOptions } from "../db/open.ts";
import { startEmbedded, type EmbeddedServer } from "../db/embedded/supervisor.ts";
import type { LogFn } from "../db/embedded/os.ts";
import { VERSION } from "../version.ts";
import { ArchiveWriter } from "./archive-writer.ts";
import { BaseBackupSession, clusterEntries, walSegmentRange, type ClusterEntry } from "./base-backup.ts";
import { BackupError } from "./errors.ts";
import { deploymentParts, isWithin, type DeploymentParts } from "./data-dir.ts";
import { CONFIG_ENTRY, DATA_FILES, FORMAT, FORMAT_VERSION, PART, type Manifest } from "./manifest.ts";
import type { Progress } from "./progress.ts";
import { BACKUP_RECORD_FILE, type BackupRecord } from "./record.ts";

export interface BackupOptions {
  loaded: LoadedConfig;
  /** Absolute path of the archive to write (replaced atomically if it exists). */
  out: string;
  gzip: boolean;
  /** fsync the archive before reporting success (default in the CLI; --no-sync turns it off). */
  sync: boolean;
  progress: Progress;
  /** One-line notices for the operator (stderr). */
  notice(line: string): void;
  /** Cancels the backup: it then throws the signal's reason, leaving no archive behind. */
  signal?: AbortSignal;
  /** Bytes per second the copy may read at most (see archive-writer.ts); unset: no limit. */
  maxRate?: number;
}

export interface BackupResult {
  file: string;
  /** Size of the archive. */
  bytes: number;
  files: number;
  database: "embedded" | "external";
  storage: "local" | "s3";
  duration_ms: number;
}

export async function takeBackup(opts: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  const { signal } = opts;
  signal?.throwIfAborted();
  const parts = deploymentParts(opts.loaded);
  checkOutPath(opts.out, parts);
  if (!parts.embedded) {
    opts.notice("the database is the operator's (PLINTH_DB_URL): back it up with its own tools; this archive holds the stored files and the configuration");
  } else if (!existsSync(join(parts.clusterLink, "PG_VERSION"))) {
    throw new BackupError(`no embedded database in ${parts.dataDir} (has \`plinth serve\` run with this data dir?)`);
  }
  if (parts.s3Bucket !== null || parts.storageDir === null) {
    opts.notice(`stored objects live in the S3 bucket ${parts.s3Bucket ?? "(unset)"}: back them up there; this archive holds their metadata only`);
  }

  const writer = await ArchiveWriter.create({ out: opts.out, gzip: opts.gzip, sync: opts.sync, progress: opts.progress, signal, maxRate: opts.maxRate });
  let server: EmbeddedServer | null = null;
  let session: BaseBackupSession | null = null;
  try {
    // Small parts first: a restore reads the configuration before the bulk (see manifest.ts).
    opts.progress.phase?.("files");
    if (parts.configFile) await writer.addBytes(CONFIG_ENTRY, readFileSync(parts.configFile), 0o600);
    for (const name of DATA_FILES) {
      if (name === "pg.json" && !parts.embedded) continue;
      const file = join(parts.dataDir, name);
      if (existsSync(file)) await writer.addBytes(`${PART.data}/${name}`, readFileSync(file), 0o600);
    }

    let postgres: Manifest["postgres"] = null;
    if (parts.embedded) {
      const log: LogFn = (level, msg) => {
        if (level === "warn" || level === "error") opts.notice(msg);
      };
      opts.progress.phase?.("database");
      server = await startEmbedded({ ...embeddedOptions(opts.loaded.config, log), supervise: false });
      signal?.throwIfAborted();
      session = new BaseBackupSession(server.url);
      const start = await session.start(`plinth backup ${new Date().toISOString()}`);
      signal?.throwIfAborted();
      const entries = await collect(clusterEntries(start.cluster));
      opts.progress.expect(entries.reduce((sum, e) => sum + (e.kind === "file" ? e.size : 0), 0));
      for (const e of entries) {
        const path = e.rel === "" ? PART.cluster : `${PART.cluster}/${e.rel}`;
        if (e.kind === "dir") writer.addDir(path, e.mode);
        else await writer.addFile(path, join(start.cluster, e.rel));
      }
      opts.progress.phase?.("objects");
      await copyObjects(writer, parts, opts.progress); // first pass, while the backup runs
      signal?.throwIfAborted();
      opts.progress.phase?.("wal");
      const stop = await session.stop();
      await writer.addBytes(`${PART.cluster}/backup_label`, Buffer.from(stop.labelFile), 0o600);
      if (stop.tablespaceMap) await writer.addBytes(`${PART.cluster}/tablespace_map`, Buffer.from(stop.tablespaceMap), 0o600);
      await copyWal(writer, start.cluster, walSegmentRange(stop.startWal, stop.stopWal, start.walSegmentSize), start.walSegmentSize, opts.progress);
      await session.close(); // drops the temporary slot: the WAL is in the archive now
      session = null;
      postgres = {
        version: start.version,
        system_identifier: start.systemIdentifier,
        timeline: stop.timeline,
        start_lsn: start.startLsn,
        stop_lsn: stop.stopLsn,
        start_wal: stop.startWal,
        stop_wal: stop.stopWal,
      };
    }
    opts.progress.phase?.("objects");
    await copyObjects(writer, parts, opts.progress); // objects that appeared meanwhile (or the only pass)
    signal?.throwIfAborted();
    opts.progress.phase?.("finishing");

    const manifest: Manifest = {
      format: FORMAT,
      version: FORMAT_VERSION,
      created_at: new Date().toISOString(),
      plinth_version: VERSION,
      database: parts.embedded ? "embedded" : "external",
      postgres,
      storage: parts.storageDir === null ? "s3" : "local",
      config_file: parts.configFile,
      data_dir: parts.dataDir,
      dirs: writer.dirs,
      files: writer.files,
    };
    const bytes = await writer.finish(Buffer.from(JSON.stringify(manifest)));
    recordBackup(parts.dataDir, opts.out, manifest.created_at, opts.notice);
    return {
      file: opts.out,
      bytes,
      files: writer.files.length,
      database: manifest.database,
      storage: manifest.storage,
      duration_ms: Math.round(performance.now() - started),
    };
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    opts.progress.done();
    await session?.close(); // aborts an unfinished backup on the server
    await server?.stop(); // only stops a server this backup started
  }
}

/** plinth-backup-20261204-164200.tar: sorts by time, no characters a shell or a filesystem minds. */
export function backupFileName(gzip: boolean, at = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d+Z$/, "")
    .replace(/[-:]/g, "")
    .replace("T", "-");
  return `plinth-backup-${stamp}.tar${gzip ? ".gz" : ""}`;
}

function checkOutPath(out: string, parts: DeploymentParts): void {
  const inside = [parts.clusterLink, parts.objectsDir].find((dir) => dir !== null && isWithin(out, dir));
  if (inside) throw new BackupError(`the archive cannot be written inside ${inside}, which it backs up`);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function copyWal(writer: ArchiveWriter, cluster: string, segments: string[], segmentSize: number, progress: Progress): Promise<void> {
  const walDir = join(cluster, "pg_wal");
  progress.expect(segments.length * segmentSize);
  for (const seg of segments) {
    if (!(await writer.addFile(`${PART.cluster}/pg_wal/${seg}`, join(walDir, seg)))) {
      throw new BackupError(`WAL segment ${seg} disappeared during the backup; run it again`);
    }
  }
  // Timeline history files: tiny, and needed by a cluster that was ever promoted.
  for (const name of (await readdir(walDir)).filter((n) => /^[0-9A-F]{8}\.history$/.test(n)).sort()) {
    await writer.addFile(`${PART.cluster}/pg_wal/${name}`, join(walDir, name));
  }
}

/** Adds the object files (and their directories) not in the archive yet. */
async function copyObjects(writer: ArchiveWriter, parts: DeploymentParts, progress: Progress): Promise<void> {
  if (parts.objectsDir === null || !existsSync(parts.objectsDir)) return;
  const pending: { path: string; source: string; size: number }[] = [];
  const walk = async (dir: string, path: string): Promise<void> => {
    if (!writer.has(path)) writer.addDir(path, 0o700);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = `${path}/${e.name}`;
      if (e.isDirectory()) await walk(join(dir, e.name), child);
      else if (e.isFile() && !writer.has(child)) {
        const st = await stat(join(dir, e.name)).catch(() => null);
        if (st) pending.push({ path: child, source: join(dir, e.name), size: st.size });
      }
    }
  };
  if (!writer.has(PART.storage)) writer.addDir(PART.storage, 0o711);
  await walk(parts.objectsDir, `${PART.storage}/objects`);
  progress.expect(pending.reduce((sum, p) => sum + p.size, 0));
  for (const p of pending) await writer.addFile(p.path, p.source);
}

/**
 * Appends the finished archive to `<dataDir>/backups.json` ({"file","created_at"} entries), which
 * `plinth doctor`'s backup_age check reads. Written beside and renamed over, so a crash never leaves
 * half a file; a record that cannot be written is a notice, not a failed backup (the archive is done).
 */
function recordBackup(dataDir: string, file: string, createdAt: string, notice: (line: string) => void): void {
  const recordFile = join(dataDir, BACKUP_RECORD_FILE);
  try {
    let entries: BackupRecord[] = [];
    if (existsSync(recordFile)) {
      const parsed: unknown = JSON.parse(readFileSync(recordFile, "utf8"));
      if (Array.isArray(parsed)) entries = parsed as BackupRecord[];
    }
    entries.push({ file: resolve(file), created_at: createdAt });
    const tmp = `${recordFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(entries.slice(-100), null, 2) + "\n", { mode: 0o600 });
    renameSync(tmp, recordFile);
  } catch (err) {
    notice(`could not record the backup in ${recordFile}: ${(err as Error).message}`);
  }
}
