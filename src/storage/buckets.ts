// Bucket operations. Each runs as the caller so policies on storage.buckets decide, as on Supabase;
// the emptiness check and history cleanup run as the server, as Supabase's storage admin does.
import type { Principal } from "../db/pool.ts";
import { asCaller, ownerOf, ownerUuid, releaseVersions, requireCaller, type StorageContext } from "./context.ts";
import * as q from "./db.ts";
import { errors } from "./errors.ts";
import { mustBeValidBucketName, parseFileSizeLimit, validateMimeTypes } from "./names.ts";

export interface BucketBody {
  id?: unknown;
  name?: unknown;
  public?: unknown;
  file_size_limit?: unknown;
  allowed_mime_types?: unknown;
  type?: unknown;
  versioning_status?: unknown;
}

const SORT_COLUMNS = ["id", "name", "created_at", "updated_at"] as const;

/**
 * A bucket as GET /bucket and GET /bucket/{id} answer it: exactly Supabase Storage's columns, so
 * clients that compare shapes strictly (storage-js's snapshot of getBucket) see no strangers.
 * GET /bucket/{id} answers id, name, owner, public, created_at, updated_at, file_size_limit,
 * allowed_mime_types; GET /bucket adds `type` (as Supabase does for current clients). Plinth's own
 * field, `versioning_status` (and `type` on the single bucket), is added only when the request
 * says `X-Plinth-Extras: true`. owner_id stays internal.
 */
export type BucketView = Pick<q.BucketRow, "id" | "name" | "owner" | "public" | "created_at" | "updated_at" | "file_size_limit" | "allowed_mime_types"> &
  Partial<Pick<q.BucketRow, "type" | "versioning_status">>;

export const PLINTH_EXTRAS_HEADER = "x-plinth-extras";

export function bucketView(b: q.BucketRow, shape: { list: boolean; extras: boolean }): BucketView {
  const view: BucketView = {
    id: b.id,
    name: b.name,
    owner: b.owner,
    public: b.public,
    created_at: b.created_at,
    updated_at: b.updated_at,
    file_size_limit: b.file_size_limit,
    allowed_mime_types: b.allowed_mime_types,
  };
  if (shape.list || shape.extras) view.type = b.type;
  if (shape.extras) view.versioning_status = b.versioning_status;
  return view;
}

export async function listBuckets(ctx: StorageContext, principal: Principal | null, query: URLSearchParams, extras = false): Promise<BucketView[]> {
  const caller = requireCaller(principal);
  const sortColumn = (SORT_COLUMNS as readonly string[]).includes(query.get("sortColumn") ?? "")
    ? (query.get("sortColumn") as q.BucketListOptions["sortColumn"])
    : "name";
  const sortOrder = query.get("sortOrder")?.toLowerCase() === "desc" ? "desc" : "asc";
  const limit = intParam(query.get("limit"), "limit");
  const offset = intParam(query.get("offset"), "offset");
  const rows = await asCaller(ctx, caller, (tx) =>
    q.listBuckets(tx, { limit: limit ?? undefined, offset: offset ?? 0, search: query.get("search") ?? undefined, sortColumn, sortOrder }),
  );
  return rows.map((b) => bucketView(b, { list: true, extras }));
}

export async function getBucket(ctx: StorageContext, principal: Principal | null, id: string, extras = false): Promise<BucketView> {
  const caller = requireCaller(principal);
  const bucket = await asCaller(ctx, caller, (tx) => q.findBucket(tx, id));
  if (!bucket) throw errors.noSuchBucket();
  return bucketView(bucket, { list: false, extras });
}

