// /admin/v1/backups (backups:manage: system_admin and the machine's identities; an archive holds
// every secret of the deployment):
//   POST   /backups              {gzip?, max_rate?}: starts a backup into <dataDir>/backups; 202 + the job
//                                 (409 backup_in_progress while one runs)
//   GET    /backups              the finished archives (name, size, created_at) and the running job
//   GET    /backups/current      the running (or last) job's progress; polled by the console, so a
//                                 successful read is audited once per identity and minute
//   DELETE /backups/current      cancels the running job; answers once it has ended ("cancelled")
//   GET    /backups/{name}       downloads an archive (streamed from disk)
//   DELETE /backups/{name}       deletes an archive (or, given the running job's id, cancels it)
// Names are checked by archives.ts (400 invalid_backup_name, 404 backup_not_found).
import { Elysia } from "elysia";
import { z } from "zod";
import { json } from "../../errors.ts";
import { RAW_BODY, parseInput } from "../meta/routes/input.ts";
import { adminRoute, noContent, type AdminHttpDeps } from "../route.ts";
import { archiveDownload, deleteArchive } from "./archives.ts";
import { BackupErrors } from "./errors.ts";
import type { BackupJobs } from "./jobs.ts";

const POLL_WINDOW_MS = 60_000;

const StartInput = z
  .object({
    gzip: z.boolean().optional(),
    /** Bytes per second (pg_basebackup's --max-rate allows 32 kB/s to 1 GB/s). */
    max_rate: z
      .number()
      .int()
      .min(32 * 1024)
      .max(1024 ** 3)
      .optional(),
  })
  .strict();

export const backupRoutes = (deps: AdminHttpDeps, jobs: BackupJobs) =>
  new Elysia()
    .post(
      "/backups",
      adminRoute(deps, { action: "backups.create", capability: "backups:manage" }, async (c) => {
        // No body at all is the same as {}: every field has a default.
        const input = parseInput(StartInput, c.body === "" || c.body === undefined ? {} : c.body);
        const job = await jobs.start({ gzip: input.gzip ?? false, maxRate: input.max_rate ?? null });
        c.audit.target = `backup:${job.file}`;
        return json(job, 202);
      }),
      RAW_BODY,
    )
    .get(
      "/backups",
      adminRoute(deps, { action: "backups.list", capability: "backups:manage" }, async () => jobs.list()),
    )
    .get(
      "/backups/current",
      adminRoute(deps, { action: "backups.progress", capability: "backups:manage", pollWindowMs: POLL_WINDOW_MS }, async () => {
        const job = jobs.current();
        if (!job) throw BackupErrors.noJob();
        return job;
      }),
    )
    .delete(
      "/backups/current",
      adminRoute(deps, { action: "backups.cancel", capability: "backups:manage" }, async (c) => {
        const job = await jobs.cancel();
        c.audit.target = `backup:${job.file}`;
        return job;
      }),
    )
    .get(
      "/backups/:name",
      adminRoute(deps, { action: "backups.download", capability: "backups:manage" }, async (c) => archiveDownload(jobs.dir, c.params.name!)),
    )
    .delete(
      "/backups/:name",
      adminRoute(deps, { action: "backups.delete", capability: "backups:manage" }, async (c) => {
        const name = c.params.name!;
        if (jobs.isRunningJob(name)) {
          const job = await jobs.cancel();
          c.audit.target = `backup:${job.file}`;
          return job;
        }
        await deleteArchive(jobs.dir, name);
        return noContent();
      }),
    );
