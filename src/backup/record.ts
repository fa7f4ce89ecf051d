// The record of backups taken: `<dataDir>/backups.json`, a JSON array of
// {"file": <archive path, absolute>, "created_at": <ISO 8601>}, appended by `plinth backup` and read
// by `plinth doctor` (backup_age).
export const BACKUP_RECORD_FILE = "backups.json";

export interface BackupRecord {
  file: string;
  created_at: string;
}
