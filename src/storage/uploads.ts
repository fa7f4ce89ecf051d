// Writing objects. The order is what makes uploads crash-safe and concurrency-safe:
//   1. checks that need no bytes (names, bucket, MIME type, declared size, and — for large or
//      unsized bodies — a rolled-back trial insert so RLS refuses before any byte is stored);
//   2. the bytes stream to the backend under a fresh version key (temp file + fsync + rename),
//      metered against the size limit and hashed (MD5 → ETag) on the way;
//   3. one short transaction as the caller inserts or updates the row (RLS decides again);
//      if it fails the new bytes are deleted;
//   4. after commit, bytes of the replaced version are deleted unless a row (history) keeps them.
// No transaction is open while bytes stream. A crash between 2 and 3 leaves bytes without a row,
// which the sweeper removes; a row never points at missing or partial bytes.
import { randomUUID } from "node:crypto";
import type { Principal } from "../db/pool.ts";
import { versionKey } from "./backends/backend.ts";
import { asCaller, ownerUuid, releaseVersions, type StorageContext } from "./context.ts";
import * as q from "./db.ts";
import { errors } from "./errors.ts";
import { mimeAllowed, mustBeValidBucketName, mustBeValidKey } from "./names.ts";
import { afterUpload } from "./plugin-events.ts";

export interface ObjectWrite {
  /** Whose rights decide (RLS). An upload through a signed URL runs as whoever signed it. */
  principal: Principal;
  owner: string | null;
  bucket: string;
  name: string;
  /** create: fail with 409 if the name exists; upsert: replace it. */
  mode: "create" | "upsert";
  contentType: string;
  cacheControl: string;
  userMetadata: Record<string, unknown> | null;
  /** Content-Length of the object when known up front (raw bodies, TUS). */
  declaredSize?: number;
}

export interface WriteTarget {
  bucket: q.BucketRow;
  limit: number;
}

/** Step 1: everything that can refuse an upload before its bytes are read. */
export async function prepareWrite(ctx: StorageContext, w: ObjectWrite): Promise<WriteTarget> {
  mustBeValidBucketName(w.bucket);
  mustBeValidKey(w.name);
  // Limits and allowed types are read as the server (users rarely may read storage.buckets).
  const bucket = await q.findBucket(ctx.db.sql, w.bucket);
  if (!bucket) throw errors.noSuchBucket();
  if (!mimeAllowed(w.contentType, bucket.allowed_mime_types)) throw errors.invalidMimeType(w.contentType);
  const limit = Math.min(ctx.globalFileSizeLimit, bucket.file_size_limit ?? Number.POSITIVE_INFINITY);
  if (w.declaredSize !== undefined && w.declaredSize > limit) throw errors.entityTooLarge();
  const small = w.declaredSize !== undefined && w.declaredSize <= 256 * 1024;
  if (w.principal.role !== "service_role" && !small) await trialWrite(ctx, w);
  return { bucket, limit };
}

/**
 * The policy check alone, for signing an upload URL: the type and size of the upload are not known
 * yet, so nothing else can be judged, and this must run whatever they will be. The service role
 * bypasses RLS, so only the bucket must exist.
 */
export async function checkWriteAccess(ctx: StorageContext, w: ObjectWrite): Promise<void> {
  mustBeValidBucketName(w.bucket);
  mustBeValidKey(w.name);
  if (!(await q.findBucket(ctx.db.sql, w.bucket))) throw errors.noSuchBucket();
  if (w.principal.role !== "service_role") await trialWrite(ctx, w);
}

class Rollback extends Error {}

