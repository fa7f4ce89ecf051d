// `plinth restore FILE [--force]`: puts a backup back where `plinth serve` (with the same
// configuration and environment) will look for it, then starts the embedded PostgreSQL once so it
// replays the archived WAL to a consistent state, checks it, and stops it.
//
// Order of work, so that a bad archive never costs the existing data anything:
//   1. read the whole archive into staging (`<cluster>.restore-<pid>`, `<storage>.restore-<pid>`,
//      secrets and configuration in memory), hashing every entry; the manifest at its end must
//      vouch for every byte. Any failure removes the staging and leaves everything as it was.
//   2. only then, with --force, remove what the archive replaces, and rename the staging into place.
//   3. start, check (not in recovery, same system identifier as the backup), stop.
//
// Which data dir: the one the configuration in use names. When there is no configuration file,
// the archived one becomes it (written where `serve` would read it), so its dataDir and storage
// settings apply; PLINTH_* variables still win, as they do for `serve`. An existing configuration
// file is never overwritten: a different archived one is written beside it as `<file>.from-backup`.
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import postgres from "postgres";
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, type LoadedConfig } from "../config/index.ts";
import { embeddedOptions } from "../db/open.ts";
import { clusterPlacement, embeddedOwnerPid, startEmbedded } from "../db/embedded/supervisor.ts";
import type { LogFn } from "../db/embedded/os.ts";
import { readArchive, type Placement } from "./archive-reader.ts";
import { BackupError } from "./errors.ts";
import { deploymentParts, isEmptyDir, type DeploymentParts } from "./data-dir.ts";
import { CONFIG_ENTRY, DATA_FILES, PART, type Manifest } from "./manifest.ts";
import type { Progress } from "./progress.ts";

export interface RestoreOptions {
  archive: string;
  force: boolean;
  cwd: string;
  /** --config as given on the command line (it need not exist yet). */
  configFile?: string;
  env?: Record<string, string | undefined>;
  progress: Progress;
  notice(line: string): void;
}

export interface RestoreResult {
  file: string;
  data_dir: string;
  bytes: number;
  files: number;
  database: "embedded" | "external";
  storage: "local" | "s3";
  /** The WAL position the restored database is consistent as of (the backup's end), when embedded. */
  consistent_lsn: string | null;
  duration_ms: number;
}

interface Plan {
  loaded: LoadedConfig;
  parts: DeploymentParts;
  cluster: ReturnType<typeof clusterPlacement> | null;
  clusterStage: string | null;
  storageStage: string | null;
  createdDataDir: boolean;
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const pid = process.pid;
  const current = loadCurrentConfig(opts);
  const configTarget = current.file ?? resolve(opts.cwd, opts.configFile ?? DEFAULT_CONFIG_FILE);
  const configStage = `${configTarget}.restore-${pid}`;
  let archivedConfig: Buffer | null = null;
  let plan: Plan | null = null;

  /** Decided once the configuration has been read, before the first byte of the bulk is staged. */
  const decide = async (): Promise<Plan> => {
    if (plan) return plan;
    let loaded = current;
    if (current.file === null && archivedConfig !== null) {
      // The archived configuration will be the one in use: the targets follow from it.
      await writeFile(configStage, archivedConfig, { mode: 0o600 });
      loaded = loadConfig({ file: configStage, cwd: opts.cwd, env: opts.env });
    }
    const parts = deploymentParts(loaded);
    const owner = embeddedOwnerPid(parts.dataDir);
    if (owner !== null) throw new BackupError(`a Plinth server (pid ${owner}) is running on ${parts.dataDir}: stop it before restoring`);
    const cluster = parts.embedded ? clusterPlacement(parts.dataDir, loaded.config.db.pgUser) : null;
    const occupied = [parts.dataDir, cluster?.cluster, parts.storageDir].filter((d): d is string => !!d && !isEmptyDir(d));
    if (occupied.length > 0 && !opts.force) {
      throw new BackupError(`${occupied[0]} is not empty: restore into an empty data dir, or pass --force to replace its database, stored files and secrets`);
    }
    const createdDataDir = !existsSync(parts.dataDir);
    await mkdir(parts.dataDir, { recursive: true, mode: 0o711 });
    plan = {
      loaded,
      parts,
      cluster,
      clusterStage: cluster ? `${cluster.cluster}.restore-${pid}` : null,
      storageStage: parts.storageDir ? `${parts.storageDir}.restore-${pid}` : null,
      createdDataDir,
    };
    for (const stage of [plan.clusterStage, plan.storageStage]) if (stage) await rm(stage, { recursive: true, force: true });
    return plan;
  };

