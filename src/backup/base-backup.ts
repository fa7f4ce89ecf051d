// An online base backup of the embedded cluster through PostgreSQL's low-level API (the bundled
// binaries have neither pg_basebackup nor pg_dump):
//
//   1. one session, kept open throughout (the backup belongs to it: if it ends, PostgreSQL aborts
//      the backup), creates a TEMPORARY physical replication slot that reserves WAL at once. The
//      low-level API alone does not keep WAL: a checkpoint during a long copy could recycle the
//      segments the restore needs. The slot dies with the session, whatever happens to us.
//   2. pg_backup_start(label, fast => true): an immediate checkpoint; its redo point is where
//      replay will start.
//   3. the caller copies the cluster's files (clusterEntries below says which).
//   4. pg_backup_stop(wait_for_archive => false) writes the backup-end record, switches to a new
//      WAL segment and returns the backup_label (and tablespace_map) contents. They go into the
//      archive, never into the live cluster.
//   5. the WAL segments from the start segment to the stop segment are copied after the stop, so
//      the last one is complete. With them the archive restores on its own: PostgreSQL starts from
//      backup_label, replays to the end of the backup and is consistent.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";

export interface BackupStart {
  cluster: string;
  version: string;
  systemIdentifier: string;
  startLsn: string;
  walSegmentSize: number;
}

export interface BackupStop {
  stopLsn: string;
  labelFile: string;
  /** Empty unless the cluster has tablespaces (the embedded one has none). */
  tablespaceMap: string;
  timeline: number;
  startWal: string;
  stopWal: string;
}

/** The application_name of the session that owns a backup (and its temporary slot, named plinth_backup_…). */
export const BACKUP_APPLICATION_NAME = "plinth backup";

export class BaseBackupSession {
  private readonly sql: postgres.Sql;
  private readonly slot = `plinth_backup_${process.pid}_${Date.now().toString(36)}`;

  constructor(url: string) {
    // max 1: every statement below runs in the same session, the one that owns the backup. Named,
    // so an operator (and a test) can see in pg_stat_activity whether a backup session is open.
    this.sql = postgres(url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 10,
      onnotice: () => {},
      connection: { application_name: BACKUP_APPLICATION_NAME },
    });
  }

  async start(label: string): Promise<BackupStart> {
    const [info] = await this.sql<{ cluster: string; version: string; sysid: string; segsize: string; superuser: boolean }[]>`
      select current_setting('data_directory') as cluster, current_setting('server_version') as version,
             (select system_identifier::text from pg_control_system()) as sysid,
             (select setting from pg_settings where name = 'wal_segment_size') as segsize,
             (select rolsuper from pg_roles where rolname = current_user) as superuser`;
    if (!info!.superuser) throw new Error("the backup needs the embedded server's superuser");
    await this.sql`select pg_create_physical_replication_slot(${this.slot}, true, true)`;
    const [started] = await this.sql<{ lsn: string }[]>`select pg_backup_start(${label}, true)::text as lsn`;
    return {
      cluster: info!.cluster,
      version: info!.version.split(" ")[0]!,
      systemIdentifier: info!.sysid,
      startLsn: started!.lsn,
      walSegmentSize: Number(info!.segsize),
    };
  }

  async stop(): Promise<BackupStop> {
    const [r] = await this.sql<{ lsn: string; labelfile: string; spcmapfile: string; stopwal: string }[]>`
      select lsn::text, labelfile, spcmapfile, pg_walfile_name(lsn) as stopwal from pg_backup_stop(false)`;
    const label = r!.labelfile;
    // "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)", "START TIMELINE: 1"
    const startWal = /^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$/m.exec(label)?.[1];
    const timeline = Number(/^START TIMELINE: (\d+)$/m.exec(label)?.[1]);
    if (!startWal || !timeline) throw new Error("pg_backup_stop returned a backup_label this version of Plinth cannot read");
    return { stopLsn: r!.lsn, labelFile: label, tablespaceMap: r!.spcmapfile ?? "", timeline, startWal, stopWal: r!.stopwal };
  }

  /** Ends the session: drops the temporary slot and, if still running, aborts the backup. */
  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 }).catch(() => {});
  }
}

