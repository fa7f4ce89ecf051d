// Reads a backup archive in one streaming pass: every entry is checked for a safe path and a plain
// type, written where the caller's `place` says (a staging directory, never the live data dir) or
// kept in memory, and hashed on the way; at the end the manifest must list exactly the entries
// seen, with the same sizes, modes and sha256. Until `readArchive` returns, nothing it wrote may be
// trusted: the caller stages, and removes its staging when this throws.
import { createReadStream } from "node:fs";
import { mkdir, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { ArchiveError } from "./errors.ts";
import { isSafeEntryPath, MANIFEST_NAME, manifestSchema, type Manifest } from "./manifest.ts";
import type { Progress } from "./progress.ts";

/** Where an entry goes: an absolute path in staging, or memory (small files: config, secrets). */
export type Placement = { to: "disk"; path: string } | { to: "memory" };

export interface ReadResult {
  manifest: Manifest;
  /** Entries placed in memory, by archive path. */
  memory: Map<string, Buffer>;
}

const MEMORY_LIMIT = 16 * 1024 * 1024;

export async function readArchive(
  file: string,
  place: (path: string, kind: "file" | "dir") => Promise<Placement>,
  progress: Progress,
  /** Called as soon as an entry placed in memory has been read (before it is verified). */
  kept: (path: string, data: Buffer) => void = () => {},
): Promise<ReadResult> {
  const size = (await stat(file)).size;
  progress.expect(size);
  const gzipped = await startsWithGzipMagic(file);
  const counted = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      progress.advance(chunk.length);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const source = createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(counted);
  const input = gzipped ? source.pipe(createGunzip()) : source;
  // Errors of the upstream pipes do not reach the extractor by themselves.
  const fail = (err: Error) => extract.destroy(err);
  source.on("error", fail);
  counted.on("error", fail);
  input.on("error", fail);
  input.pipe(extract);

  const seenFiles = new Map<string, { size: number; mode: number; sha256: string }>();
  const seenDirs = new Map<string, number>();
  const memory = new Map<string, Buffer>();
  let manifestText: string | null = null;
  const entries = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await parsing(entries.next());
      if (next.done) break;
      const entry = next.value;
      const h = entry.header;
      const path = (h.name ?? "").replace(/\/+$/, "");
      if (!isSafeEntryPath(path)) throw new ArchiveError(`unexpected entry '${printable(path)}': not a Plinth backup`);
      if (seenFiles.has(path) || seenDirs.has(path)) throw new ArchiveError(`entry ${path} appears twice`);
      const mode = (h.mode ?? 0) & 0o7777;
      if (h.type === "directory") {
        if (path === MANIFEST_NAME) throw new ArchiveError(`${path} is a directory`);
        seenDirs.set(path, mode);
        const where = await place(path, "dir");
        if (where.to === "disk") await mkdir(where.path, { recursive: true, mode: mode || 0o700 });
        for await (const _ of chunksOf(entry)) {
          /* a directory has no content */
        }
        continue;
      }
      if (h.type !== "file") throw new ArchiveError(`entry ${path} is a ${h.type}, not a file or directory`);
      if (path === MANIFEST_NAME) {
        const chunks: Buffer[] = [];
        for await (const chunk of chunksOf(entry)) chunks.push(chunk);
        manifestText = Buffer.concat(chunks).toString("utf8");
        continue;
      }
      const hash = new Bun.CryptoHasher("sha256");
      let bytes = 0;
      const where = await place(path, "file");
      if (where.to === "memory") {
        const chunks: Buffer[] = [];
        for await (const chunk of chunksOf(entry)) {
          bytes += chunk.length;
          if (bytes > MEMORY_LIMIT) throw new ArchiveError(`entry ${path} is larger than expected`);
          hash.update(chunk);
          chunks.push(chunk);
        }
        memory.set(path, Buffer.concat(chunks));
        kept(path, memory.get(path)!);
      } else {
        await mkdir(dirname(where.path), { recursive: true, mode: 0o700 });
        const fh = await open(where.path, "wx", mode || 0o600);
        try {
          for await (const chunk of chunksOf(entry)) {
            bytes += chunk.length;
            hash.update(chunk);
            for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off)).bytesWritten;
          }
        } finally {
          await fh.close();
        }
      }
      seenFiles.set(path, { size: bytes, mode, sha256: hash.digest("hex") });
    }
  } finally {
    await entries.return?.().catch(() => {});
    source.destroy();
  }
  if (manifestText === null) throw new ArchiveError("the archive has no manifest (truncated, or not a Plinth backup)");
  const manifest = parseManifest(manifestText);
  verify(manifest, seenFiles, seenDirs);
  return { manifest, memory };
}

/** Errors of the tar and gzip parsers mean the bytes are not a well-formed archive. */
async function parsing<T>(step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`cannot read the archive (damaged, truncated or not a Plinth backup): ${(err as Error).message}`);
  }
}

/** An entry's content (tar-stream yields Buffers), with parser errors as ArchiveError. */
async function* chunksOf(entry: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  const it = entry[Symbol.asyncIterator]();
  for (;;) {
    const r = await parsing(it.next());
    if (r.done) return;
    yield r.value as Buffer;
  }
}

function parseManifest(text: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ArchiveError("the manifest is not valid JSON (damaged archive)");
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const version = (json as { version?: unknown } | null)?.version;
    if ((json as { format?: unknown } | null)?.format === "plinth-backup" && version !== undefined && version !== 1) {
      throw new ArchiveError(`the archive has format version ${String(version)}; this Plinth reads version 1`);
    }
    throw new ArchiveError("the manifest does not describe a Plinth backup (damaged archive)");
  }
  return parsed.data;
}

/** Every entry seen is in the manifest and matches it, and every manifest entry was seen. */
function verify(m: Manifest, files: Map<string, { size: number; mode: number; sha256: string }>, dirs: Map<string, number>): void {
  const listed = new Set<string>();
  for (const f of m.files) {
    listed.add(f.path);
    const seen = files.get(f.path);
    if (!seen) throw new ArchiveError(`${f.path} is listed in the manifest but missing from the archive`);
    if (seen.size !== f.size || seen.sha256 !== f.sha256) throw new ArchiveError(`${f.path} does not match its checksum (damaged archive)`);
    if (seen.mode !== f.mode) throw new ArchiveError(`${f.path} has mode ${seen.mode.toString(8)}, the manifest says ${f.mode.toString(8)}`);
  }
  for (const path of files.keys()) if (!listed.has(path)) throw new ArchiveError(`${path} is in the archive but not in its manifest`);
  const listedDirs = new Map(m.dirs.map((d) => [d.path, d.mode]));
  for (const [path, mode] of listedDirs) {
    if (!dirs.has(path)) throw new ArchiveError(`directory ${path} is listed in the manifest but missing from the archive`);
    if (dirs.get(path) !== mode) throw new ArchiveError(`directory ${path} has another mode than the manifest says`);
  }
  for (const path of dirs.keys()) if (!listedDirs.has(path)) throw new ArchiveError(`directory ${path} is in the archive but not in its manifest`);
}

async function startsWithGzipMagic(file: string): Promise<boolean> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

function printable(s: string): string {
  return JSON.stringify(s.slice(0, 200)).slice(1, -1);
}
