// backup_age: when was the last backup taken?
//
// The record is `<dataDir>/backups.json`, written by `plinth backup`: a JSON array of
// {"file": <archive path, absolute or relative to the data dir>, "created_at": <ISO 8601>}, one entry
// per backup taken. The doctor only reads it. An archive that is no longer at its path is not an
// error (backups are often moved off the machine), only mentioned.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BACKUP_RECORD_FILE, type BackupRecord } from "../backup/record.ts";
import type { LoadedConfig } from "../config/index.ts";
import { ok, warn, type CheckResult } from "./check.ts";

/** Older than this, the last backup is reported as stale. */
export const STALE_BACKUP_MS = 7 * 24 * 3600 * 1000;

const TAKE_BACKUP = "run `plinth backup` and schedule it (e.g. daily from cron), keeping copies off this machine";

export function formatAge(ms: number): string {
  const h = ms / 3_600_000;
  if (h < 1) return `${Math.max(0, Math.round(ms / 60_000))} min`;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} days`;
}

export function checkBackupAge({ config }: LoadedConfig, now: Date = new Date()): CheckResult {
  const recordFile = resolve(config.dataDir, BACKUP_RECORD_FILE);
  if (!existsSync(recordFile)) return warn("backup_age", `no backup recorded (${recordFile} does not exist)`, TAKE_BACKUP);
  let entries: BackupRecord[];
  try {
    const parsed: unknown = JSON.parse(readFileSync(recordFile, "utf8"));
    if (!Array.isArray(parsed)) throw new Error("not a JSON array");
    entries = parsed.filter(
      (e): e is BackupRecord => typeof e?.file === "string" && typeof e?.created_at === "string" && !Number.isNaN(Date.parse(e.created_at)),
    );
  } catch (err) {
    return warn(
      "backup_age",
      `${recordFile} cannot be read as the backup record: ${err instanceof Error ? err.message : String(err)}`,
      `${TAKE_BACKUP}; it rewrites the record`,
    );
  }
  const newest = entries.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))[0];
  if (newest === undefined) return warn("backup_age", `no backup recorded (${recordFile} lists none)`, TAKE_BACKUP);

  const age = now.getTime() - Date.parse(newest.created_at);
  const archive = resolve(config.dataDir, newest.file);
  const where = existsSync(archive) ? archive : `${archive}, no longer at that path`;
  const found = `last backup ${formatAge(age)} ago (${newest.created_at}): ${where}`;
  if (age > STALE_BACKUP_MS) return warn("backup_age", found, TAKE_BACKUP);
  return ok("backup_age", found);
}
