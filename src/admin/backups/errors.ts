// The admin API's backup errors, each with its stable code (rendered by src/admin/errors.ts).
import { AdminError } from "../errors.ts";

export const BackupErrors = {
  inProgress: (file: string) =>
    new AdminError(409, "backup_in_progress", `A backup is already running (${file}): wait for it, or cancel it with DELETE /admin/v1/backups/current`),
  notRunning: () => new AdminError(404, "backup_not_running", "No backup is running"),
  noJob: () => new AdminError(404, "backup_job_not_found", "No backup has been started since the server started"),
  invalidName: () =>
    new AdminError(400, "invalid_backup_name", "A backup is named by its file name in the backups directory (e.g. plinth-backup-20261205-071500.tar.gz)"),
  notFound: (name: string) => new AdminError(404, "backup_not_found", `No backup archive named ${name}`),
  stopping: () => new AdminError(503, "server_stopping", "The server is shutting down: no new backup starts"),
};
