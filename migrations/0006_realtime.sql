-- Realtime: Supabase's realtime.messages (policies on it authorise private channels),
-- realtime.topic(), realtime.send(), and the pieces Plinth's realtime service needs inside the
-- database: the cross-node announcement of messages, a relay for payloads too big for NOTIFY, and
-- the batched RLS check for change events. Idempotent, like every system migration.

-- Supabase's columns (its table is partitioned by day; a plain table with an index on inserted_at
-- keeps the same columns and policies, and the service prunes old rows).
create table if not exists realtime.messages (
  id uuid not null default gen_random_uuid(),
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  primary key (id, inserted_at)
);
create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic);
alter table realtime.messages enable row level security;

grant select, insert, update on realtime.messages to anon, authenticated, service_role;

-- The channel topic inside policies on realtime.messages (SELECT to join a private channel and
-- receive, INSERT to send), set transaction-locally by Plinth and by realtime.send().
create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;

grant execute on function realtime.topic() to anon, authenticated, service_role;

-- Broadcast from SQL, as Supabase: insert the message (as the caller, so RLS applies) and never fail
-- the calling transaction; the trigger below announces it after commit.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    perform set_config('realtime.topic', topic, true);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

grant execute on function realtime.send(jsonb, text, text, boolean) to anon, authenticated, service_role;

-- Every node LISTENs on plinth_realtime. NOTIFY is transactional: subscribers hear of a message only
-- when (and if) the inserting transaction commits. Payloads above NOTIFY's 8000-byte limit are
-- announced by id and read back from the table. Rows without a payload are authorisation probes
-- (inserted and rolled back by the service) and are not announced.
create or replace function realtime.plinth_announce_message() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  body text;
begin
  body := json_build_object('s', json_build_array(new.topic, coalesce(new.private, false), new.event, new.id, new.payload))::text;
  if octet_length(body) > 7900 then
    body := json_build_object('sref', json_build_array(new.id, new.inserted_at))::text;
  end if;
  perform pg_notify('plinth_realtime', body);
  return null;
end;
$$;

revoke all on function realtime.plinth_announce_message() from public;

drop trigger if exists plinth_announce_message on realtime.messages;
create trigger plinth_announce_message
  after insert on realtime.messages
  for each row
  when (new.extension = 'broadcast' and new.payload is not null)
  execute function realtime.plinth_announce_message();

-- Cross-node payloads too big for one NOTIFY (broadcasts above ~7.9 kB): written here, announced by
-- id, pruned after a minute. Unlogged: it is a mailbox, not data.
create unlogged table if not exists plinth.realtime_relay (
  id bigserial primary key,
  body text not null,
  created_at timestamptz not null default now()
);

-- Which of a batch of changed rows each subscriber group may SELECT under RLS.
--   entity: the table; keys: JSON array of objects {<pk column>: <text value>, ...};
--   roles/claims: one entry per group (role name, JWT claims JSON).
-- Returns, per group (1-based), the 1-based positions of the visible keys (null: the check failed).
-- It switches role per group with set_config('role', …, true), which is why it must not be SECURITY
-- DEFINER (PostgreSQL forbids SET ROLE there) and why only the server's own role may call it. Each
-- check runs the row lookup by primary key as that role, with that group's claims visible to
-- auth.uid()/auth.jwt(), so the table's policies decide. Errors in one group's policies (and
-- missing privileges) make that group see nothing without failing the others.
create or replace function realtime.plinth_visible_rows(entity regclass, keys jsonb, roles text[], claims text[])
returns table (grp int, visible int[])
language plpgsql
volatile
as $$
declare
  cond text;
  q text;
  v int[];
  i int;
  c jsonb;
begin
  select string_agg(format('t.%I = (k.v ->> %L)::%s', a.attname, a.attname, format_type(a.atttypid, a.atttypmod)), ' and ' order by a.attnum)
    into cond
    from pg_index x
    join pg_attribute a on a.attrelid = x.indrelid and a.attnum = any (x.indkey)
   where x.indrelid = entity and x.indisprimary;
  if cond is null then
    return;
  end if;
  q := format(
    'select coalesce(array_agg(k.ord::int order by k.ord), ''{}'') from jsonb_array_elements($1) with ordinality k(v, ord) where exists (select 1 from %s t where %s)',
    entity, cond);
  for i in 1 .. coalesce(array_length(roles, 1), 0) loop
    c := claims[i]::jsonb;
    perform set_config('role', roles[i], true),
            set_config('request.jwt.claims', claims[i], true),
            set_config('request.jwt.claim.sub', coalesce(c ->> 'sub', ''), true),
            set_config('request.jwt.claim.role', coalesce(c ->> 'role', roles[i]), true),
            set_config('request.jwt.claim.email', coalesce(c ->> 'email', ''), true);
    begin
      execute q using keys into v;
    exception when others then
      v := null;
    end;
    perform set_config('role', 'none', true);
    grp := i;
    visible := v;
    return next;
  end loop;
  perform set_config('request.jwt.claims', '', true), set_config('request.jwt.claim.sub', '', true),
          set_config('request.jwt.claim.role', '', true), set_config('request.jwt.claim.email', '', true);
end;
$$;

revoke all on function realtime.plinth_visible_rows(regclass, jsonb, text[], text[]) from public;
