-- Realtime: the RLS check for change events vouches for the values sent, not only for the row.
-- realtime.plinth_visible_rows (0006) looked a changed row up by primary key as each subscriber
-- group: the row as it is NOW. The event carries the row as it was WRITTEN (the WAL tuple), and the
-- two differ when the row changed since — a row inserted private and shared in the same
-- transaction passed the check with its private values. This function does the same lookup and
-- also compares the current row with the tuple on every column the group will be sent, so the
-- service can tell "visible and unchanged" (send the tuple: every value in it is one the subscriber
-- can read right now) from "visible but changed since" (send the key only).
--   entity: the table; tuples: JSON array of objects {<column>: <text value or null>, ...}, holding
--     the primary key and every value the service would send (a column absent from an object is
--     not sent, so not compared);
--   roles/claims: one entry per group (role name, JWT claims JSON);
--   columns: per group, a JSON array of the column names that group may be sent;
--   xids: the (32-bit) ids of the transactions that wrote the tuples.
-- Returns per group (1-based) the 1-based positions of the tuples whose row is visible and equal
-- (same) and visible but different (changed); both null when the check failed (nothing is sent).
-- The stream can announce a commit a moment before the committing backend leaves the proc array
-- (the commit record is flushed first), and a snapshot taken in that moment still sees the row as
-- it was before: the function first waits (up to a second, in 1 ms steps) until every
-- transaction in xids is visible to a new snapshot. Each statement of this (volatile) function
-- takes a new snapshot, so the lookups that follow see those transactions' rows.
-- Values are compared as text after a round trip through the column's type, in this session, so
-- the WAL's text form and the stored value meet in one representation; a column the group may not
-- read, or one that no longer exists, fails the group's check instead of going uncompared.
-- Not SECURITY DEFINER, for the same reason as plinth_visible_rows: it switches role per group.
-- plinth_visible_rows stays: nodes still running the previous version call it during an upgrade.
create or replace function realtime.plinth_visible_tuples(entity regclass, tuples jsonb, roles text[], claims text[], columns text[], xids bigint[])
returns table (grp int, same int[], changed int[])
language plpgsql
volatile
as $$
declare
  keycond text;
  eqcond text;
  wanted text[];
  found int;
  q text;
  i int;
  c jsonb;
  s int[];
  d int[];
  snap pg_snapshot;
  ref bigint;
  deadline timestamptz := clock_timestamp() + interval '1 second';
begin
  loop
    snap := pg_current_snapshot();
    ref := pg_snapshot_xmax(snap)::text::bigint;
    -- A 32-bit xid as the full xid8 nearest to the snapshot's xmax (the transaction is recent).
    exit when not exists (
      select 1
        from unnest(coalesce(xids, '{}')) x
        cross join lateral (select ((ref >> 32) << 32) | x as full_xid) f
        cross join lateral (select case when f.full_xid > ref + 2147483648 then f.full_xid - 4294967296
                                        when f.full_xid < ref - 2147483648 then f.full_xid + 4294967296
                                        else f.full_xid end as xid) near
       where near.xid > 0 and not pg_visible_in_snapshot(near.xid::text::xid8, snap));
    -- Past the deadline the check goes ahead: a row judged in its older state can only make the
    -- verdict stricter (changed, or invisible), never leak.
    exit when clock_timestamp() > deadline;
    perform pg_sleep(0.001);
  end loop;
  select string_agg(format('t.%I = (k.v ->> %L)::%s', a.attname, a.attname, format_type(a.atttypid, a.atttypmod)), ' and ' order by a.attnum)
    into keycond
    from pg_index x
    join pg_attribute a on a.attrelid = x.indrelid and a.attnum = any (x.indkey)
   where x.indrelid = entity and x.indisprimary;
  if keycond is null then
    return;
  end if;
  for i in 1 .. coalesce(array_length(roles, 1), 0) loop
    s := null;
    d := null;
    wanted := array(select jsonb_array_elements_text(coalesce(columns[i], '[]')::jsonb));
    select count(*)::int,
           coalesce(string_agg(format('(not (k.v ? %L) or t.%I::text is not distinct from (k.v ->> %L)::%s::text)',
                                      a.attname, a.attname, a.attname, format_type(a.atttypid, a.atttypmod)), ' and '), 'true')
      into found, eqcond
      from pg_attribute a
     where a.attrelid = entity and a.attnum > 0 and not a.attisdropped and a.attname = any (wanted);
    if found = cardinality(wanted) then
      q := format(
        'select coalesce(array_agg(k.ord::int order by k.ord) filter (where %1$s), ''{}''),
                coalesce(array_agg(k.ord::int order by k.ord) filter (where not (%1$s)), ''{}'')
           from jsonb_array_elements($1) with ordinality k(v, ord)
           join %2$s t on %3$s',
        eqcond, entity, keycond);
      c := claims[i]::jsonb;
      perform set_config('role', roles[i], true),
              set_config('request.jwt.claims', claims[i], true),
              set_config('request.jwt.claim.sub', coalesce(c ->> 'sub', ''), true),
              set_config('request.jwt.claim.role', coalesce(c ->> 'role', roles[i]), true),
              set_config('request.jwt.claim.email', coalesce(c ->> 'email', ''), true);
      begin
        execute q using tuples into s, d;
      exception when others then
        s := null;
        d := null;
      end;
      perform set_config('role', 'none', true);
    end if;
    grp := i;
    same := s;
    changed := d;
    return next;
  end loop;
  perform set_config('request.jwt.claims', '', true), set_config('request.jwt.claim.sub', '', true),
          set_config('request.jwt.claim.role', '', true), set_config('request.jwt.claim.email', '', true);
end;
$$;

revoke all on function realtime.plinth_visible_tuples(regclass, jsonb, text[], text[], text[], bigint[]) from public;