/** Runs the row write the upload will do, then rolls it back: a policy refusal costs no bytes. */
async function trialWrite(ctx: StorageContext, w: ObjectWrite): Promise<void> {
  try {
    await asCaller(ctx, w.principal, async (tx) => {
      const row = rowFor(w, randomUUID(), { size: w.declaredSize ?? 0, md5: "" });
      if (w.mode === "create") {
        if (await q.findObject(tx, w.bucket, w.name)) throw errors.alreadyExists();
        await q.insertObject(tx, row);
      } else {
        await q.upsertObject(tx, row);
      }
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
}

/** Steps 2–4 for a streamed body. */
export async function writeObject(
  ctx: StorageContext,
  w: ObjectWrite,
  target: WriteTarget,
  body: AsyncIterable<Uint8Array>,
): Promise<{ id: string; version: string }> {
  const version = randomUUID();
  const key = versionKey(version);
  const meter = { size: 0, hasher: new Bun.CryptoHasher("md5") };
  await ctx.backend.write(key, metered(body, target.limit, meter), w.contentType);
  return commitRow(ctx, w, version, { size: meter.size, md5: meter.hasher.digest("hex") });
}

/** Step 3–4: the row, once the bytes of `version` are in place. */
export async function commitRow(
  ctx: StorageContext,
  w: ObjectWrite,
  version: string,
  bytes: { size: number; md5: string },
): Promise<{ id: string; version: string }> {
  const row = rowFor(w, version, bytes);
  const id = await recordVersion(ctx, w.principal, version, row, w.mode === "create");
  return { id, version };
}

/**
 * Writes the row for bytes already stored under `version`, as the caller, so policies decide. When
 * the row is refused the bytes go too (no bytes without a row); once it is in, the version it
 * replaced (if any) is released.
 */
export async function recordVersion(ctx: StorageContext, principal: Principal, version: string, row: q.ObjectInput, createOnly: boolean): Promise<string> {
  let replaced: string | null = null;
  let id: string;
  try {
    id = await asCaller(ctx, principal, async (tx) => {
      if (createOnly) return q.insertObject(tx, row);
      const r = await q.replaceObject(tx, row);
      replaced = r.replaced;
      return r.id;
    });
  } catch (err) {
    await ctx.backend.delete([versionKey(version)]).catch(() => {});
    throw err;
  }
  await releaseVersions(ctx, [replaced]);
  afterUpload(ctx, principal, row, id, replaced !== null);
  return id;
}

function rowFor(w: ObjectWrite, version: string, bytes: { size: number; md5: string }): q.ObjectInput {
  return {
    bucket_id: w.bucket,
    name: w.name,
    owner: ownerUuid(w.owner),
    owner_id: w.owner,
    version,
    metadata: {
      eTag: `"${bytes.md5}"`,
      size: bytes.size,
      mimetype: w.contentType,
      cacheControl: w.cacheControl,
      lastModified: new Date().toISOString(),
      contentLength: bytes.size,
      httpStatusCode: 200,
    },
    user_metadata: w.userMetadata,
  };
}

/** Counts, limits and hashes bytes as they pass; throws EntityTooLarge the moment the limit is crossed. */
export async function* metered(body: AsyncIterable<Uint8Array>, limit: number, meter: { size: number; hasher: Bun.CryptoHasher }): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    meter.size += chunk.byteLength;
    if (meter.size > limit) throw errors.entityTooLarge();
    meter.hasher.update(chunk);
    yield chunk;
  }
}

/** `cache-control: max-age=3600` or a bare "3600" (multipart field) → "max-age=3600". */
export function cacheControlOf(value: string | null | undefined): string {
  if (!value) return "max-age=3600";
  return /^\d+$/.test(value.trim()) ? `max-age=${value.trim()}` : value.trim();
}

/** User metadata: a JSON object (multipart `metadata` field, or base64 JSON in x-metadata). */
export function parseUserMetadata(json: string | null | undefined, base64 = false): Record<string, unknown> | null {
  if (!json) return null;
  let value: unknown;
  try {
    value = JSON.parse(base64 ? Buffer.from(json, "base64").toString("utf8") : json);
  } catch {
    throw errors.invalidParameter("metadata", "Invalid metadata: not JSON");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw errors.invalidParameter("metadata", "Invalid metadata: not an object");
  return value as Record<string, unknown>;
}
