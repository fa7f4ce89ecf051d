// Object bytes in a local directory:
//   <root>/objects/ab/<version>   complete objects (immutable once renamed into place)
//   <root>/tmp/<uuid>             uploads in progress (same filesystem, so rename is atomic)
//   <root>/uploads/<id>           resumable (TUS) uploads being assembled
import { randomUUID } from "node:crypto";
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BytesNotFound, type ByteRange, type StorageBackend, type StoredKey } from "./backend.ts";
import { resolveUnderRoot } from "./safe-path.ts";

export async function createLocalBackend(root: string): Promise<StorageBackend> {
  const tmpDir = join(root, "tmp");
  const stagingDir = join(root, "uploads");
  // The root first, searchable (0711), because recursive mkdir gives every missing parent the mode
  // it is asked for: a data dir created here as 0700 would be unreachable for the embedded
  // PostgreSQL's OS user (when Plinth runs as root) and force the cluster's relocation.
  await mkdir(root, { recursive: true, mode: 0o711 });
  await mkdir(join(root, "objects"), { recursive: true, mode: 0o700 });
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  const pathOf = (key: string) => resolveUnderRoot(root, key);

  /** Renames a complete, fsynced file into place and makes the rename itself durable. */
  async function publish(tmp: string, key: string): Promise<void> {
    const final = pathOf(key);
    await mkdir(dirname(final), { recursive: true, mode: 0o700 });
    await rename(tmp, final);
    await fsyncDir(dirname(final));
  }

  return {
    kind: "local",
    stagingDir,
    async write(key, body) {
      const tmp = join(tmpDir, randomUUID());
      // Bun's FileSink batches the request's ~64 KiB chunks into 1 MiB writes: about three times
      // faster than one awaited write(2) per chunk, with the same bounded memory.
      const sink = Bun.file(tmp).writer({ highWaterMark: 1024 * 1024 });
      try {
        let sinceGc = 0;
        for await (const chunk of body) {
          const pending = sink.write(chunk);
          if (pending instanceof Promise) await pending;
          // Request chunks are garbage once written; on a long upload they pile up faster than the
          // collector runs on its own. A non-blocking collection hint every 16 MiB keeps the
          // server's memory growth flat whatever the file size.
          sinceGc += chunk.byteLength;
          if (sinceGc >= 16 * 1024 * 1024) {
            sinceGc = 0;
            Bun.gc(false);
          }
        }
        await sink.end();
        await fsyncFile(tmp);
      } catch (err) {
        await Promise.resolve(sink.end()).catch(() => {});
        await unlink(tmp).catch(() => {});
        throw err;
      }
      try {
        await publish(tmp, key);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
    },
    async commitFile(key, localPath) {
      await fsyncFile(localPath);
      await publish(localPath, key);
    },
    async localPath(key) {
      const path = pathOf(key);
      try {
        await stat(path);
      } catch {
        throw new BytesNotFound(key);
      }
      return path;
    },
    async read(key, range?: ByteRange) {
      const path = pathOf(key);
      try {
        await stat(path);
      } catch {
        throw new BytesNotFound(key);
      }
      const file = Bun.file(path);
      return range ? file.slice(range.start, range.end + 1) : file;
    },
    async copy(fromKey, toKey) {
      const from = pathOf(fromKey);
      const tmp = join(tmpDir, randomUUID());
      try {
        await copyFile(from, tmp);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new BytesNotFound(fromKey);
        throw err;
      }
      await fsyncFile(tmp);
      await publish(tmp, toKey);
    },
    async delete(keys) {
      for (const key of keys) await rm(pathOf(key), { force: true });
    },
    async *list(): AsyncIterable<StoredKey> {
      const objects = join(root, "objects");
      for (const fan of await readdir(objects).catch(() => [] as string[])) {
        const dir = join(objects, fan);
        for (const name of await readdir(dir).catch(() => [] as string[])) {
          const st = await stat(join(dir, name)).catch(() => null);
          if (st?.isFile()) yield { key: `objects/${fan}/${name}`, modified: st.mtime };
        }
      }
    },
    async sweepTemporary(before) {
      let removed = 0;
      for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
        const st = await stat(join(tmpDir, name)).catch(() => null);
        if (st && st.mtime < before) {
          await rm(join(tmpDir, name), { force: true });
          removed++;
        }
      }
      return removed;
    },
  };
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
