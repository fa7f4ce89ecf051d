// SQL for storage metadata. Every function takes the connection to run on: a withPrincipal
// transaction (RLS decides) or the server's own pool (for what Supabase also reads as the storage
// admin: bucket limits, public flags, byte references). All values are bind parameters.
import type postgres from "postgres";
import { likePrefix } from "./names.ts";

/** A pooled connection or a transaction: the SQL below runs on either. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- postgres.js's own default
type Sql = postgres.ISql<{}>;

export interface BucketRow {
  id: string;
  name: string;
  owner: string | null;
  owner_id: string | null;
  public: boolean;
  file_size_limit: number | null;
  allowed_mime_types: string[] | null;
  type: string;
  versioning_status: "DISABLED" | "ENABLED" | "SUSPENDED";
  created_at: Date;
  updated_at: Date;
}

export interface ObjectMetadata {
  eTag: string;
  size: number;
  mimetype: string;
  cacheControl: string;
  lastModified: string;
  contentLength: number;
  httpStatusCode: number;
  [key: string]: unknown;
}

/** What a write supplies for an object row; the database fills in the rest. */
export interface ObjectInput {
  bucket_id: string;
  name: string;
  owner: string | null;
  owner_id: string | null;
  version: string;
  metadata: ObjectMetadata;
  user_metadata: Record<string, unknown> | null;
}

export interface ObjectRow extends ObjectInput {
  id: string;
  created_at: Date;
  updated_at: Date;
  last_accessed_at: Date;
}

export interface VersionRow extends Omit<ObjectRow, "last_accessed_at" | "updated_at"> {
  object_id: string;
  archived_at: Date;
}

const BUCKET_COLUMNS = `id, name, owner, owner_id, public, file_size_limit::float8 as file_size_limit,
  allowed_mime_types, type::text as type, versioning_status, created_at, updated_at`;
const OBJECT_COLUMNS = `id, bucket_id, name, owner, owner_id, version, metadata, user_metadata, created_at, updated_at, last_accessed_at`;

// ---- buckets -------------------------------------------------------------------------------------

export interface BucketListOptions {
  limit?: number;
  offset?: number;
  search?: string;
  sortColumn: "id" | "name" | "created_at" | "updated_at";
  sortOrder: "asc" | "desc";
}

export async function listBuckets(sql: Sql, o: BucketListOptions): Promise<BucketRow[]> {
  // Safe: sortColumn and sortOrder are matched against fixed lists by the caller (routes schema).
  return sql<BucketRow[]>`
    select ${sql.unsafe(BUCKET_COLUMNS)} from storage.buckets
    where ${o.search ? sql`name ilike ${"%" + likePrefix(o.search) + "%"}` : sql`true`}
    order by ${sql.unsafe(`${o.sortColumn} ${o.sortOrder}`)}, id
    limit ${o.limit ?? null} offset ${o.offset ?? 0}`;
}

export async function findBucket(sql: Sql, id: string): Promise<BucketRow | null> {
  const rows = await sql<BucketRow[]>`select ${sql.unsafe(BUCKET_COLUMNS)} from storage.buckets where id = ${id}`;
  return rows[0] ?? null;
}

export interface BucketInput {
  id: string;
  name: string;
  public: boolean;
  file_size_limit: number | null;
  allowed_mime_types: string[] | null;
  owner: string | null;
  owner_id: string | null;
  type: string;
  versioning_status: string;
}

export async function insertBucket(sql: Sql, b: BucketInput): Promise<void> {
  await sql`insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types, owner, owner_id, type, versioning_status)
    values (${b.id}, ${b.name}, ${b.public}, ${b.file_size_limit}, ${b.allowed_mime_types}, ${b.owner}, ${b.owner_id},
            ${b.type}::storage.buckettype, ${b.versioning_status})`;
}

export async function updateBucket(
  sql: Sql,
  id: string,
  patch: { public?: boolean; file_size_limit?: number | null; allowed_mime_types?: string[] | null; versioning_status?: string },
): Promise<boolean> {
  const rows = await sql`update storage.buckets set
      public = coalesce(${patch.public ?? null}::boolean, public),
      file_size_limit = case when ${patch.file_size_limit !== undefined} then ${patch.file_size_limit ?? null}::bigint else file_size_limit end,
      allowed_mime_types = case when ${patch.allowed_mime_types !== undefined} then ${patch.allowed_mime_types ?? null}::text[] else allowed_mime_types end,
      versioning_status = coalesce(${patch.versioning_status ?? null}::text, versioning_status),
      updated_at = now()
    where id = ${id} returning id`;
  return rows.length > 0;
}

