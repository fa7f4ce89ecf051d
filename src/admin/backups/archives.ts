// The finished backup archives in `<dataDir>/backups`: listed, opened for download, deleted. A name
// from a request is the only way to reach a file here, and it passes one check (archivePath) before
// anything touches the disk: a plain file name of a tar archive — no separator, no leading dot, no
// NUL, nothing a shell or a URL would bend — that resolves inside the directory and is a regular
// file there (a symlink someone planted is not followed, not listed, not deleted).
// A backup being written is `<name>.partial` (archive-writer.ts): never listed, never served.
import { lstat, readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isWithin } from "../../backup/data-dir.ts";
import { BackupErrors } from "./errors.ts";

/** What the list shows of an archive. */
export interface ArchiveInfo {
  name: string;
  size: number;
  created_at: string;
}

/** A plain archive name: starts with a letter or digit, letters, digits, `.`, `_`, `-`, ends .tar or .tar.gz. */
const ARCHIVE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.tar(?:\.gz)?$/;

export const isArchiveName = (name: string): boolean => ARCHIVE_NAME.test(name) && !name.includes("..");

/** The archives in `dir`, newest first; an absent directory has none. */
export async function listArchives(dir: string): Promise<ArchiveInfo[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: ArchiveInfo[] = [];
  for (const name of names.filter(isArchiveName)) {
    const st = await lstat(join(dir, name)).catch(() => null);
    if (st?.isFile()) out.push({ name, size: st.size, created_at: st.mtime.toISOString() });
  }
  return out.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.name < b.name ? 1 : -1));
}

/**
 * The absolute path of the finished archive `name` in `dir`: 400 invalid_backup_name for anything
 * that is not a plain archive name, 404 backup_not_found when there is no such regular file.
 */
export async function archivePath(dir: string, name: string): Promise<{ path: string; size: number }> {
  if (!isArchiveName(name)) throw BackupErrors.invalidName();
  const root = resolve(dir);
  const path = resolve(root, name);
  if (!isWithin(path, root) || path === root) throw BackupErrors.invalidName();
  const st = await lstat(path).catch(() => null);
  if (!st?.isFile()) throw BackupErrors.notFound(name);
  return { path, size: st.size };
}

export async function deleteArchive(dir: string, name: string): Promise<void> {
  const { path } = await archivePath(dir, name);
  await rm(path);
}

/** The archive as a download: streamed from disk by Bun (never read into memory). */
export async function archiveDownload(dir: string, name: string): Promise<Response> {
  const { path, size } = await archivePath(dir, name);
  return new Response(Bun.file(path), {
    headers: {
      "content-type": name.endsWith(".gz") ? "application/gzip" : "application/x-tar",
      "content-length": String(size),
      // The name passed isArchiveName: no quote, backslash or control character to escape.
      "content-disposition": `attachment; filename="${name}"`,
      "cache-control": "no-store",
    },
  });
}
