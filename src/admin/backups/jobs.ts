// Backups taken by the serving process (POST /admin/v1/backups): one job at a time, written into
// `<dataDir>/backups` by the same takeBackup the CLI runs (src/backup/backup.ts), with its progress
// kept here for the console to poll, and cancellable (DELETE /admin/v1/backups/current).
//
// Traps:
// - One at a time, per process: a second start while one runs is refused (409 backup_in_progress).
//   Another process (`plinth backup`, another node) may still run one: PostgreSQL's non-exclusive
//   backups allow that, and each has its own session and slot.
// - The job outlives the request that started it (202 at once); its end is logged, and the last
//   finished job stays readable (GET /backups/current) until the next one starts, so a console
//   that polls sees "done", "failed" or "cancelled" rather than a 404.
// - A cancel aborts the signal and then waits for takeBackup to settle (it stops within one chunk),
//   so the answer says how the job really ended: "cancelled", or "done" when it had just finished.
// - stop() (server shutdown) cancels a running backup and waits, so no `.partial` file and no
//   backup session outlive the server.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { backupFileName, takeBackup } from "../../backup/backup.ts";
import { failureLine } from "../../backup/errors.ts";
import type { BackupPhase, Progress } from "../../backup/progress.ts";
import type { LoadedConfig } from "../../config/index.ts";
import type { Logger } from "../../log.ts";
import { listArchives, type ArchiveInfo } from "./archives.ts";
import { BackupErrors } from "./errors.ts";

export type JobState = "running" | "done" | "failed" | "cancelled";

/** A backup job as the API shows it. */
export interface BackupJob {
  id: string;
  /** The archive's file name in the backups directory. */
  file: string;
  state: JobState;
  phase: BackupPhase | "starting";
  gzip: boolean;
  max_rate: number | null;
  started_at: string;
  finished_at: string | null;
  bytes_done: number;
  /** Grows as the backup learns its parts (the cluster, then the objects, then the WAL). */
  bytes_total: number;
  /** The archive's size once done. */
  size: number | null;
  /** What the backup could not include (the operator's database, an S3 bucket), as takeBackup said it. */
  notices: string[];
  error: { code: string; message: string } | null;
}

export interface StartOptions {
  gzip: boolean;
  /** Bytes per second at most (pg_basebackup's --max-rate); null: no limit. */
  maxRate: number | null;
}

export interface BackupJobsDeps {
  /** The configuration as `serve` loaded it (its file is archived too). */
  loaded: LoadedConfig;
  log: Logger;
}

export class BackupJobs {
  readonly dir: string;
  private job: BackupJob | null = null;
  private running: { ctrl: AbortController; settled: Promise<void> } | null = null;
  private stopped = false;

  constructor(private readonly deps: BackupJobsDeps) {
    this.dir = join(deps.loaded.config.dataDir, "backups");
  }

  /** Starts a backup and returns its job (state "running") at once. */
  async start(opts: StartOptions): Promise<BackupJob> {
    if (this.stopped) throw BackupErrors.stopping();
    if (this.running && this.job) throw BackupErrors.inProgress(this.job.file);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Checked again after the await: two starts in the same tick must not both pass.
    if (this.running && this.job) throw BackupErrors.inProgress(this.job.file);
    const file = this.freeName(opts.gzip);
    const job: BackupJob = {
      id: crypto.randomUUID(),
      file,
      state: "running",
      phase: "starting",
      gzip: opts.gzip,
      max_rate: opts.maxRate,
      started_at: new Date().toISOString(),
      finished_at: null,
      bytes_done: 0,
      bytes_total: 0,
      size: null,
      notices: [],
      error: null,
    };
    const ctrl = new AbortController();
    this.job = job;
    this.running = { ctrl, settled: this.run(job, ctrl.signal, opts) };
    return { ...job };
  }

  /** The running job, or the last one to finish; null when none was started. */
  current(): BackupJob | null {
    return this.job ? { ...this.job, notices: [...this.job.notices] } : null;
  }

  /** Whether `id` is the running job's (DELETE /backups/{id} cancels it). */
  isRunningJob(id: string): boolean {
    return this.running !== null && this.job?.id === id;
  }

  /** Cancels the running job and returns it once it has ended. */
  async cancel(): Promise<BackupJob> {
    const running = this.running;
    if (!running) throw BackupErrors.notRunning();
    running.ctrl.abort(new BackupCancelled());
    await running.settled;
    return this.current()!;
  }

  async list(): Promise<{ backups: ArchiveInfo[]; current: BackupJob | null }> {
    return { backups: await listArchives(this.dir), current: this.running ? this.current() : null };
  }

  /** Server shutdown: no new job; a running one is cancelled and waited for. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.running) await this.cancel().catch(() => {});
  }

  private async run(job: BackupJob, signal: AbortSignal, opts: StartOptions): Promise<void> {
    // The small files (configuration, secrets) are written before any total is known, and a live
    // file may grow while it is copied: the total never shows less than what is done.
    const progress: Progress = {
      expect: (n) => void (job.bytes_total += n),
      advance: (n) => {
        job.bytes_done += n;
        job.bytes_total = Math.max(job.bytes_total, job.bytes_done);
      },
      phase: (name) => void (job.phase = name),
      done: () => {},
    };
    try {
      // A background job: errors surface as the job's state (and the log), never as an unhandled rejection.
      const result = await takeBackup({
        loaded: this.deps.loaded,
        out: join(this.dir, job.file),
        gzip: opts.gzip,
        sync: true,
        progress,
        notice: (line) => void job.notices.push(line),
        signal,
        maxRate: opts.maxRate ?? undefined,
      });
      job.state = "done";
      job.size = result.bytes;
      job.bytes_done = Math.max(job.bytes_done, job.bytes_total);
      this.deps.log.info("backup finished", { file: job.file, bytes: result.bytes, duration_ms: result.duration_ms });
    } catch (err) {
      if (signal.aborted) {
        job.state = "cancelled";
        job.error = { code: "backup_cancelled", message: "The backup was cancelled; no archive was kept" };
        this.deps.log.info("backup cancelled", { file: job.file, bytes_done: job.bytes_done });
      } else {
        job.state = "failed";
        // One line (takeBackup's own messages, or an I/O or PostgreSQL error's): never a stack.
        job.error = { code: "backup_failed", message: failureLine(err) };
        this.deps.log.error("backup failed", { file: job.file, error: err });
      }
    } finally {
      job.finished_at = new Date().toISOString();
      this.running = null;
    }
  }

  /** The timestamped name, with -2, -3… when a backup of the same second exists (never overwrite one). */
  private freeName(gzip: boolean): string {
    const base = backupFileName(gzip);
    if (!existsSync(join(this.dir, base))) return base;
    const ext = gzip ? ".tar.gz" : ".tar";
    const stem = base.slice(0, -ext.length);
    for (let n = 2; ; n++) {
      const name = `${stem}-${n}${ext}`;
      if (!existsSync(join(this.dir, name))) return name;
    }
  }
}

/** The reason a cancelled backup stops with. */
export class BackupCancelled extends Error {
  override readonly name = "BackupCancelled";
  constructor() {
    super("the backup was cancelled");
  }
}
