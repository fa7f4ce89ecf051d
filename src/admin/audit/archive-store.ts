// Where pruned audit rows go before they leave the database: <dataDir>/audit-archive/ by default,
// or the storage backend's S3 bucket (key audit-archive/<name>) when storage.backend is s3, so the
// archive lives wherever the operator already keeps durable bytes. An archive is published whole or
// not at all (fsynced temporary file + rename, or an S3 upload that completes at the end), and a
// location is recorded in plinth.audit_archives only after that.
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Config } from "../../config/schema.ts";
import { createBackend } from "../../storage/backends/factory.ts";

export interface ArchiveStore {
  readonly kind: "local" | "s3";
  /** A local directory for archives being written (same filesystem as the local archive dir). */
  readonly tmpDir: string;
  /** Moves a complete local file into the store as `name`; returns its location ("local:…" / "s3:…"). */
  publish(name: string, localPath: string): Promise<string>;
  /** The bytes at a location returned by publish. */
  open(location: string): Promise<ReadableStream<Uint8Array>>;
}

export const ARCHIVE_PREFIX = "audit-archive";
const NAME = /^audit-\d+-\d+-\d{8}T\d{6}Z\.ndjson\.gz$/;

export function localArchiveDir(config: Config): string {
  return join(resolve(config.dataDir), ARCHIVE_PREFIX);
}

export async function createArchiveStore(config: Config): Promise<ArchiveStore> {
  const dir = localArchiveDir(config);
  const tmpDir = join(dir, ".tmp");
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  if (config.storage.backend === "s3") {
    const backend = await createBackend(config);
    return {
      kind: "s3",
      tmpDir,
      async publish(name, localPath) {
        if (!NAME.test(name)) throw new Error(`bad archive name ${name}`);
        await backend.commitFile(`${ARCHIVE_PREFIX}/${name}`, localPath, "application/gzip");
        return `s3:${ARCHIVE_PREFIX}/${name}`;
      },
      async open(location) {
        const key = location.replace(/^s3:/, "");
        if (!location.startsWith("s3:") || !NAME.test(key.slice(ARCHIVE_PREFIX.length + 1))) throw new Error(`not an archive location: ${location}`);
        const body = await backend.read(key);
        return body instanceof Blob ? body.stream() : body;
      },
    };
  }
  return {
    kind: "local",
    tmpDir,
    async publish(name, localPath) {
      if (!NAME.test(name)) throw new Error(`bad archive name ${name}`);
      await fsync(localPath, "r+");
      await rename(localPath, join(dir, name));
      await fsync(dir, "r");
      return `local:${name}`;
    },
    async open(location) {
      const name = location.replace(/^local:/, "");
      // Only names this store writes: a location never reaches outside the archive directory.
      if (!location.startsWith("local:") || !NAME.test(name)) throw new Error(`not an archive location: ${location}`);
      return Bun.file(join(dir, name)).stream();
    },
  };
}

async function fsync(path: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export const discard = (path: string) => unlink(path).catch(() => {});
