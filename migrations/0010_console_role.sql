-- The SQL console's own database role (issue 11). The console used to run on the server's
-- connection, i.e. as the PostgreSQL superuser: pg_read_file, COPY … TO '/file', COPY … PROGRAM and
-- `set session_replication_role = replica` (which silences the audit log's triggers) all worked.
-- Now every console statement runs on a connection whose SESSION user is plinth_console, so no
-- `reset role`, `set role postgres` or `set session authorization` can ever reach a superuser.
--
-- What plinth_console is:
-- - NOSUPERUSER, NOCREATEROLE, NOCREATEDB, NOREPLICATION, and a member of none of
--   pg_read_server_files / pg_write_server_files / pg_execute_server_program: no server files, no
--   programs, no replication, no role administration (before PostgreSQL 16, CREATEROLE could grant
--   itself those predefined roles, so it must not have it either).
-- - BYPASSRLS: an admin console must see and repair every row; RLS protects API users from each
--   other, not from the project's admins. Privileges and triggers (the audit log's) still apply.
-- - A member of anon, authenticated and service_role (INHERIT): it can do what the API's most
--   trusted role can, and `set local role anon` lets an admin try a query as a client would see it.
-- - Owner of the app's objects in public (CREATE on public; existing objects of the migrating role
--   are handed over below, and the table editor gives it what it creates), so DDL in the console
--   works on the app's tables. The server role is made a member of it, so nothing is lost there.
-- - Nothing in schema plinth: not the audit log, not its own password.
-- - LOGIN with a random password kept in plinth.console_login (server role only) and set by
--   plinth.console_login_reset(); the server connects with it (src/meta/console-login.ts).
--
-- Works on an external database (PLINTH_DB_URL) whose role is not a superuser: every step that needs
-- more than the role has is skipped with a warning; the console checks its role before each use and
-- refuses to run as anything unsafe.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'plinth_console') then
    begin
      create role plinth_console nologin nosuperuser nocreatedb nocreaterole noreplication inherit;
    exception when duplicate_object or unique_violation then
      null; -- another database of this cluster created it at the same moment
    end;
  end if;
end
$$;

-- A role of that name made by someone else must not keep powers the console must not have.
do $$
declare
  r pg_roles%rowtype;
  me pg_roles%rowtype;
begin
  select * into r from pg_roles where rolname = 'plinth_console';
  select * into me from pg_roles where rolname = current_user;
  if r.rolsuper or r.rolcreaterole or r.rolcreatedb or r.rolreplication then
    alter role plinth_console nosuperuser nocreatedb nocreaterole noreplication;
  end if;
  if not r.rolbypassrls then
    if me.rolsuper or me.rolbypassrls then
      alter role plinth_console bypassrls;
    else
      raise warning 'plinth: cannot give plinth_console BYPASSRLS (needs a superuser); the SQL console will see rows as RLS allows';
    end if;
  end if;
  if not r.rolinherit then
    alter role plinth_console inherit;
  end if;
end
$$;

do $$
declare
  predefined text;
begin
  foreach predefined in array array['pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program'] loop
    if exists (select 1 from pg_auth_members m
               where m.member = 'plinth_console'::regrole and m.roleid = predefined::regrole) then
      execute format('revoke %I from plinth_console', predefined);
    end if;
  end loop;
end
$$;

do $$
begin
  grant anon, authenticated, service_role to plinth_console;
exception when insufficient_privilege or invalid_grant_operation then
  raise warning 'plinth: cannot grant the API roles to plinth_console: %', sqlerrm;
end
$$;

-- The server role administers what the console owns (the table editor alters console-made tables).
do $$
begin
  if not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant plinth_console to %I', current_user);
  end if;
exception when insufficient_privilege or invalid_grant_operation then
  raise warning 'plinth: cannot grant plinth_console to %: %', current_user, sqlerrm;
end
$$;

