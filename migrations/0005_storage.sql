-- Storage: buckets and objects with Supabase Storage's table and column names, its path helpers, and
-- Plinth's version history. Object bytes live in a backend (local directory or S3) under a key
-- derived from objects.version only, so renames and moves never touch bytes.
-- Access is decided by row level security on these tables, exactly as on Supabase: there are no
-- default policies on buckets and objects, so only service_role (BYPASSRLS) may use them until an
-- app adds policies.

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'storage' and t.typname = 'buckettype') then
    create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
  end if;
end
$$;

create table if not exists storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  owner_id text,
  type storage.buckettype not null default 'STANDARD',
  -- As in supabase/storage's object-versioning migration; Plinth enables it (ENABLED keeps
  -- overwritten and deleted objects in storage.object_versions).
  versioning_status text not null default 'DISABLED'
    constraint buckets_versioning_status_check check (versioning_status in ('DISABLED', 'ENABLED', 'SUSPENDED'))
);
create unique index if not exists bname on storage.buckets using btree (name);
comment on column storage.buckets.owner is 'Field is deprecated, use owner_id instead';

create table if not exists storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text references storage.buckets (id),
  name text collate "C",
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  -- Identifies the bytes in the backend; a new version is written for every upload.
  version text,
  owner_id text,
  user_metadata jsonb
);
comment on column storage.objects.owner is 'Field is deprecated, use owner_id instead';
create unique index if not exists bucketid_objname on storage.objects using btree (bucket_id, name);
-- Prefix listing and search use `name like 'prefix%'`, which needs C ordering to use an index.
create index if not exists name_prefix_search on storage.objects using btree (name text_pattern_ops);
create index if not exists idx_objects_version on storage.objects using btree (version);

-- Previous versions of objects in buckets with versioning ENABLED, archived by a trigger on
-- storage.objects whenever a row's bytes are replaced or the row is deleted.
create table if not exists storage.object_versions (
  id uuid not null default gen_random_uuid() primary key,
  object_id uuid not null,
  bucket_id text not null references storage.buckets (id) on delete cascade,
  name text collate "C" not null,
  version text not null,
  owner uuid,
  owner_id text,
  metadata jsonb,
  user_metadata jsonb,
  created_at timestamptz,
  archived_at timestamptz not null default now()
);
create unique index if not exists object_versions_version on storage.object_versions (version);
create index if not exists object_versions_name on storage.object_versions (bucket_id, name, archived_at desc);

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
alter table storage.object_versions enable row level security;

-- Supabase's path helpers for policies: foldername('a/b/c.png') = {a,b}, filename = 'c.png',
-- extension = 'png' (the whole file name when it has no dot, as Supabase's).
create or replace function storage.foldername(name text) returns text[]
language sql immutable
as $$ select (string_to_array(name, '/'))[1:array_length(string_to_array(name, '/'), 1) - 1] $$;

create or replace function storage.filename(name text) returns text
language sql immutable
as $$ select (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)] $$;

create or replace function storage.extension(name text) returns text
language sql immutable
as $$ select reverse(split_part(reverse(storage.filename(name)), '.', 1)) $$;

create or replace function storage.get_size_by_bucket() returns table (size bigint, bucket_id text)
language sql stable
as $$ select sum((metadata ->> 'size')::bigint)::bigint, obj.bucket_id from storage.objects obj group by obj.bucket_id $$;

create or replace function storage.update_updated_at_column() returns trigger
language plpgsql
as $$
begin
  new.updated_at = now();
  return new;
end
$$;

drop trigger if exists update_objects_updated_at on storage.objects;
create trigger update_objects_updated_at before update on storage.objects
  for each row execute function storage.update_updated_at_column();

-- Keeps the replaced bytes' row when the bucket keeps versions. SECURITY DEFINER: the caller needs no
-- rights on object_versions to archive what it overwrote (its right to overwrite was checked by RLS
-- on storage.objects).
create or replace function storage.archive_object_version() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if old.version is null then
    return null;
  end if;
  if tg_op = 'UPDATE' and new.version is not distinct from old.version then
    return null;
  end if;
  if exists (select 1 from storage.buckets b where b.id = old.bucket_id and b.versioning_status = 'ENABLED') then
    insert into storage.object_versions (object_id, bucket_id, name, version, owner, owner_id, metadata, user_metadata, created_at)
    values (old.id, old.bucket_id, old.name, old.version, old.owner, old.owner_id, old.metadata, old.user_metadata, old.updated_at)
    on conflict (version) do nothing;
  end if;
  return null;
end
$$;

drop trigger if exists archive_object_version on storage.objects;
create trigger archive_object_version after update or delete on storage.objects
  for each row execute function storage.archive_object_version();

-- A version's history is visible to whoever may see the current object of that name, and to the
-- uploader of that version; only the uploader (or service_role) may delete it.
drop policy if exists object_versions_select on storage.object_versions;
create policy object_versions_select on storage.object_versions for select
  using (
    owner_id = (auth.jwt() ->> 'sub')
    or exists (select 1 from storage.objects o where o.bucket_id = object_versions.bucket_id and o.name = object_versions.name)
  );
drop policy if exists object_versions_delete on storage.object_versions;
create policy object_versions_delete on storage.object_versions for delete
  using (owner_id = (auth.jwt() ->> 'sub'));

-- Supabase grants every API role all privileges on buckets and objects; RLS decides rows.
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant select, delete on storage.object_versions to anon, authenticated;
grant all on storage.object_versions to service_role;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text),
  storage.get_size_by_bucket() to anon, authenticated, service_role;