export async function deleteBucket(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`delete from storage.buckets where id = ${id} returning id`;
  return rows.length > 0;
}

export async function bucketHasObjects(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`select 1 from storage.objects where bucket_id = ${id} limit 1`;
  return rows.length > 0;
}

// ---- objects -------------------------------------------------------------------------------------

export async function findObject(sql: Sql, bucket: string, name: string, forUpdate = false): Promise<ObjectRow | null> {
  const rows = forUpdate
    ? await sql<ObjectRow[]>`select ${sql.unsafe(OBJECT_COLUMNS)} from storage.objects where bucket_id = ${bucket} and name = ${name} for update`
    : await sql<ObjectRow[]>`select ${sql.unsafe(OBJECT_COLUMNS)} from storage.objects where bucket_id = ${bucket} and name = ${name}`;
  return rows[0] ?? null;
}

export async function insertObject(sql: Sql, o: ObjectInput): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
    values (${o.bucket_id}, ${o.name}, ${o.owner}::uuid, ${o.owner_id}, ${o.version}, ${sql.json(o.metadata as never)}, ${o.user_metadata ? sql.json(o.user_metadata as never) : null})
    returning id`;
  return row!.id;
}

/** Insert unless the name exists (then null). */
export async function insertObjectIfAbsent(sql: Sql, o: ObjectInput): Promise<string | null> {
  const rows = await sql<{ id: string }[]>`
    insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
    values (${o.bucket_id}, ${o.name}, ${o.owner}::uuid, ${o.owner_id}, ${o.version}, ${sql.json(o.metadata as never)}, ${o.user_metadata ? sql.json(o.user_metadata as never) : null})
    on conflict (bucket_id, name) do nothing
    returning id`;
  return rows[0]?.id ?? null;
}

/**
 * Upsert that knows which version it replaced, so the replaced bytes can be released. Concurrent
 * upserts of a new name would otherwise both see "no row" and one would replace the other's bytes
 * unseen: inserting with DO NOTHING first, then locking the row that won, closes that gap.
 */
export async function replaceObject(sql: Sql, o: ObjectInput): Promise<{ id: string; replaced: string | null }> {
  let old = await findObject(sql, o.bucket_id, o.name, true);
  if (!old) {
    const id = await insertObjectIfAbsent(sql, o);
    if (id) return { id, replaced: null };
    old = await findObject(sql, o.bucket_id, o.name, true);
  }
  return { id: await upsertObject(sql, o), replaced: old?.version ?? null };
}

/** Insert, or replace the bytes of the existing row (keeping its id and created_at). */
export async function upsertObject(sql: Sql, o: ObjectInput): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
    values (${o.bucket_id}, ${o.name}, ${o.owner}::uuid, ${o.owner_id}, ${o.version}, ${sql.json(o.metadata as never)}, ${o.user_metadata ? sql.json(o.user_metadata as never) : null})
    on conflict (bucket_id, name) do update set
      owner = excluded.owner, owner_id = excluded.owner_id, version = excluded.version,
      metadata = excluded.metadata, user_metadata = excluded.user_metadata, last_accessed_at = now()
    returning id`;
  return row!.id;
}

export async function deleteObjects(sql: Sql, bucket: string, names: string[]): Promise<ObjectRow[]> {
  return sql<ObjectRow[]>`delete from storage.objects where bucket_id = ${bucket} and name = any(${names}::text[])
    returning ${sql.unsafe(OBJECT_COLUMNS)}`;
}

export async function deleteAllObjects(sql: Sql, bucket: string, limit: number): Promise<ObjectRow[]> {
  return sql<ObjectRow[]>`delete from storage.objects where id in (
      select id from storage.objects where bucket_id = ${bucket} limit ${limit})
    returning ${sql.unsafe(OBJECT_COLUMNS)}`;
}

export async function renameObject(sql: Sql, fromBucket: string, from: string, toBucket: string, to: string, owner: string | null): Promise<boolean> {
  const rows = await sql`update storage.objects set bucket_id = ${toBucket}, name = ${to}, owner = ${owner}::uuid, owner_id = ${owner}, last_accessed_at = now()
    where bucket_id = ${fromBucket} and name = ${from} returning id`;
  return rows.length > 0;
}

// ---- listing and search --------------------------------------------------------------------------

export interface ListEntry {
  name: string;
  id: string | null;
  updated_at: Date | null;
  created_at: Date | null;
  last_accessed_at: Date | null;
  metadata: ObjectMetadata | null;
}

