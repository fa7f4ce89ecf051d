// Reading, listing, removing, moving, copying and signing objects, and their version history.
// Rows are read as the caller (RLS decides); bytes are read after the transaction has ended.
import { randomUUID } from "node:crypto";
import type { Principal } from "../db/pool.ts";
import { BytesNotFound, versionKey, type ByteRange } from "./backends/backend.ts";
import { asCaller, ownerOf, ownerUuid, releaseVersions, requireCaller, SERVICE_ROLE, type StorageContext } from "./context.ts";
import * as q from "./db.ts";
import { errors } from "./errors.ts";
import { mustBeValidBucketName, mustBeValidKey } from "./names.ts";
import { signDownload, signUpload, verifyDownload, verifyDownloadGrant } from "./signing.ts";
import { isEmptyTransform, parseTransform, toTokenString } from "./image/options.ts";
import { checkWriteAccess, recordVersion } from "./uploads.ts";
import { beforeDelete } from "./plugin-events.ts";

// ---- reading -------------------------------------------------------------------------------------

/** The row of one object (or of one of its versions), as whoever `access` says. */
export type Access =
  | { kind: "caller"; principal: Principal | null }
  | { kind: "public" }
  /** `render`: the token is presented to /render/image/sign, where a transform-only token is valid. */
  | { kind: "signed"; token: string | null; render?: boolean };

export interface Found {
  row: Pick<q.ObjectRow, "id" | "bucket_id" | "name" | "version" | "metadata" | "user_metadata" | "created_at" | "owner_id"> & {
    updated_at: Date;
  };
  isCurrent: boolean;
}

export async function findForRead(ctx: StorageContext, access: Access, bucket: string, name: string, versionId?: string | null): Promise<Found> {
  mustBeValidBucketName(bucket);
  mustBeValidKey(name);
  let principal: Principal;
  if (access.kind === "caller") {
    principal = requireCaller(access.principal);
  } else if (access.kind === "public") {
    const b = await q.findBucket(ctx.db.sql, bucket);
    if (!b || !b.public) throw errors.noSuchBucket();
    principal = SERVICE_ROLE;
  } else {
    // The token decides the version: a ?versionId= it does not name is refused, not served.
    versionId = access.render
      ? (await verifyDownloadGrant(ctx.secret, access.token, bucket, name, versionId ?? null)).version
      : await verifyDownload(ctx.secret, access.token, bucket, name, versionId ?? null);
    principal = SERVICE_ROLE;
  }
  return asCaller(ctx, principal, async (tx) => {
    const current = await q.findObject(tx, bucket, name);
    if (!versionId || current?.version === versionId) {
      if (!current) throw errors.noSuchKey();
      return { row: current, isCurrent: true };
    }
    const old = await q.findVersion(tx, bucket, name, versionId);
    if (!old) throw errors.noSuchKey();
    return { row: { ...old, updated_at: old.archived_at }, isCurrent: false };
  });
}

export async function readBytes(ctx: StorageContext, version: string, range?: ByteRange): Promise<Blob | ReadableStream<Uint8Array>> {
  try {
    return await ctx.backend.read(versionKey(version), range);
  } catch (err) {
    if (err instanceof BytesNotFound) throw errors.noSuchKey();
    throw err;
  }
}

/**
 * GET /object/info: storage-js camelises this into FileObjectV2. Exactly Supabase's fields: there is
 * no updated_at (last_modified replaces it, and storage-js's tests assert updatedAt is absent).
 */
export function objectInfo(found: Found) {
  const r = found.row;
  const m = r.metadata;
  return {
    id: r.id,
    name: r.name,
    version: r.version,
    bucket_id: r.bucket_id,
    size: m.size ?? null,
    content_type: m.mimetype ?? null,
    cache_control: m.cacheControl ?? null,
    etag: m.eTag ?? null,
    metadata: r.user_metadata ?? {},
    last_modified: m.lastModified ?? null,
    created_at: r.created_at,
  };
}