/** The WAL segment file names from `first` to `last` (same timeline), in order. */
export function walSegmentRange(first: string, last: string, segmentSize: number): string[] {
  const perId = 0x1_0000_0000 / segmentSize;
  const parse = (name: string) => ({ tli: name.slice(0, 8), no: parseInt(name.slice(8, 16), 16) * perId + parseInt(name.slice(16, 24), 16) });
  const a = parse(first);
  const b = parse(last);
  if (a.tli !== b.tli) throw new Error(`the backup spans a timeline switch (${first} … ${last}); run it again`);
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");
  const names: string[] = [];
  for (let no = a.no; no <= b.no; no++) names.push(`${a.tli}${hex(Math.floor(no / perId))}${hex(no % perId)}`);
  return names;
}

// ---------------------------------------------------------------------------------------------
// Which files of a running cluster a base backup copies (PostgreSQL's "Backing Up the Data
// Directory" and the exclusion lists of its basebackup.c).

/** Directories whose contents are excluded; the directory itself is kept (PostgreSQL needs it). */
const EMPTIED_DIRS = new Set(["pg_wal", "pg_stat_tmp", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans"]);
/** Files at the top of the cluster that are never copied. */
const EXCLUDED_TOP_FILES = new Set([
  "postmaster.pid",
  "postmaster.opts",
  "backup_label",
  "tablespace_map",
  "backup_manifest",
  "current_logfiles",
  "current_logfiles.tmp",
  "postgresql.auto.conf.tmp",
  "backup_label.old",
]);

export type ClusterEntry = { kind: "dir"; rel: string; mode: number } | { kind: "file"; rel: string; size: number };

/**
 * Walks the cluster and yields what to copy (paths relative to the cluster root, "" being the root),
 * directories before their contents. Symlinks are refused: in a cluster they are tablespaces or a
 * moved pg_wal, neither of which the embedded server has or this backup knows how to restore.
 */
export async function* clusterEntries(cluster: string): AsyncGenerator<ClusterEntry> {
  yield { kind: "dir", rel: "", mode: (await stat(cluster)).mode };
  yield* walk(cluster, "");
}

async function* walk(root: string, rel: string): AsyncGenerator<ClusterEntry> {
  const dir = rel === "" ? root : join(root, rel);
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && rel !== "") return; // dropped meanwhile
    throw err;
  }
  const names = new Set(entries.map((e) => e.name));
  const top = rel === "";
  const emptied = EMPTIED_DIRS.has(rel);
  // `pg_wal` keeps its subdirectories (archive_status, summaries), empty.
  const keepSubdirsOnly = rel === "pg_wal";
  for (const e of entries.sort((x, y) => (x.name < y.name ? -1 : 1))) {
    const child = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.name.startsWith("pgsql_tmp")) continue; // temporary files and their directories
    if (e.isSymbolicLink()) {
      throw new Error(`${join(root, child)} is a symbolic link (a tablespace or a moved pg_wal): plinth backup does not support those`);
    }
    if (e.isDirectory()) {
      if (emptied && !keepSubdirsOnly) continue;
      const st = await stat(join(root, child)).catch(() => null);
      if (!st) continue;
      yield { kind: "dir", rel: child, mode: st.mode };
      if (keepSubdirsOnly) continue; // pg_wal/archive_status etc.: the directory only
      yield* walk(root, child);
      continue;
    }
    if (!e.isFile() || emptied) continue;
    if (top && EXCLUDED_TOP_FILES.has(e.name)) continue;
    if (e.name.startsWith("pg_internal.init")) continue; // relcache init files, rebuilt at start
    if (isUnloggedFork(e.name, names)) continue;
    const st = await stat(join(root, child)).catch(() => null);
    if (st) yield { kind: "file", rel: child, size: st.size };
  }
}

/**
 * Forks of an unlogged relation other than its init fork: reset from the init fork when the
 * restored cluster starts, so copying them is wasted work (pg_basebackup skips them too).
 */
function isUnloggedFork(name: string, siblings: Set<string>): boolean {
  const m = /^(\d+)(?:_(?:fsm|vm))?(?:\.\d+)?$/.exec(name);
  return m !== null && siblings.has(`${m[1]}_init`);
}
