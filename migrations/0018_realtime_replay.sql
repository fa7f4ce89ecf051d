-- Realtime broadcast replay (private channels): a client joining with
-- config.broadcast.replay {since, limit} receives the stored broadcasts of the topic since `since`.
-- Stored are what realtime.send() / inserts write (as before) and the private broadcasts whose
-- sender asked for it (realtime-js `persist`: websocket metadata or httpSend ?persist=true). The
-- service writes those in batches after fanning them out live, so their rows must not be announced
-- again: it marks its own transaction with plinth.realtime_quiet. (A user setting the flag only
-- silences their own insert.)

-- realtime-js sends binary payloads too; Supabase keeps them in binary_payload.
alter table realtime.messages add column if not exists binary_payload bytea;
-- persist {ttl}: a message may ask to be kept for less than the retention; null keeps it for the
-- whole retention (three days, pruned by the service).
alter table realtime.messages add column if not exists plinth_expires_at timestamp without time zone;

-- The replay query: newest private broadcasts of one topic since a time (Supabase's index).
create index if not exists messages_replay_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;

create or replace function realtime.plinth_announce_message() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  body text;
begin
  if current_setting('plinth.realtime_quiet', true) = 'on' then
    return null;
  end if;
  body := json_build_object('s', json_build_array(new.topic, coalesce(new.private, false), new.event, new.id, new.payload))::text;
  if octet_length(body) > 7900 then
    body := json_build_object('sref', json_build_array(new.id, new.inserted_at))::text;
  end if;
  perform pg_notify('plinth_realtime', body);
  return null;
end;
$$;

revoke all on function realtime.plinth_announce_message() from public;