  const place = async (path: string, kind: "file" | "dir"): Promise<Placement> => {
    const [part, ...rest] = path.split("/");
    const sub = rest.join("/");
    if (part === PART.config) {
      if (path !== CONFIG_ENTRY || kind !== "file") throw new BackupError(`unexpected entry ${path} in the archive`);
      return { to: "memory" };
    }
    if (part === PART.data) {
      if (!(DATA_FILES as readonly string[]).includes(sub) || kind !== "file") throw new BackupError(`unexpected entry ${path} in the archive`);
      return { to: "memory" };
    }
    const p = await decide();
    if (part === PART.cluster) {
      if (!p.clusterStage) {
        throw new BackupError(
          "the backup holds an embedded database, but this configuration uses PLINTH_DB_URL (db.url): unset it to restore the embedded database",
        );
      }
      return { to: "disk", path: sub ? join(p.clusterStage, sub) : p.clusterStage };
    }
    if (!p.storageStage) throw new BackupError("the backup holds stored files, but this configuration keeps objects in S3 (storage.backend: s3)");
    return { to: "disk", path: sub ? join(p.storageStage, sub) : p.storageStage };
  };

  let result: Awaited<ReturnType<typeof readArchive>>;
  let p: Plan;
  try {
    result = await readArchive(opts.archive, place, opts.progress, (path, data) => {
      if (path === CONFIG_ENTRY) archivedConfig = data; // read first: decide() may need it
    });
    p = await decide(); // an archive with no database and no stored files decides only now
  } catch (err) {
    await discard(plan, configStage);
    throw err;
  } finally {
    opts.progress.done();
  }
  const m = result.manifest;
  await commit(p, result.memory, m, configTarget, configStage, current.file !== null, opts.force, opts.notice);
  if (m.database === "embedded") await startAndCheck(p, m, opts.notice);
  else if (p.parts.embedded)
    opts.notice(
      "the backup holds no database (it was taken with PLINTH_DB_URL): the stored files and the configuration are restored, the embedded database is not",
    );
  else opts.notice("the database is the operator's (PLINTH_DB_URL): restore it with its own tools; the stored files and the configuration are restored");
  return {
    file: opts.archive,
    data_dir: p.parts.dataDir,
    bytes: m.files.reduce((sum, f) => sum + f.size, 0),
    files: m.files.length,
    database: m.database,
    storage: m.storage,
    consistent_lsn: m.postgres?.stop_lsn ?? null,
    duration_ms: Math.round(performance.now() - started),
  };
}

/** The configuration as `serve` would load it here; a --config file that does not exist yet is none. */
function loadCurrentConfig(opts: RestoreOptions): LoadedConfig {
  const explicit = opts.configFile ? resolve(opts.cwd, opts.configFile) : null;
  if (explicit && !existsSync(explicit)) {
    // Loading without a file would read ./plinth.yaml instead of the one named.
    if (existsSync(join(opts.cwd, DEFAULT_CONFIG_FILE))) {
      throw new ConfigError(
        `${explicit} does not exist, and restoring to it from a directory with a ${DEFAULT_CONFIG_FILE} is ambiguous: run the restore from another directory`,
      );
    }
    return loadConfig({ cwd: opts.cwd, env: opts.env });
  }
  return loadConfig({ file: opts.configFile, cwd: opts.cwd, env: opts.env });
}

/** Removes the staging after a failure; the data dir itself only if this restore created it. */
async function discard(plan: Plan | null, configStage: string): Promise<void> {
  await rm(configStage, { force: true });
  if (!plan) return;
  for (const stage of [plan.clusterStage, plan.storageStage]) if (stage) await rm(stage, { recursive: true, force: true });
  if (plan.createdDataDir && isEmptyDir(plan.parts.dataDir)) await rm(plan.parts.dataDir, { recursive: true, force: true });
}