// ---- listing -------------------------------------------------------------------------------------

const LIST_COLUMNS = ["name", "updated_at", "created_at", "last_accessed_at"] as const;

export interface ListBody {
  prefix?: unknown;
  limit?: unknown;
  offset?: unknown;
  search?: unknown;
  sortBy?: { column?: unknown; order?: unknown } | null;
}

export async function listObjects(ctx: StorageContext, principal: Principal | null, bucket: string, body: ListBody): Promise<q.ListEntry[]> {
  const caller = requireCaller(principal);
  mustBeValidBucketName(bucket);
  let prefix = typeof body.prefix === "string" ? body.prefix : "";
  // storage-js sends the folder without its trailing slash.
  if (prefix.length > 0 && !prefix.endsWith("/")) prefix += "/";
  const column = (LIST_COLUMNS as readonly unknown[]).includes(body.sortBy?.column) ? (body.sortBy!.column as (typeof LIST_COLUMNS)[number]) : "name";
  const order = String(body.sortBy?.order ?? "asc").toLowerCase() === "desc" ? "desc" : "asc";
  return asCaller(ctx, caller, (tx) =>
    q.listLevel(tx, bucket, {
      prefix,
      search: typeof body.search === "string" ? body.search : "",
      limit: clampInt(body.limit, 100, 1, 1000),
      offset: clampInt(body.offset, 0, 0, Number.MAX_SAFE_INTEGER),
      column,
      order,
    }),
  );
}

export interface ListV2Body {
  prefix?: unknown;
  limit?: unknown;
  cursor?: unknown;
  with_delimiter?: unknown;
  sortBy?: { column?: unknown; order?: unknown } | null;
}

const LIST_V2_COLUMNS: readonly q.ListV2Column[] = ["name", "updated_at", "created_at"];

/** What a list-v2 cursor carries: the sort it belongs to and the position of the last entry sent. */
interface ListV2Cursor {
  column: q.ListV2Column;
  order: "asc" | "desc";
  after: q.ListPosition;
}

