// The one small interface object bytes go through. Keys are opaque, derived from an object's version
// (never from its user-chosen name), so a backend never sees user paths; safe-path.ts still guards
// the filesystem mapping.

import type { ByteRange } from "../../lib/http-range.ts";

export type { ByteRange } from "../../lib/http-range.ts";

export interface StoredKey {
  key: string;
  modified: Date;
}

export interface StorageBackend {
  readonly kind: "local" | "s3";
  /** Where resumable (TUS) uploads are assembled before commit: always a local directory. */
  readonly stagingDir: string;
  /**
   * Stores the whole body at `key`. Atomic: nothing is visible at `key` until every byte is durable
   * (temporary file + fsync + rename, or an S3 upload that only completes at the end). If the body
   * throws (client gone, limit exceeded), nothing is left behind and the error propagates.
   */
  write(key: string, body: AsyncIterable<Uint8Array>, contentType: string): Promise<void>;
  /** Moves a complete local file (from stagingDir) to `key`, atomically as `write`. */
  commitFile(key: string, localPath: string, contentType: string): Promise<void>;
  /** A response body for the bytes at `key` (a Blob lets Bun use sendfile). Throws NotFound. */
  read(key: string, range?: ByteRange): Promise<Blob | ReadableStream<Uint8Array>>;
  /**
   * The file holding the bytes at `key`, when the backend keeps them on the local disk (image
   * transformations hand libvips a path, which it reads as it decodes instead of from memory).
   * Throws NotFound. Absent for remote backends.
   */
  localPath?(key: string): Promise<string>;
  copy(fromKey: string, toKey: string, contentType: string): Promise<void>;
  /** Deletes keys; missing keys are not an error. */
  delete(keys: string[]): Promise<void>;
  /** Every stored object key (not temporary files), with its modification time: for the sweeper. */
  list(): AsyncIterable<StoredKey>;
  /** Removes abandoned temporary files older than `before`; returns how many. */
  sweepTemporary(before: Date): Promise<number>;
}

export class BytesNotFound extends Error {
  constructor(key: string) {
    super(`no bytes at ${key}`);
    this.name = "BytesNotFound";
  }
}

/** The backend key of an object version (versions are UUIDs; two hex characters fan out directories). */
export function versionKey(version: string): string {
  return `objects/${version.slice(0, 2)}/${version}`;
}

const VERSION_KEY = /^objects\/[0-9a-f]{2}\/([0-9a-f-]{36})$/;

/** The version a backend key holds, or null for keys Plinth did not write. */
export function versionOfKey(key: string): string | null {
  return VERSION_KEY.exec(key)?.[1] ?? null;
}
