// The failures of backup and restore that the operator can act on, and the one line a command
// prints for any failure.

/** Something about the deployment or the request stops the backup or restore (not a bug). */
export class BackupError extends Error {
  override readonly name = "BackupError";
}

/** The archive is damaged, truncated, or not a Plinth backup. */
export class ArchiveError extends Error {
  override readonly name = "ArchiveError";
}

/** One line for stderr: our own errors as they are, anything else (I/O, PostgreSQL) with its kind. */
export function failureLine(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();
  if (err instanceof BackupError || err instanceof ArchiveError) return message;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
}