/**
 * One folder level under `prefix` (which ends with "/" or is empty), as Supabase's storage.search:
 * folders (id null) and files, names relative to the prefix; `search` narrows to names starting
 * with it (case-insensitive).
 */
export async function listLevel(
  sql: Sql,
  bucket: string,
  o: {
    prefix: string;
    search: string;
    limit: number;
    offset: number;
    column: "name" | "updated_at" | "created_at" | "last_accessed_at";
    order: "asc" | "desc";
  },
): Promise<ListEntry[]> {
  const plen = o.prefix.length;
  const pattern = likePrefix(o.prefix + o.search) + "%";
  // Safe: column and order come from fixed lists (checked by the caller).
  const orderBy = o.column === "name" ? `name collate "C" ${o.order}` : `(id is not null), ${o.column} ${o.order} nulls first, name collate "C" ${o.order}`;
  return sql<ListEntry[]>`
    with matched as (
      select o.*, substr(o.name, ${plen + 1}) as rest from storage.objects o
      where o.bucket_id = ${bucket} and o.name ilike ${pattern}
    ), level as (
      select split_part(rest, '/', 1) as name, null::uuid as id, null::timestamptz as updated_at, null::timestamptz as created_at,
             null::timestamptz as last_accessed_at, null::jsonb as metadata
        from matched where strpos(rest, '/') > 0 group by 1
      union all
      select rest, id, updated_at, created_at, last_accessed_at, metadata from matched where strpos(rest, '/') = 0
    )
    select * from level order by ${sql.unsafe(orderBy)} limit ${o.limit} offset ${o.offset}`;
}

export type ListV2Column = "name" | "updated_at" | "created_at";

/**
 * A keyset position for list-v2: the sort column's value as text (the name itself when sorting by
 * name; a timestamptz's full-precision text otherwise) and the name, which breaks ties.
 */
export interface ListPosition {
  value: string;
  name: string;
}

export type ListV2Row = ObjectRow & { sort_key: string };

// Safe to interpolate: callers only pass a ListV2Column (matched against a fixed list). Missing
// timestamps sort first (as -infinity) so that the keyset comparison never meets a null. Cursor
// values are bound as text and cast in SQL (`$v::text::timestamptz`): bound as a timestamptz,
// postgres.js would pass them through Date and lose the microseconds.
function sortKey(column: Exclude<ListV2Column, "name">): string {
  return `coalesce(${column}, '-infinity'::timestamptz)`;
}

/**
 * Objects under `prefix` (full names) ordered by (column, name) and after `after` in that order
 * (keyset paging), for list-v2.
 */
export async function listAfter(
  sql: Sql,
  bucket: string,
  o: { prefix: string; column: ListV2Column; order: "asc" | "desc"; after: ListPosition | null; limit: number },
): Promise<ListV2Row[]> {
  const pattern = likePrefix(o.prefix) + "%";
  const op = sql.unsafe(o.order === "asc" ? ">" : "<");
  const dir = sql.unsafe(o.order);
  if (o.column === "name") {
    return sql<ListV2Row[]>`select ${sql.unsafe(OBJECT_COLUMNS)}, name as sort_key from storage.objects
      where bucket_id = ${bucket} and name like ${pattern} and ${o.after === null ? sql`true` : sql`name ${op} ${o.after.name}`}
      order by name ${dir} limit ${o.limit}`;
  }
  const key = sql.unsafe(sortKey(o.column));
  return sql<ListV2Row[]>`select ${sql.unsafe(OBJECT_COLUMNS)}, ${key}::text as sort_key from storage.objects
    where bucket_id = ${bucket} and name like ${pattern}
      and ${o.after === null ? sql`true` : sql`(${key}, name) ${op} (${o.after.value}::text::timestamptz, ${o.after.name}::text collate "C")`}
    order by ${key} ${dir}, name ${dir} limit ${o.limit}`;
}

export interface LevelEntry {
  name: string;
  id: string | null;
  bucket_id: string;
  metadata: ObjectMetadata | null;
  created_at: Date | null;
  updated_at: Date | null;
  last_accessed_at: Date | null;
  sort_key: string;
}

/**
 * One level under `prefix` sorted by a timestamp, for list-v2 with a delimiter: folders (full
 * names ending in "/", id null) and the objects directly at the level, ordered by (column, name)
 * and after `after`. As on Supabase, a folder sorts by its oldest object's created_at whichever
 * timestamp is asked for. (Sorting by name does not need this: it skips folders by seeking.)
 */
