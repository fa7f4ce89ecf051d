-- Table security documents (issue 14): the declarative access rules an admin set for a table through
-- PUT /admin/v1/tables/{schema}/{table}/security, one row per table. The rows are written by the user
-- migrations that apply the rules (their up file stores the new document, their down file the one
-- before it), so `plinth migrate down` brings the document back together with the policies and
-- grants. Keyed by name: a renamed table loses its document (GET then describes what it has).
-- Server role only, like the rest of schema plinth.

create table if not exists plinth.table_security (
  schema_name text not null,
  table_name text not null,
  document jsonb not null,
  -- The user migration (version) that stored this document.
  migration text not null,
  updated_at timestamptz not null default now(),
  primary key (schema_name, table_name)
);

revoke all on plinth.table_security from public, anon, authenticated, service_role, plinth_console;
