-- Roles and schemas as Supabase lays them out, so Supabase migrations, policies and grants apply as-is.
-- Every statement is idempotent on purpose: a database that already has Supabase's roles is fine.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- The server's switching role: it logs in (when a deployment gives it a password) and may only
  -- become one of the API roles. Plinth's own pool uses the database URL's role, which must be able
  -- to switch into the API roles too (granted below when it is not a superuser).
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator nologin noinherit;
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;

do $$
begin
  if not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant anon, authenticated, service_role to %I', current_user);
  end if;
end
$$;

create schema if not exists auth;
create schema if not exists storage;
create schema if not exists realtime;
create schema if not exists plinth;
create schema if not exists extensions;

-- The API roles may see the schemas Supabase exposes to them; tables decide the rest.
grant usage on schema public, auth, storage, realtime, extensions to anon, authenticated, service_role;
grant all on schema auth, storage, realtime to service_role;
-- plinth holds server internals (migrations, keys, audit): no API role may touch it.
revoke all on schema plinth from public;

-- Supabase's default grants: the API roles get every privilege on what is created in public later,
-- and row level security decides which rows they reach.
grant all on all tables in schema public to anon, authenticated, service_role;
grant all on all sequences in schema public to anon, authenticated, service_role;
grant all on all functions in schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
