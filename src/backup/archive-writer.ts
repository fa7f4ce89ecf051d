// Writes a backup archive: a tar stream (tar-stream) into `<out>.partial`, renamed over `<out>` only
// once complete, so a failed or interrupted backup never leaves a file that looks like a backup.
// Files are streamed in 1 MiB chunks (never a whole file in memory) and hashed as they go; the
// archive is written on the thread pool while this thread reads and hashes the next chunks.
//
// Live files: the cluster is copied while PostgreSQL writes it. A file is opened first and its size
// taken from the open descriptor; a file that grows meanwhile is cut at that size, one that shrinks
// is padded with zeros — what pg_basebackup does too: WAL replay rewrites every page changed during
// the backup. A file that disappears before it is opened is skipped (a dropped relation).
//
// Cancelling (the admin API's DELETE /admin/v1/backups/current): the signal is checked before every
// entry and after every chunk, and a pacing pause wakes on it, so a cancel lands within one chunk
// even inside a large file; the caller then calls abort(), which removes `<out>.partial`.
// Pacing (maxRate, like pg_basebackup's --max-rate): a backup taken inside the serving process
// shares the disk with the requests it serves; the copy then waits whenever it is ahead of the rate.
import { closeSync, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import { ChunkPool } from "./chunk-pool.ts";
import type { ManifestDir, ManifestFile } from "./manifest.ts";
import type { Progress } from "./progress.ts";

const CHUNK = 1024 * 1024;
const SYNC_EVERY = 64 * CHUNK;

export interface ArchiveWriterOptions {
  out: string;
  gzip: boolean;
  /** fsync the archive (and its directory) before reporting success; pg_basebackup's default too. */
  sync: boolean;
  progress: Progress;
  /** Stops the copy at the next entry or chunk (throws the signal's reason). */
  signal?: AbortSignal;
  /** Bytes of content per second at most (unset: as fast as the disk goes). */
  maxRate?: number;
}

export class ArchiveWriter {
  readonly files: ManifestFile[] = [];
  readonly dirs: ManifestDir[] = [];
  /** Bytes of file content written (not counting tar headers). */
  bytes = 0;
  private readonly pack = tar.pack({ highWaterMark: 4 * CHUNK });
  private readonly names = new Set<string>();
  private failure: Error | null = null;
  private readonly written: Promise<void>;
  /** Reused buffers; none with gzip, where chunks never reach the file as they are (see take()). */
  private readonly pool: ChunkPool | null;
  /** Pacing: when the copy started, and the bytes counted against maxRate since. */
  private readonly pacedFrom = performance.now();
  private paced = 0;
  /**
   * Bytes read per step: a megabyte, or when paced about a quarter second's worth (64 KiB at least),
   * so a slow copy still moves (and reports progress) several times a second.
   */
  private readonly step: number;

  /** Creates `<out>.partial` (0600: the archive holds the data dir's secrets, like they are). */
  static async create(opts: ArchiveWriterOptions): Promise<ArchiveWriter> {
    return new ArchiveWriter(opts, await open(`${opts.out}.partial`, "w", 0o600));
  }

  private constructor(
    private readonly opts: ArchiveWriterOptions,
    private readonly fh: FileHandle,
  ) {
    let source: AsyncIterable<unknown> = this.pack;
    this.pool = opts.gzip ? null : new ChunkPool(CHUNK, 16);
    this.step = opts.maxRate ? Math.min(CHUNK, Math.max(64 * 1024, 2 ** Math.floor(Math.log2(opts.maxRate / 4)))) : CHUNK;
    if (opts.gzip) {
      const gzip = createGzip({ level: 1 });
      pipeline(this.pack, gzip).catch((err: Error) => gzip.destroy(err));
      source = gzip;
    }
    this.written = writeOut(source, fh, this.pool).catch((err: Error) => {
      this.failure ??= err;
      this.pool?.fail(err);
      this.pack.destroy(err);
      throw err;
    });
    this.written.catch(() => {}); // observed in finish()/abort(); never an unhandled rejection
  }

  has(path: string): boolean {
    return this.names.has(path);
  }

  addDir(path: string, mode: number, mtime?: Date): void {
    this.claim(path);
    this.pack.entry({ name: path, type: "directory", mode: mode & 0o7777, mtime: mtime ?? new Date() });
    this.dirs.push({ path, mode: mode & 0o7777 });
  }

  /** Small in-memory content (backup_label, secrets, the manifest). */
  async addBytes(path: string, data: Uint8Array, mode: number, record = true): Promise<void> {
    this.opts.signal?.throwIfAborted();
    this.claim(path);
    const sha256 = new Bun.CryptoHasher("sha256").update(data).digest("hex");
    await new Promise<void>((resolve, reject) => {
      this.pack.entry({ name: path, type: "file", size: data.byteLength, mode: mode & 0o7777, mtime: new Date() }, Buffer.from(data), (err) =>
        err ? reject(err) : resolve(),
      );
    });
    if (record) {
      this.files.push({ path, size: data.byteLength, mode: mode & 0o7777, sha256 });
      this.bytes += data.byteLength;
      this.opts.progress.advance(data.byteLength);
      await this.pace(data.byteLength);
    }
  }

  /** Streams a file from disk; false when it vanished before it could be opened. */
  async addFile(path: string, source: string): Promise<boolean> {
    // Synchronous reads: from the page cache they cost microseconds, where each asynchronous call
    // costs a thread-pool round trip (and a cluster has a thousand small files). Writing stays
    // asynchronous, so the file is written while this thread reads and hashes.
    this.opts.signal?.throwIfAborted();
    let fd: number;
    try {
      fd = openSync(source, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    try {
      const st = fstatSync(fd);
      this.claim(path);
      await this.copy(path, fd, st);
      return true;
    } finally {
      closeSync(fd);
    }
  }

  private async copy(path: string, fd: number, st: Stats): Promise<void> {
    const size = st.size;
    const mode = st.mode & 0o7777;
    const hash = new Bun.CryptoHasher("sha256");
    // Entries queue in the tar stream: no need to wait for this one to be written before the next
    // starts; a failure surfaces through the pipeline (finish() awaits it).
    const entry = this.pack.entry({ name: path, type: "file", size, mode, mtime: st.mtime }, (err) => {
      if (err) this.failure ??= err;
    });
    for (let offset = 0; offset < size; ) {
      const want = Math.min(this.step, size - offset);
      const chunk = await this.take(want);
      let got = 0;
      while (got < want) {
        const n = readSync(fd, chunk, got, want - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      if (got < want) chunk.fill(0, got); // the file shrank: zeros, as pg_basebackup does
      offset += want;
      hash.update(chunk);
      if (!entry.write(chunk)) await this.drained(entry);
      this.opts.progress.advance(want);
      if (this.failure) throw this.failure;
      await this.pace(want);
    }
    entry.end(undefined);
    this.files.push({ path, size, mode, sha256: hash.digest("hex") });
    this.bytes += size;
  }

  /**
   * A buffer for the next chunk: the tar stream keeps a reference until it has been written, so it
   * comes from the pool (given back by writeOut) or, for small files and with gzip, is fresh.
   */
  private take(length: number): Promise<Buffer> | Buffer {
    return this.pool && length === CHUNK ? this.pool.take() : Buffer.allocUnsafe(length);
  }

  /** The entry accepts more, or was destroyed (the caller then finds this.failure set). */
  private drained(entry: ReturnType<tar.Pack["entry"]>): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        entry.off("drain", onDrain);
        entry.off("error", done);
        entry.off("close", onDrain);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      entry.once("drain", onDrain);
      entry.once("close", onDrain);
      entry.once("error", done);
    });
  }

  /** Waits while the copy is ahead of maxRate; checks the signal either way (a cancel lands here). */
  private async pace(bytes: number): Promise<void> {
    const { signal, maxRate } = this.opts;
    if (maxRate) {
      this.paced += bytes;
      const wait = this.pacedFrom + (this.paced / maxRate) * 1000 - performance.now();
      if (wait > 1) await pause(wait, signal);
    }
    signal?.throwIfAborted();
  }

  private claim(path: string): void {
    if (this.names.has(path)) throw new Error(`internal: ${path} added to the archive twice`);
    this.names.add(path);
  }

  /** Ends the tar stream with `manifest` (not itself listed), flushes and renames into place. */
  async finish(manifest: Uint8Array): Promise<number> {
    await this.addBytes("manifest.json", manifest, 0o600, false);
    this.pack.finalize();
    await this.written;
    const size = (await this.fh.stat()).size;
    if (this.opts.sync) await this.fh.sync(); // the archive is complete on disk before it takes its final name…
    await this.fh.close();
    await rename(`${this.opts.out}.partial`, this.opts.out);
    if (this.opts.sync) {
      const dir = await open(dirname(this.opts.out), "r");
      await dir.sync(); // …and the name itself is durable
      await dir.close();
    }
    return size;
  }

  /** Discards the partial archive. */
  async abort(): Promise<void> {
    this.pack.destroy();
    await this.written.catch(() => {});
    await this.fh.close().catch(() => {});
    await rm(`${this.opts.out}.partial`, { force: true });
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it is aborted. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Writes the tar stream to the file. Chunks are gathered to about a megabyte per writev (the tar
 * stream yields each 512-byte header separately), and each write runs on the thread pool while the
 * main thread reads and hashes the next chunk. (Bun's fs.createWriteStream was measured 3–6 times
 * slower than this for a 1 GiB archive.) The data written so far is flushed every SYNC_EVERY bytes
 * in the background, so the disk works during the copy instead of all at the end (measured: the
 * final fsync of a 1 GiB archive alone took 0.8–1.1 s). That pacing runs with --no-sync too, which
 * only skips the final fsync and the directory's: without it the kernel let a gigabyte of dirty
 * pages pile up and then throttled the writer (bench/backup.ts: --no-sync took 2.02 s against 1.59 s
 * with the final fsync, 2026-12-04).
 */
async function writeOut(source: AsyncIterable<unknown>, fh: FileHandle, pool: ChunkPool | null): Promise<void> {
  let batch: Buffer[] = [];
  let size = 0;
  let sinceSync = 0;
  let syncing: Promise<void> | null = null;
  let syncFailure: Error | null = null;
  const flush = async () => {
    if (syncFailure) throw syncFailure;
    const written = batch;
    const pending = [...batch];
    sinceSync += size;
    batch = [];
    size = 0;
    while (pending.length > 0) {
      let { bytesWritten } = await fh.writev(pending);
      // A short write: drop what was written, keep the rest.
      while (pending.length > 0 && bytesWritten >= pending[0]!.length) bytesWritten -= pending.shift()!.length;
      if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
    }
    if (pool) for (const chunk of written) pool.giveBack(chunk);
    if (sinceSync >= SYNC_EVERY && !syncing) {
      sinceSync = 0;
      syncing = fh.datasync().then(
        () => void (syncing = null),
        (err: Error) => void ((syncFailure = err), (syncing = null)),
      );
    }
  };
  try {
    for await (const chunk of source) {
      batch.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= CHUNK) await flush();
    }
    await flush();
  } finally {
    await syncing;
  }
  if (syncFailure) throw syncFailure;
}