export async function listLevelAfter(
  sql: Sql,
  bucket: string,
  o: { prefix: string; column: Exclude<ListV2Column, "name">; order: "asc" | "desc"; after: ListPosition | null; limit: number },
): Promise<LevelEntry[]> {
  const plen = o.prefix.length;
  const pattern = likePrefix(o.prefix) + "%";
  const op = sql.unsafe(o.order === "asc" ? ">" : "<");
  const dir = sql.unsafe(o.order);
  const key = sql.unsafe(sortKey(o.column));
  return sql<LevelEntry[]>`
    with matched as (
      select o.*, strpos(substr(o.name, ${plen + 1}), '/') as slash from storage.objects o
      where o.bucket_id = ${bucket} and o.name like ${pattern}
    ), level as (
      select left(name, ${plen} + slash) as name, null::uuid as id, ${bucket}::text as bucket_id, null::jsonb as metadata,
             min(created_at) as created_at, min(created_at) as updated_at, null::timestamptz as last_accessed_at,
             min(coalesce(created_at, '-infinity'::timestamptz)) as sort_at
        from matched where slash > 0 group by 1
      union all
      select name, id, bucket_id, metadata, created_at, updated_at, last_accessed_at, ${key} as sort_at
        from matched where slash = 0
    )
    select name, id, bucket_id, metadata, created_at, updated_at, last_accessed_at, sort_at::text as sort_key from level
    where ${o.after === null ? sql`true` : sql`(sort_at, name) ${op} (${o.after.value}::text::timestamptz, ${o.after.name}::text collate "C")`}
    order by sort_at ${dir}, name ${dir} limit ${o.limit}`;
}

export interface SearchQuery {
  prefix?: string;
  contains?: string;
  metadata?: Record<string, unknown>;
  limit: number;
  offset: number;
}

/** Plinth's search: full names by prefix, substring (case-insensitive) and user metadata containment. */
export async function searchObjects(sql: Sql, bucket: string, q: SearchQuery): Promise<ObjectRow[]> {
  return sql<ObjectRow[]>`select ${sql.unsafe(OBJECT_COLUMNS)} from storage.objects
    where bucket_id = ${bucket}
      and ${q.prefix ? sql`name like ${likePrefix(q.prefix) + "%"}` : sql`true`}
      and ${q.contains ? sql`name ilike ${"%" + likePrefix(q.contains) + "%"}` : sql`true`}
      and ${q.metadata ? sql`user_metadata @> ${sql.json(q.metadata as never)}` : sql`true`}
    order by name limit ${q.limit} offset ${q.offset}`;
}

// ---- versions ------------------------------------------------------------------------------------

const VERSION_COLUMNS = `id, object_id, bucket_id, name, version, owner, owner_id, metadata, user_metadata, created_at, archived_at`;

export async function listVersions(sql: Sql, bucket: string, name: string): Promise<VersionRow[]> {
  return sql<VersionRow[]>`select ${sql.unsafe(VERSION_COLUMNS)} from storage.object_versions
    where bucket_id = ${bucket} and name = ${name} order by archived_at desc, id`;
}

export async function findVersion(sql: Sql, bucket: string, name: string, version: string): Promise<VersionRow | null> {
  const rows = await sql<VersionRow[]>`select ${sql.unsafe(VERSION_COLUMNS)} from storage.object_versions
    where bucket_id = ${bucket} and name = ${name} and version = ${version}`;
  return rows[0] ?? null;
}

export async function deleteVersions(sql: Sql, bucket: string, name: string, versions: string[]): Promise<string[]> {
  const rows = await sql<{ version: string }[]>`delete from storage.object_versions
    where bucket_id = ${bucket} and name = ${name} and version = any(${versions}::text[]) returning version`;
  return rows.map((r) => r.version);
}

export async function deleteBucketVersions(sql: Sql, bucket: string): Promise<string[]> {
  const rows = await sql<{ version: string }[]>`delete from storage.object_versions where bucket_id = ${bucket} returning version`;
  return rows.map((r) => r.version);
}

export async function bucketVersionKeys(sql: Sql, bucket: string): Promise<string[]> {
  const rows = await sql<{ version: string }[]>`select version from storage.object_versions where bucket_id = ${bucket}`;
  return rows.map((r) => r.version);
}

/** Of the given versions, those no row refers to any more (their bytes may go). Server role. */
export async function unreferencedVersions(sql: Sql, versions: string[]): Promise<string[]> {
  if (versions.length === 0) return [];
  const rows = await sql<{ v: string }[]>`
    select v from unnest(${versions}::text[]) as v
    where not exists (select 1 from storage.objects o where o.version = v)
      and not exists (select 1 from storage.object_versions ov where ov.version = v)`;
  return rows.map((r) => r.v);
}