/** Everything verified: remove what the archive replaces (--force) and move the staging into place. */
async function commit(
  p: Plan,
  memory: Map<string, Buffer>,
  m: Manifest,
  configTarget: string,
  configStage: string,
  configInUse: boolean,
  force: boolean,
  notice: (line: string) => void,
): Promise<void> {
  const { parts } = p;
  const owner = embeddedOwnerPid(parts.dataDir);
  if (owner !== null) {
    await discard(p, configStage);
    throw new BackupError(`a Plinth server (pid ${owner}) started on ${parts.dataDir} during the restore: stop it and run the restore again`);
  }
  const restoresCluster = m.database === "embedded" && p.cluster !== null && p.clusterStage !== null;
  const restoresStorage = m.storage === "local" && parts.storageDir !== null && p.storageStage !== null;
  if (force) {
    if (restoresCluster) {
      await rm(p.cluster!.cluster, { recursive: true, force: true });
      if (isSymlink(p.cluster!.link)) await rm(p.cluster!.link, { force: true });
      await rm(join(parts.dataDir, "pg.json"), { force: true }); // the old cluster's password
    }
    if (restoresStorage) await rm(parts.storageDir!, { recursive: true, force: true });
    for (const name of DATA_FILES) if (memory.has(`${PART.data}/${name}`)) await rm(join(parts.dataDir, name), { force: true });
  }
  if (restoresCluster) {
    await mkdir(dirname(p.cluster!.cluster), { recursive: true, mode: 0o755 });
    await mkdir(p.clusterStage!, { recursive: true, mode: 0o700 }); // an archive always has pg/, but be exact
    await rename(p.clusterStage!, p.cluster!.cluster);
    if (p.cluster!.relocated) await symlink(p.cluster!.cluster, p.cluster!.link);
  } else if (p.clusterStage) {
    await rm(p.clusterStage, { recursive: true, force: true });
  }
  if (restoresStorage && existsSync(p.storageStage!)) {
    await mkdir(dirname(parts.storageDir!), { recursive: true, mode: 0o711 });
    await rename(p.storageStage!, parts.storageDir!);
  }
  for (const name of DATA_FILES) {
    const data = memory.get(`${PART.data}/${name}`);
    if (data) await writeFile(join(parts.dataDir, name), data, { mode: 0o600 });
  }
  const archived = memory.get(CONFIG_ENTRY);
  if (!archived) return;
  if (!configInUse) {
    if (!existsSync(configStage)) await writeFile(configStage, archived, { mode: 0o600 });
    await rename(configStage, configTarget);
  } else if (!readFileSync(configTarget).equals(archived)) {
    await writeFile(`${configTarget}.from-backup`, archived, { mode: 0o600 });
    notice(`kept ${configTarget}, which differs from the backed-up configuration: that one is in ${configTarget}.from-backup`);
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Starts the restored cluster (PostgreSQL replays the archived WAL), checks it and stops it. */
async function startAndCheck(p: Plan, m: Manifest, notice: (line: string) => void): Promise<void> {
  const log: LogFn = (level, msg) => {
    if (level === "warn" || level === "error") notice(msg);
  };
  const hint = `the files are restored, but PostgreSQL did not start from them (log: ${join(p.parts.dataDir, "logs", "postgres.log")})`;
  let server;
  try {
    server = await startEmbedded({ ...embeddedOptions(p.loaded.config, log), supervise: false });
  } catch (err) {
    throw new BackupError(`${hint}: ${firstLine(err)}`);
  }
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    // Ready means recovery reached the backup's end and finished: the archived WAL was complete.
    const [row] = await sql<{ recovery: boolean; sysid: string }[]>`
      select pg_is_in_recovery() as recovery, (select system_identifier::text from pg_control_system()) as sysid`;
    if (row!.recovery) throw new Error("it is still in recovery");
    if (m.postgres && row!.sysid !== m.postgres.system_identifier) throw new Error("its system identifier is not the backed-up cluster's");
  } catch (err) {
    throw new BackupError(`${hint}: ${firstLine(err)}`);
  } finally {
    await sql.end({ timeout: 5 });
    await server.stop();
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}
