-- The publication Supabase migrations name (`alter publication supabase_realtime add table ...`).
-- It starts empty, as on Supabase: tables join it explicitly.
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;

-- Announce every DDL so that schema caches (REST, realtime, meta) reload within a second, on every
-- node connected to this database. The payload names the command tag; listeners reload wholesale.
create or replace function plinth.announce_schema_change() returns event_trigger
language plpgsql
as $$
begin
  perform pg_notify('plinth_schema', coalesce(tg_tag, 'DDL'));
end
$$;

-- Event triggers need a superuser. On a managed database without one, Plinth still works: caches
-- then reload on `NOTIFY pgrst, 'reload schema'` (PostgREST's convention) or on restart.
do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    drop event trigger if exists plinth_schema_ddl;
    drop event trigger if exists plinth_schema_drop;
    create event trigger plinth_schema_ddl on ddl_command_end
      execute function plinth.announce_schema_change();
    create event trigger plinth_schema_drop on sql_drop
      execute function plinth.announce_schema_change();
  else
    raise warning 'plinth: not a superuser, schema change announcements are off (use NOTIFY pgrst)';
  end if;
end
$$;
