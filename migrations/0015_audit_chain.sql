-- The audit log becomes tamper-evident (issue 14): every row carries its place in one hash chain
-- (seq), the hash of the row before it (prev_hash) and its own hash over a canonical serialisation
-- of its content (hash). Someone with database access who changes, removes or inserts a row breaks
-- the chain where they did it, and `plinth audit verify` names the first such row.
--
-- The canonical serialisation (also written in src/admin/audit/chain.ts, which verification uses;
-- test/audit.chain.test.ts holds the two to the same bytes):
--   'plinth.audit.v1', then for each field below in this order a newline and either '-' (NULL) or
--   '<octet length>:<text>' — length-prefixed, so no value can imitate a separator:
--   id, seq, at (microseconds since the Unix epoch, an integer), actor_role, actor_kind,
--   actor_sub, action, target, statement, outcome, status, error_code, duration_ms (shortest
--   exact float text, extra_float_digits = 1), row_count, request_id, client_ip, admin_id,
--   admin_email, admin_level, session_id, os_user, security ('true'|'false'), reason,
--   details (jsonb's own normalised text), prev_hash.
--   hash = lowercase hex sha256 of the UTF-8 bytes. The first row's prev_hash is 64 zeros.
--
-- One chain whatever the number of writers: the BEFORE INSERT trigger takes a transaction-level
-- advisory lock and then the one row of plinth.audit_chain_head (the chain's tail: seq and hash of
-- the newest row) until its transaction ends, so inserts from every node and the CLI take their
-- turn, each chaining to the row committed just before it. The head row
-- is also what makes removing the newest rows visible (a chain walk alone cannot see a cut tail).
--
-- The only delete path is plinth.audit_prune(): the append-only trigger lets a DELETE through only
-- for rows inside a range the same transaction has just recorded in plinth.audit_archives (written
-- out first by src/admin/audit/retention.ts), so the chain stays checkable across the boundary: the
-- first live row's prev_hash is the last archived row's hash.

alter table plinth.audit_log
  add column if not exists details jsonb null,
  add column if not exists seq bigint null,
  add column if not exists prev_hash text null,
  add column if not exists hash text null;

create table if not exists plinth.audit_chain_head (
  only_row boolean primary key default true check (only_row),
  seq bigint not null,
  hash text not null
);

create table if not exists plinth.audit_archives (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  first_seq bigint not null,
  last_seq bigint not null,
  first_prev_hash text not null,
  last_hash text not null,
  row_count bigint not null,
  -- Where the gzip NDJSON went: "local:<path>" or "s3:<key>"; and the sha256 of its bytes.
  location text not null,
  file_sha256 text not null,
  check (last_seq >= first_seq)
);
create unique index if not exists audit_archives_last_seq on plinth.audit_archives (last_seq);

revoke all on plinth.audit_chain_head, plinth.audit_archives from public, anon, authenticated, service_role, plinth_console;

create or replace function plinth.audit_field(v text) returns text
language sql immutable parallel safe
as $$ select case when v is null then '-' else octet_length(v)::text || ':' || v end $$;

create or replace function plinth.audit_canonical(r plinth.audit_log) returns text
language sql stable
set extra_float_digits = 1
as $$
  select concat_ws(E'\n', 'plinth.audit.v1',
    plinth.audit_field(r.id::text),
    plinth.audit_field(r.seq::text),
    plinth.audit_field((extract(epoch from r.at) * 1000000)::bigint::text),
    plinth.audit_field(r.actor_role),
    plinth.audit_field(r.actor_kind),
    plinth.audit_field(r.actor_sub),
    plinth.audit_field(r.action),
    plinth.audit_field(r.target),
    plinth.audit_field(r.statement),
    plinth.audit_field(r.outcome),
    plinth.audit_field(r.status::text),
    plinth.audit_field(r.error_code),
    plinth.audit_field(r.duration_ms::text),
    plinth.audit_field(r.row_count::text),
    plinth.audit_field(r.request_id),
    plinth.audit_field(r.client_ip),
    plinth.audit_field(r.admin_id),
    plinth.audit_field(r.admin_email),
    plinth.audit_field(r.admin_level),
    plinth.audit_field(r.session_id),
    plinth.audit_field(r.os_user),
    plinth.audit_field(r.security::text),
    plinth.audit_field(r.reason),
    plinth.audit_field(r.details::text),
    plinth.audit_field(r.prev_hash))
$$;

create or replace function plinth.audit_hash(r plinth.audit_log) returns text
language sql stable
as $$ select encode(sha256(convert_to(plinth.audit_canonical(r), 'UTF8')), 'hex') $$;

-- Rows written before this migration: chained here, in id order, as if they had been written with
-- the trigger (their updates need the append-only trigger off for this transaction only; the
-- migration runs in one transaction, so nobody sees the table with it off).
do $$
declare
  r plinth.audit_log;
  n bigint;
  prev text;
begin
  if exists (select 1 from plinth.audit_chain_head) then
    return; -- already chained (the migration is applied once, but be safe if run again)
  end if;
  alter table plinth.audit_log disable trigger audit_log_append_only;
  n := 0;
  prev := repeat('0', 64);
  for r in select * from plinth.audit_log order by id loop
    n := n + 1;
    r.seq := n;
    r.prev_hash := prev;
    r.hash := plinth.audit_hash(r);
    update plinth.audit_log set seq = r.seq, prev_hash = r.prev_hash, hash = r.hash where id = r.id;
    prev := r.hash;
  end loop;
  insert into plinth.audit_chain_head (seq, hash) values (n, prev);
  alter table plinth.audit_log enable trigger audit_log_append_only;
end
$$;

alter table plinth.audit_log
  alter column seq set not null,
  alter column prev_hash set not null,
  alter column hash set not null;
create unique index if not exists audit_log_seq on plinth.audit_log (seq);

create or replace function plinth.audit_log_chain() returns trigger
language plpgsql
set extra_float_digits = 1
as $$
declare
  head plinth.audit_chain_head;
begin
  -- The chain's lock, held until this transaction ends (commit or rollback): an advisory lock first,
  -- because its queue is a plain FIFO (measured: 16 writers queueing on the head row's lock alone
  -- fell to a third of one writer's rate, as each waiter re-followed the row's update chain). Once
  -- it is held, the head row is read fresh (READ COMMITTED: a new snapshot per statement, taken
  -- after the previous holder's commit became visible); FOR UPDATE then never waits, but makes a
  -- REPEATABLE READ writer with an older snapshot fail instead of forking the chain.
  perform pg_advisory_xact_lock(7301514);
  select * into head from plinth.audit_chain_head for update;
  if not found then
    raise exception 'plinth.audit_chain_head is empty: the audit chain has no tail' using errcode = 'data_corrupted';
  end if;
  new.seq := head.seq + 1;
  new.prev_hash := head.hash;
  new.hash := plinth.audit_hash(new);
  update plinth.audit_chain_head set seq = new.seq, hash = new.hash;
  return new;
end
$$;

drop trigger if exists audit_log_chain on plinth.audit_log;
create trigger audit_log_chain
  before insert on plinth.audit_log
  for each row execute function plinth.audit_log_chain();

-- Append-only, with one exception: plinth.audit_prune() deleting rows it has just archived.
create or replace function plinth.audit_log_append_only() returns trigger
language plpgsql
as $$
declare
  through bigint := nullif(current_setting('plinth.audit_prune_through', true), '')::bigint;
begin
  if tg_op = 'DELETE' and tg_level = 'ROW' and through is not null and old.seq <= through
     and exists (select 1 from plinth.audit_archives a where old.seq between a.first_seq and a.last_seq) then
    return old;
  end if;
  raise exception 'plinth.audit_log is append-only: % refused', tg_op
    using errcode = 'insufficient_privilege';
end
$$;

-- Records an archive of the rows up to p_through and removes them from the live table. Refuses
-- unless the archive describes exactly the oldest live rows (first seq, their prev_hash, the hash
-- of the last one), so nothing can be removed that is not in an archive whose chain joins the live
-- one.
create or replace function plinth.audit_prune(p_first bigint, p_through bigint, p_first_prev text, p_last_hash text,
                                              p_rows bigint, p_location text, p_file_sha256 text) returns bigint
language plpgsql
as $$
declare
  oldest plinth.audit_log;
  last plinth.audit_log;
  removed bigint;
begin
  select * into oldest from plinth.audit_log order by seq limit 1;
  select * into last from plinth.audit_log where seq = p_through;
  if oldest.seq is distinct from p_first or oldest.prev_hash is distinct from p_first_prev then
    raise exception 'audit prune: the archive does not start at the oldest live row' using errcode = 'check_violation';
  end if;
  if last.hash is distinct from p_last_hash or p_rows <> p_through - p_first + 1 then
    raise exception 'audit prune: the archive does not end at row % as stored', p_through using errcode = 'check_violation';
  end if;
  insert into plinth.audit_archives (first_seq, last_seq, first_prev_hash, last_hash, row_count, location, file_sha256)
  values (p_first, p_through, p_first_prev, p_last_hash, p_rows, p_location, p_file_sha256);
  perform set_config('plinth.audit_prune_through', p_through::text, true);
  delete from plinth.audit_log where seq <= p_through;
  get diagnostics removed = row_count;
  perform set_config('plinth.audit_prune_through', '', true);
  return removed;
end
$$;

revoke all on function plinth.audit_prune(bigint, bigint, text, text, bigint, text, text) from public;
revoke all on function plinth.audit_canonical(plinth.audit_log), plinth.audit_hash(plinth.audit_log) from public;

-- Query filters: by outcome and by actor within time.
create index if not exists audit_log_action on plinth.audit_log (action text_pattern_ops, id);
create index if not exists audit_log_actor_sub on plinth.audit_log (actor_sub, id) where actor_sub is not null;