do $$
begin
  execute format('grant connect, temporary, create on database %I to plinth_console', current_database());
  grant usage, create on schema public to plinth_console;
  -- What the console creates in public reaches the API roles as Supabase's default grants promise
  -- (migration 0001 made the same promise for the server role's objects).
  alter default privileges for role plinth_console in schema public grant all on tables to anon, authenticated, service_role;
  alter default privileges for role plinth_console in schema public grant all on sequences to anon, authenticated, service_role;
  alter default privileges for role plinth_console in schema public grant all on functions to anon, authenticated, service_role;
exception when insufficient_privilege then
  raise warning 'plinth: cannot grant plinth_console its database and public-schema privileges: %', sqlerrm;
end
$$;

-- The app's objects the migrating role owns in public become the console's, so `alter table` in the
-- console keeps working on tables made before this migration. Extension members stay as they are.
do $$
declare
  o record;
begin
  for o in
    select c.relkind, format('%I.%I', n.nspname, c.relname) as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relowner = (select oid from pg_roles where rolname = current_user)
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
      and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('e', 'a', 'i'))
  loop
    execute format('alter %s %s owner to plinth_console',
      case o.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'f' then 'foreign table'
                     when 'S' then 'sequence' else 'table' end, o.name);
  end loop;
  for o in
    select p.oid::regprocedure as sig, p.prokind
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proowner = (select oid from pg_roles where rolname = current_user)
      and p.prokind in ('f', 'p')
      and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  loop
    execute format('alter %s %s owner to plinth_console', case o.prokind when 'p' then 'procedure' else 'function' end, o.sig);
  end loop;
  for o in
    select t.typtype, format('%I.%I', n.nspname, t.typname) as name
    from pg_type t join pg_namespace n on n.oid = t.typnamespace
    where n.nspname = 'public' and t.typowner = (select oid from pg_roles where rolname = current_user)
      and t.typtype in ('d', 'e', 'r')
      and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
  loop
    execute format('alter %s %s owner to plinth_console', case o.typtype when 'd' then 'domain' else 'type' end, o.name);
  end loop;
  -- Supabase projects add tables to realtime from the SQL editor (`alter publication … add table`),
  -- which takes owning the publication.
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime'
             and pubowner = (select oid from pg_roles where rolname = current_user)) then
    alter publication supabase_realtime owner to plinth_console;
  end if;
exception when insufficient_privilege then
  raise warning 'plinth: cannot hand the public schema''s objects to plinth_console: %', sqlerrm;
end
$$;

-- Append-only, TRUNCATE included: 0007's row triggers refuse UPDATE and DELETE, but TRUNCATE fires
-- only statement triggers. The owner (the server role) could still drop the triggers; that is
-- outside Plinth, and what the planned hash chain is for.
drop trigger if exists audit_log_no_truncate on plinth.audit_log;
create trigger audit_log_no_truncate
  before truncate on plinth.audit_log
  for each statement execute function plinth.audit_log_append_only();
revoke all on plinth.audit_log from plinth_console;

-- The console's login. One row; readable by the server role only (the plinth schema is closed).
create table if not exists plinth.console_login (
  singleton boolean primary key default true check (singleton),
  password text not null
);
revoke all on plinth.console_login from public, anon, authenticated, service_role, plinth_console;
insert into plinth.console_login (password)
values (encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex'))
on conflict do nothing;

-- Sets the role's password from the table. The statement runs through EXECUTE, which
-- log_statement never logs; an error is re-raised without the statement (its context would
-- carry the password into the server log and to the caller).
create or replace function plinth.console_login_reset() returns void
language plpgsql
set search_path = pg_catalog
as $$
begin
  execute format('alter role plinth_console with login password %L', (select password from plinth.console_login));
exception when others then
  raise exception using errcode = sqlstate, message = 'plinth: cannot set the SQL console role''s password: ' || sqlerrm;
end
$$;
revoke all on function plinth.console_login_reset() from public;

do $$
begin
  perform plinth.console_login_reset();
exception when others then
  raise warning '%', sqlerrm;
end
$$;