// Opaque to clients: base64url JSON {c: column, o: order, v: sort value (not for name), n: name}.
function encodeListCursor(c: ListV2Cursor): string {
  const json = c.column === "name" ? { c: c.column, o: c.order, n: c.after.name } : { c: c.column, o: c.order, v: c.after.value, n: c.after.name };
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

function decodeListCursor(cursor: string): ListV2Cursor {
  let j: { c?: unknown; o?: unknown; v?: unknown; n?: unknown };
  try {
    j = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw errors.invalidParameter("cursor");
  }
  if (!j || typeof j !== "object" || typeof j.n !== "string" || (j.o !== "asc" && j.o !== "desc")) throw errors.invalidParameter("cursor");
  const column = LIST_V2_COLUMNS.find((c) => c === j.c);
  if (!column) throw errors.invalidParameter("cursor");
  if (column === "name") return { column, order: j.o, after: { value: j.n, name: j.n } };
  if (typeof j.v !== "string" || !/^(-infinity|\d{4,}-\d\d-\d\d[ T][\d:.]+([+-][\d:]+|Z)?)$/.test(j.v)) throw errors.invalidParameter("cursor");
  return { column, order: j.o, after: { value: j.v, name: j.n } };
}

type ListV2Object = Omit<q.ObjectRow, "owner" | "owner_id" | "version" | "user_metadata"> & { key: string };

/**
 * list-v2: full names sorted by name, updated_at or created_at (asc or desc), keyset paging with an
 * opaque cursor holding the last (sort value, name) sent, optional folder roll-up. A cursor keeps
 * the sort it was made for, so following it continues the same listing.
 */
export async function listObjectsV2(ctx: StorageContext, principal: Principal | null, bucket: string, body: ListV2Body) {
  const caller = requireCaller(principal);
  mustBeValidBucketName(bucket);
  const prefix = typeof body.prefix === "string" ? body.prefix : "";
  const limit = clampInt(body.limit, 1000, 1, 1000);
  let column: q.ListV2Column = LIST_V2_COLUMNS.find((c) => c === body.sortBy?.column) ?? "name";
  let order: "asc" | "desc" = String(body.sortBy?.order ?? "asc").toLowerCase() === "desc" ? "desc" : "asc";
  let after: q.ListPosition | null = null;
  if (typeof body.cursor === "string" && body.cursor) {
    const c = decodeListCursor(body.cursor);
    ({ column, order, after } = c);
  }
  const delimited = body.with_delimiter === true;
  const folders: { name: string; key: string }[] = [];
  const objects: ListV2Object[] = [];
  const toObject = (r: Omit<q.ListV2Row, "owner" | "owner_id" | "version" | "user_metadata">): ListV2Object => ({
    id: r.id,
    bucket_id: r.bucket_id,
    name: r.name,
    key: r.name,
    metadata: r.metadata,
    created_at: r.created_at,
    updated_at: r.updated_at,
    last_accessed_at: r.last_accessed_at,
  });
  // A folder's key is its full path without the trailing slash ("testpath/" has key "testpath").
  const addFolder = (name: string) => folders.push({ name, key: name.slice(0, -1) });
  let hasNext = false;
  await asCaller(ctx, caller, async (tx) => {
    if (delimited && column !== "name") {
      // Folders sort among the objects by a timestamp: the level is aggregated in SQL.
      const rows = await q.listLevelAfter(tx, bucket, { prefix, column, order, after, limit: limit + 1 });
      hasNext = rows.length > limit;
      for (const r of rows.slice(0, limit)) {
        if (r.id === null) addFolder(r.name);
        else
          objects.push(
            toObject({ ...r, id: r.id, metadata: r.metadata!, created_at: r.created_at!, updated_at: r.updated_at!, last_accessed_at: r.last_accessed_at! }),
          );
        after = { value: r.sort_key, name: r.name };
      }
      return;
    }
    for (;;) {
      const rows = await q.listAfter(tx, bucket, { prefix, column, order, after, limit: limit + 1 });
      let seeked = false;
      for (const r of rows) {
        if (folders.length + objects.length >= limit) {
          hasNext = true;
          return;
        }
        const rest = r.name.slice(prefix.length);
        const slash = rest.indexOf("/");
        if (delimited && slash >= 0) {
          // Sorting by name here. A folder stands for many rows: seek past all of them instead of
          // reading them. In C order every name under "a/" sorts below "a/" + U+10FFFF (asc) and
          // above "a/" (desc).
          const folder = prefix + rest.slice(0, slash + 1);
          addFolder(folder);
          const seek = order === "asc" ? folder + "\u{10FFFF}" : folder;
          after = { value: seek, name: seek };
          seeked = true;
          break;
        }
        objects.push(toObject(r));
        after = { value: r.sort_key, name: r.name };
      }
      if (!seeked) return;
    }
  });
  const nextCursor = hasNext && after !== null ? encodeListCursor({ column, order, after }) : undefined;
  return { hasNext, folders, objects, ...(nextCursor ? { nextCursor } : {}) };
}

export interface SearchBody {
  prefix?: unknown;
  contains?: unknown;
  metadata?: unknown;
  limit?: unknown;
  offset?: unknown;
}

/** Plinth's search (POST /object/search/{bucket}): full names by prefix, substring and user metadata. */
export async function searchObjects(ctx: StorageContext, principal: Principal | null, bucket: string, body: SearchBody) {
  const caller = requireCaller(principal);
  mustBeValidBucketName(bucket);
  if (body.metadata !== undefined && (typeof body.metadata !== "object" || body.metadata === null || Array.isArray(body.metadata))) {
    throw errors.invalidParameter("metadata", "metadata must be an object to match");
  }
  const rows = await asCaller(ctx, caller, (tx) =>
    q.searchObjects(tx, bucket, {
      prefix: typeof body.prefix === "string" ? body.prefix : undefined,
      contains: typeof body.contains === "string" ? body.contains : undefined,
      metadata: body.metadata as Record<string, unknown> | undefined,
      limit: clampInt(body.limit, 100, 1, 1000),
      offset: clampInt(body.offset, 0, 0, Number.MAX_SAFE_INTEGER),
    }),
  );
  return rows.map(({ owner: _o, version: _v, ...rest }) => rest);
}

// ---- removing --------------------------------------------------------------------------------------

/** DELETE /object/{bucket} {prefixes}: entries are names or {path, versionId} (a version of history). */
export async function removeObjects(ctx: StorageContext, principal: Principal | null, bucket: string, prefixes: unknown): Promise<unknown[]> {
  const caller = requireCaller(principal);
  mustBeValidBucketName(bucket);
  if (!Array.isArray(prefixes) || prefixes.length === 0) throw errors.invalidParameter("prefixes");
  if (prefixes.length > 1000) throw errors.invalidRequest("Bulk object requests are limited to 1000 objects per request.");
  const names: string[] = [];
  const versions: { path: string; versionId: string }[] = [];
  for (const p of prefixes) {
    if (typeof p === "string") names.push(p);
    else if (p && typeof p === "object" && typeof p.path === "string" && typeof p.versionId === "string") versions.push(p);
    else throw errors.invalidParameter("prefixes");
  }
  await beforeDelete(ctx, caller, bucket, names, versions);
  const { deleted, gone } = await asCaller(ctx, caller, async (tx) => {
    const deleted = names.length ? await q.deleteObjects(tx, bucket, names) : [];
    const gone: string[] = [];
    for (const v of versions) {
      const current = await q.findObject(tx, bucket, v.path);
      if (current?.version === v.versionId) {
        deleted.push(...(await q.deleteObjects(tx, bucket, [v.path])));
      } else {
        gone.push(...(await q.deleteVersions(tx, bucket, v.path, [v.versionId])));
      }
    }
    return { deleted, gone };
  });
  await releaseVersions(ctx, [...deleted.map((r) => r.version), ...gone]);
  return deleted.map(({ version: _v, ...rest }) => rest);
}

// ---- move and copy -----------------------------------------------------------------------------------

export interface TransferBody {
  bucketId?: unknown;
  sourceKey?: unknown;
  destinationKey?: unknown;
  destinationBucket?: unknown;
  sourceVersionId?: unknown;
  copyMetadata?: unknown;
  metadata?: unknown;
}

function transferArgs(body: TransferBody) {
  const from = body.bucketId;
  const to = body.destinationBucket ?? body.bucketId;
  mustBeValidBucketName(from);
  mustBeValidBucketName(to);
  if (typeof body.sourceKey !== "string") throw errors.missingParameter("sourceKey");
  if (typeof body.destinationKey !== "string") throw errors.missingParameter("destinationKey");
  mustBeValidKey(body.sourceKey);
  mustBeValidKey(body.destinationKey);
  const versionId = typeof body.sourceVersionId === "string" && body.sourceVersionId ? body.sourceVersionId : null;
  return { from, to, source: body.sourceKey, dest: body.destinationKey, versionId };
}

/**
 * Moves the row (bytes are keyed by version, so nothing is copied). As on Supabase the caller
 * needs the right to read and update the source and to own the destination; the destination
 * must not exist.
 */
export async function moveObject(ctx: StorageContext, principal: Principal | null, body: TransferBody): Promise<{ message: string }> {
  const caller = requireCaller(principal);
  const a = transferArgs(body);
  if (a.versionId) {
    // Moving a version out of history is a copy of it followed by removing that version.
    await copyObject(ctx, principal, body);
    await asCaller(ctx, caller, (tx) => q.deleteVersions(tx, a.from, a.source, [a.versionId!]));
    return { message: "Successfully moved" };
  }
  if (!(await q.findBucket(ctx.db.sql, a.to))) throw errors.noSuchBucket();
  await asCaller(ctx, caller, async (tx) => {
    const src = await q.findObject(tx, a.from, a.source, true);
    if (!src) throw errors.noSuchKey();
    if (a.from === a.to && a.source === a.dest) return;
    if (await q.findObject(tx, a.to, a.dest)) throw errors.alreadyExists();
    const moved = await q.renameObject(tx, a.from, a.source, a.to, a.dest, ownerOf(caller) ?? src.owner_id);
    if (!moved) throw errors.noSuchKey();
  });
  return { message: "Successfully moved" };
}

/** Copies bytes to a new version under the destination name (upsert when x-upsert: true). */
export async function copyObject(ctx: StorageContext, principal: Principal | null, body: TransferBody, upsert = false): Promise<{ Id: string; Key: string }> {
  const caller = requireCaller(principal);
  const a = transferArgs(body);
  const src = await findForRead(ctx, { kind: "caller", principal: caller }, a.from, a.source, a.versionId);
  const destBucket = await q.findBucket(ctx.db.sql, a.to);
  if (!destBucket) throw errors.noSuchBucket();
  const version = randomUUID();
  const copyMeta = body.copyMetadata !== false;
  const metadata = { ...src.row.metadata, lastModified: new Date().toISOString() };
  if (!copyMeta && body.metadata && typeof body.metadata === "object") {
    const m = body.metadata as { cacheControl?: unknown; mimetype?: unknown };
    if (typeof m.cacheControl === "string") metadata.cacheControl = m.cacheControl;
    if (typeof m.mimetype === "string") metadata.mimetype = m.mimetype;
  }
  try {
    await ctx.backend.copy(versionKey(src.row.version), versionKey(version), metadata.mimetype);
  } catch (err) {
    if (err instanceof BytesNotFound) throw errors.noSuchKey();
    throw err;
  }
  const owner = ownerOf(caller);
  const row: q.ObjectInput = {
    bucket_id: a.to,
    name: a.dest,
    owner: ownerUuid(owner),
    owner_id: owner,
    version,
    metadata,
    user_metadata: copyMeta ? src.row.user_metadata : null,
  };
  // Copying an object onto itself (e.g. to rewrite its metadata) replaces it even without upsert.
  const createOnly = !upsert && !(a.from === a.to && a.source === a.dest);
  const id = await recordVersion(ctx, caller, version, row, createOnly);
  return { Id: id, Key: `${a.to}/${a.dest}` };
}

// ---- versions ------------------------------------------------------------------------------------

export async function listVersions(ctx: StorageContext, principal: Principal | null, bucket: string, name: string) {
  const caller = requireCaller(principal);
  mustBeValidBucketName(bucket);
  mustBeValidKey(name);
  return asCaller(ctx, caller, async (tx) => {
    const current = await q.findObject(tx, bucket, name);
    const history = await q.listVersions(tx, bucket, name);
    const out = history.map((v) => ({
      id: v.id,
      name: v.name,
      version: v.version,
      is_latest: false,
      created_at: v.created_at,
      archived_at: v.archived_at,
      metadata: v.metadata,
      user_metadata: v.user_metadata,
    }));
    if (current) {
      out.unshift({
        id: current.id,
        name: current.name,
        version: current.version,
        is_latest: true,
        created_at: current.updated_at,
        archived_at: null as unknown as Date,
        metadata: current.metadata,
        user_metadata: current.user_metadata,
      });
    }
    if (out.length === 0) throw errors.noSuchKey();
    return out;
  });
}

/** Makes a previous version current again (a copy of it, so history keeps every state). */
export async function restoreVersion(ctx: StorageContext, principal: Principal | null, bucket: string, name: string, versionId: unknown) {
  if (typeof versionId !== "string" || !versionId) throw errors.missingParameter("versionId");
  return copyObject(ctx, principal, { bucketId: bucket, sourceKey: name, destinationKey: name, sourceVersionId: versionId }, true);
}

// ---- signing ---------------------------------------------------------------------------------------

export async function createSignedUrl(
  ctx: StorageContext,
  principal: Principal | null,
  bucket: string,
  name: string,
  body: { expiresIn?: unknown; versionId?: unknown; transform?: unknown },
): Promise<{ signedURL: string }> {
  const expiresIn = positiveInt(body.expiresIn, "expiresIn");
  const versionId = typeof body.versionId === "string" && body.versionId ? body.versionId : undefined;
  if (body.transform !== undefined && body.transform !== null && (typeof body.transform !== "object" || Array.isArray(body.transform))) {
    throw errors.invalidRequest("body/transform must be object");
  }
  // The transform is signed into the token: the holder cannot change it (the query is ignored).
  const transform = ctx.imageTransformation === false ? {} : parseTransform(body.transform as Record<string, unknown> | null | undefined);
  await findForRead(ctx, { kind: "caller", principal }, bucket, name, versionId);
  const transformations = isEmptyTransform(transform) ? undefined : toTokenString(transform);
  const token = await signDownload(ctx.secret, { bucket, name, versionId, transformations }, expiresIn);
  return { signedURL: `/${transformations ? "render/image" : "object"}/sign/${encodePath(bucket, name)}?token=${token}` };
}

export async function createSignedUrls(ctx: StorageContext, principal: Principal | null, bucket: string, body: { expiresIn?: unknown; paths?: unknown }) {
  const caller = requireCaller(principal);
  mustBeValidBucketName(bucket);
  const expiresIn = positiveInt(body.expiresIn, "expiresIn");
  if (!Array.isArray(body.paths) || body.paths.some((p) => typeof p !== "string")) throw errors.invalidParameter("paths");
  const paths = body.paths as string[];
  if (paths.length > 1000) throw errors.invalidRequest("Bulk object requests are limited to 1000 objects per request.");
  const visible = await asCaller(ctx, caller, async (tx) => {
    const rows = await tx<{ name: string }[]>`select name from storage.objects where bucket_id = ${bucket} and name = any(${paths}::text[])`;
    return new Set(rows.map((r) => r.name));
  });
  return Promise.all(
    paths.map(async (path) =>
      visible.has(path)
        ? { path, signedURL: `/object/sign/${encodePath(bucket, path)}?token=${await signDownload(ctx.secret, { bucket, name: path }, expiresIn)}`, error: null }
        : { path, signedURL: null, error: "Either the object does not exist or you do not have access to it" },
    ),
  );
}

/**
 * A signed upload URL: valid for two hours, for this bucket and name and upsert flag only, and
 * carrying the signer, as whom the upload will run (routes/objects.ts). The signer's policies are
 * tried now (a rolled-back insert or upsert) whatever the upload's type will be, and decide again
 * when the bytes arrive.
 */
export async function createSignedUploadUrl(ctx: StorageContext, principal: Principal | null, bucket: string, name: string, upsert: boolean) {
  const caller = requireCaller(principal);
  await checkWriteAccess(ctx, {
    principal: caller,
    owner: ownerOf(caller),
    bucket,
    name,
    mode: upsert ? "upsert" : "create",
    contentType: "application/octet-stream",
    cacheControl: "max-age=3600",
    userMetadata: null,
  });
  const token = await signUpload(ctx.secret, { bucket, name, upsert, signer: { role: caller.role, claims: caller.claims } });
  return { url: `/object/upload/sign/${encodePath(bucket, name)}?token=${token}`, token };
}

export function encodePath(bucket: string, name: string): string {
  return [bucket, ...name.split("/")].map(encodeURIComponent).join("/");
}

function positiveInt(v: unknown, name: string): number {
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 1) throw errors.invalidParameter(name, `${name} must be a positive number of seconds`);
  return Math.floor(n);
}

function clampInt(v: unknown, dflt: number, min: number, max: number): number {
  const n = typeof v === "string" && v !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) return dflt;
  return Math.min(Math.max(Math.floor(n), min), max);
}