export async function createBucket(ctx: StorageContext, principal: Principal | null, body: BucketBody): Promise<{ name: string }> {
  const caller = requireCaller(principal);
  const id = body.id ?? body.name;
  mustBeValidBucketName(id);
  const name = body.name === undefined ? id : body.name;
  mustBeValidBucketName(name);
  const type = body.type === undefined || body.type === null ? "STANDARD" : body.type;
  if (type !== "STANDARD") throw errors.invalidParameter("type", "Only STANDARD buckets are supported");
  const versioning = body.versioning_status ?? "DISABLED";
  if (versioning !== "DISABLED" && versioning !== "ENABLED") throw errors.invalidParameter("versioning_status");
  const owner = ownerOf(caller);
  await asCaller(ctx, caller, (tx) =>
    q.insertBucket(tx, {
      id,
      name,
      public: bool(body.public, "public") ?? false,
      file_size_limit: parseFileSizeLimit(body.file_size_limit),
      allowed_mime_types: validateMimeTypes(body.allowed_mime_types),
      owner: ownerUuid(owner),
      owner_id: owner,
      type,
      versioning_status: versioning,
    }),
  );
  return { name: id };
}

export async function updateBucket(ctx: StorageContext, principal: Principal | null, id: string, body: BucketBody): Promise<{ message: string }> {
  const caller = requireCaller(principal);
  mustBeValidBucketName(id);
  const versioning = body.versioning_status;
  if (versioning !== undefined && versioning !== null && versioning !== "ENABLED" && versioning !== "SUSPENDED") {
    throw errors.invalidParameter("versioning_status", "versioning_status may only become ENABLED or SUSPENDED");
  }
  const found = await asCaller(ctx, caller, (tx) =>
    q.updateBucket(tx, id, {
      public: bool(body.public, "public"),
      file_size_limit: body.file_size_limit === undefined ? undefined : parseFileSizeLimit(body.file_size_limit),
      allowed_mime_types: body.allowed_mime_types === undefined ? undefined : validateMimeTypes(body.allowed_mime_types),
      versioning_status: typeof versioning === "string" ? versioning : undefined,
    }),
  );
  if (!found) throw errors.noSuchBucket();
  return { message: "Successfully updated" };
}

/** Removes every current object the caller may delete (in batches); their bytes go after commit. */
export async function emptyBucket(ctx: StorageContext, principal: Principal | null, id: string): Promise<{ message: string }> {
  const caller = requireCaller(principal);
  mustBeValidBucketName(id);
  const exists = await asCaller(ctx, caller, (tx) => q.findBucket(tx, id));
  if (!exists) throw errors.noSuchBucket();
  for (;;) {
    const deleted = await asCaller(ctx, caller, (tx) => q.deleteAllObjects(tx, id, 1000));
    if (deleted.length === 0) break;
    // Emptying is not overwriting: what the archive trigger kept of these rows goes too.
    const versions = deleted.map((r) => r.version);
    await ctx.db.sql`delete from storage.object_versions where version = any(${versions}::text[])`;
    await releaseVersions(ctx, versions);
    if (deleted.length < 1000) break;
  }
  // Plinth empties synchronously: the bucket is empty when this answers. The message is Supabase's
  // (whose storage queues the work), word for word, because storage-js's tests snapshot it.
  return { message: "Empty bucket has been queued. Completion may take up to an hour." };
}

export async function deleteBucket(ctx: StorageContext, principal: Principal | null, id: string): Promise<{ message: string }> {
  const caller = requireCaller(principal);
  mustBeValidBucketName(id);
  // Visibility first: the emptiness check below reads as the server, and answering "not empty"
  // for a bucket the caller cannot see would tell them it exists. Invisible answers as GET does.
  if (!(await asCaller(ctx, caller, (tx) => q.findBucket(tx, id)))) throw errors.noSuchBucket();
  if (await q.bucketHasObjects(ctx.db.sql, id)) throw errors.bucketNotEmpty();
  const history = await q.bucketVersionKeys(ctx.db.sql, id);
  const found = await asCaller(ctx, caller, (tx) => q.deleteBucket(tx, id));
  if (!found) throw errors.noSuchBucket();
  // The bucket's version history went with it (on delete cascade); now its bytes.
  await releaseVersions(ctx, history);
  return { message: "Successfully deleted" };
}

function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw errors.invalidParameter(name);
  return v;
}

function intParam(v: string | null, name: string): number | null {
  if (v === null || v === "") return null;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw errors.invalidParameter(name);
  return n;
}
