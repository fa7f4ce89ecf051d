-- The admin plane's storage: Plinth's own column types offered by the table editor, and the audit
-- log every /admin/v1 call writes to. Idempotent like every system migration.

-- plinth.rich_text: a jsonb document for formatted text (an editor's document tree, e.g.
-- {"type": "doc", "content": [...]}). A domain over jsonb, so clients read and write it as JSON.
do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'plinth' and t.typname = 'rich_text') then
    create domain plinth.rich_text as jsonb
      constraint rich_text_is_object check (jsonb_typeof(value) = 'object');
  end if;
  -- plinth.file_ref: a reference to a storage object, {"bucket": "...", "path": "..."}. Also a
  -- jsonb domain (not a composite type) so that it travels through the REST API as a plain object.
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'plinth' and t.typname = 'file_ref') then
    create domain plinth.file_ref as jsonb
      constraint file_ref_shape check (
        jsonb_typeof(value) = 'object'
        and jsonb_typeof(value -> 'bucket') = 'string'
        and jsonb_typeof(value -> 'path') = 'string');
  end if;
end
$$;
comment on domain plinth.rich_text is 'Plinth rich text: a jsonb document for formatted text';
comment on domain plinth.file_ref is 'Plinth file reference: a storage object as {"bucket", "path"}';
-- Types are usable by PUBLIC by default; said explicitly because the schema itself is closed.
grant usage on domain plinth.rich_text, plinth.file_ref to public;

-- One row per admin API call: who, what, on which target, how it ended. Statement text has its
-- literals masked before it gets here. Append-only: API roles have no privileges on it, and a
-- trigger refuses UPDATE and DELETE for everyone, so a mistake cannot rewrite history either.
-- (TRUNCATE, a superuser's deliberate act, is not blocked: row triggers do not fire for it.)
create table if not exists plinth.audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  actor_role text not null,
  actor_kind text not null,
  actor_sub text,
  action text not null,
  target text,
  statement text,
  outcome text not null check (outcome in ('ok', 'error', 'denied', 'refused')),
  status integer not null,
  error_code text,
  duration_ms double precision not null,
  row_count bigint,
  request_id text,
  client_ip text
);
create index if not exists audit_log_at on plinth.audit_log (at);

revoke all on plinth.audit_log from public, anon, authenticated, service_role;

create or replace function plinth.audit_log_append_only() returns trigger
language plpgsql
as $$
begin
  raise exception 'plinth.audit_log is append-only: % refused', tg_op
    using errcode = 'insufficient_privilege';
end
$$;

drop trigger if exists audit_log_append_only on plinth.audit_log;
create trigger audit_log_append_only
  before update or delete on plinth.audit_log
  for each row execute function plinth.audit_log_append_only();
