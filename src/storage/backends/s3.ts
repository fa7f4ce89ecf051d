// Object bytes in an S3-compatible store, through Bun's built-in client. Uploads stream as multipart
// uploads (parts of 8 MiB, two in flight), which S3 only makes visible when completed, so an
// aborted upload leaves nothing at the key. Resumable uploads are assembled in a local staging
// directory and sent on completion.
import { mkdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { BytesNotFound, type ByteRange, type StorageBackend, type StoredKey } from "./backend.ts";

export interface S3BackendOptions {
  endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Local directory for resumable uploads in progress. */
  stagingDir: string;
}

const PART_SIZE = 8 * 1024 * 1024;

export async function createS3Backend(opts: S3BackendOptions): Promise<StorageBackend> {
  await mkdir(dirname(opts.stagingDir), { recursive: true, mode: 0o711 }); // keep the data dir searchable (see local.ts)
  await mkdir(opts.stagingDir, { recursive: true, mode: 0o700 });
  const client = new Bun.S3Client({
    endpoint: opts.endpoint,
    bucket: opts.bucket,
    region: opts.region,
    accessKeyId: opts.accessKeyId,
    secretAccessKey: opts.secretAccessKey,
    virtualHostedStyle: !opts.forcePathStyle,
  });

  async function exists(key: string): Promise<boolean> {
    return client.exists(key);
  }

  return {
    kind: "s3",
    stagingDir: opts.stagingDir,
    async write(key, body, contentType) {
      // A Response over a stream: if the stream errors, Bun aborts the multipart upload (a
      // NetworkSink ended with an error would complete it, publishing a partial object).
      await client.write(key, new Response(toStream(body)), { type: contentType, partSize: PART_SIZE, queueSize: 2, retry: 1 });
    },
    async commitFile(key, localPath, contentType) {
      await client.write(key, Bun.file(localPath), { type: contentType, partSize: PART_SIZE, queueSize: 2 });
      await unlink(localPath).catch(() => {});
    },
    async read(key, range?: ByteRange) {
      if (!(await exists(key))) throw new BytesNotFound(key);
      const file = client.file(key);
      return (range ? file.slice(range.start, range.end + 1) : file).stream();
    },
    async copy(fromKey, toKey, contentType) {
      if (!(await exists(fromKey))) throw new BytesNotFound(fromKey);
      // Bun's client has no CopyObject; stream through (bounded by the upload's part buffers).
      await client.write(toKey, new Response(client.file(fromKey).stream()), { type: contentType, partSize: PART_SIZE, queueSize: 2 });
    },
    async delete(keys) {
      for (const key of keys) await client.delete(key);
    },
    async *list(): AsyncIterable<StoredKey> {
      let continuationToken: string | undefined;
      do {
        const page = await client.list({ prefix: "objects/", continuationToken, maxKeys: 1000 });
        for (const item of page.contents ?? []) {
          yield { key: item.key, modified: item.lastModified ? new Date(item.lastModified) : new Date(0) };
        }
        continuationToken = page.isTruncated ? page.nextContinuationToken : undefined;
      } while (continuationToken);
    },
    async sweepTemporary() {
      // Incomplete multipart uploads are S3's to expire (a bucket lifecycle rule); nothing local.
      return 0;
    },
  };
}

/** A pull-based stream over an async iterable: reads only as fast as the upload consumes. */
function toStream(body: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await it.next();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}
