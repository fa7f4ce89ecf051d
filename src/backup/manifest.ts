// What a Plinth backup archive holds, and the manifest that vouches for it.
//
// The archive is a POSIX tar (optionally gzipped) with these top-level parts:
//   config/plinth.yaml   the configuration file in use when the backup was taken (if any)
//   data/<name>          the data dir's secrets: jwt_secret (development), pg.json (embedded superuser)
//   pg/...               the embedded PostgreSQL cluster: a base backup taken with the low-level API,
//                        its backup_label, and the WAL from the backup's start to its end
//   storage/objects/...  the local storage backend's object bytes
//   manifest.json        last: every directory and every file with its size, mode and sha256
//
// config/ and data/ come first, so a restore knows the configuration before the bulk arrives; the
// manifest comes last because it carries the checksums computed while the rest was written. A
// restore trusts nothing it has not checked against the manifest, and the manifest must list
// exactly the entries the archive has.
import { z } from "zod";

export const MANIFEST_NAME = "manifest.json";
export const FORMAT = "plinth-backup";
export const FORMAT_VERSION = 1;

/** The top-level directories of an archive, and what they map to on restore. */
export const PART = { config: "config", data: "data", cluster: "pg", storage: "storage" } as const;
/** The config file's name inside config/ whatever it was called on disk. */
export const CONFIG_ENTRY = `${PART.config}/plinth.yaml`;
/** Files of the data dir a restored server needs to start with the same keys and superuser password. */
export const DATA_FILES = ["jwt_secret", "pg.json"] as const;

const fileSchema = z.object({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  mode: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const dirSchema = z.object({ path: z.string().min(1), mode: z.number().int().nonnegative() });

export const manifestSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  created_at: z.string(),
  plinth_version: z.string(),
  /** embedded: pg/ holds the cluster. external: the database is the operator's (PLINTH_DB_URL). */
  database: z.enum(["embedded", "external"]),
  postgres: z
    .object({
      version: z.string(),
      system_identifier: z.string(),
      timeline: z.number().int().positive(),
      start_lsn: z.string(),
      stop_lsn: z.string(),
      start_wal: z.string(),
      stop_wal: z.string(),
    })
    .nullable(),
  /** local: storage/ holds the objects. s3: the bytes live in the bucket, not in the archive. */
  storage: z.enum(["local", "s3"]),
  /** Where the configuration file and the data dir were when the backup was taken (informative). */
  config_file: z.string().nullable(),
  data_dir: z.string(),
  dirs: z.array(dirSchema),
  files: z.array(fileSchema),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestFile = z.infer<typeof fileSchema>;
export type ManifestDir = z.infer<typeof dirSchema>;

/**
 * An archive path we are willing to write anywhere: relative, normalised, no `..`, no empty or `.`
 * segment, no NUL or backslash, under one of the known parts (or the manifest itself).
 */
export function isSafeEntryPath(path: string): boolean {
  if (path === MANIFEST_NAME) return true;
  if (path.length > 4096 || /[\0\\]/.test(path) || path.startsWith("/")) return false;
  const segments = path.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return false;
  return (Object.values(PART) as string[]).includes(segments[0]!);
}
