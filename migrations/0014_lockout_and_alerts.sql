-- Brute-force protection and security alerts (issue 14).
--
-- plinth.auth_lockouts: failed sign-in attempts per key. A key is a normalised identifier
-- ('email:a@example.com', 'phone:+15550001', 'username:alice', 'user:<uuid>' for second factors)
-- or a client address ('address:203.0.113.9'). Identifiers are counted whether or not an account
-- exists, so the answers never tell which do. Identifier rows lock; address rows only count (a burst
-- of failures from one address raises a security event). State lives here, not in memory, so every
-- node sees the same counts and locks.
--
-- plinth.auth_known_devices: digests of the user agents and addresses each user has signed in from
-- (for new_device events). Digests, not the values: the sessions table already keeps the raw ones.
--
-- plinth.security_alert_targets / plinth.security_alert_outbox: where alerts go (synced from the
-- config when the admin service starts) and one row per (event, target) to deliver. Rows are written
-- in the same statement as the event, so an alert raised just before a crash is delivered after it.

create table if not exists plinth.auth_lockouts (
  key text primary key,
  failures integer not null default 0,
  window_started_at timestamptz not null default now(),
  locked_until timestamptz null,
  -- Locks taken since the last success or clear: each one doubles the next lock's length.
  locks integer not null default 0,
  last_failure_at timestamptz not null default now(),
  last_address text null,
  -- An address row raises failure_burst once per window.
  burst_raised boolean not null default false
);

create index if not exists auth_lockouts_locked on plinth.auth_lockouts (locked_until) where locked_until is not null;

create table if not exists plinth.auth_known_devices (
  user_id uuid not null references auth.users (id) on delete cascade,
  kind text not null check (kind in ('user_agent', 'address')),
  digest text not null,
  first_seen_at timestamptz not null default now(),
  primary key (user_id, kind, digest)
);

create table if not exists plinth.security_alert_targets (
  target text primary key check (target in ('webhook', 'email')),
  min_severity text not null check (min_severity in ('low', 'medium', 'high', 'critical'))
);

create table if not exists plinth.security_alert_outbox (
  id bigint generated always as identity primary key,
  event_id bigint not null references plinth.security_events (id) on delete cascade,
  target text not null check (target in ('webhook', 'email')),
  -- The idempotency id every delivery of this row carries (webhook-id): the same on each retry.
  delivery_id text not null unique,
  attempts integer not null default 0,
  -- Due time; a claim moves it a lease ahead, so a node that dies mid-delivery is retried later.
  next_attempt_at timestamptz not null default now(),
  delivered_at timestamptz null,
  failed_at timestamptz null,
  last_error text null,
  created_at timestamptz not null default now()
);

create index if not exists security_alert_outbox_due on plinth.security_alert_outbox (next_attempt_at, id)
  where delivered_at is null and failed_at is null;

/*
 * Counts one failure against an identifier key (may be null) and an address key (may be null), in
 * one call: both rows are locked while they change, so concurrent failures on several nodes are
 * each counted once, and exactly one of them takes a lock or raises a burst. A failure on a locked
 * identifier is not counted (a lock does not lengthen itself).
 */
create or replace function plinth.lockout_record(
  p_key text, p_address text, p_max integer, p_window integer, p_base integer, p_max_lock integer, p_burst integer
) returns table (failures integer, locked_until timestamptz, newly_locked boolean, locks integer, address_failures integer, burst boolean)
language plpgsql as $$
#variable_conflict use_column
declare
  r plinth.auth_lockouts;
  a plinth.auth_lockouts;
begin
  newly_locked := false;
  burst := false;
  if p_key is not null then
    insert into plinth.auth_lockouts as l (key, last_address) values (p_key, p_address)
    on conflict (key) do update set key = excluded.key
    returning * into r;
    if r.locked_until is null or r.locked_until <= now() then
      if r.window_started_at < now() - make_interval(secs => p_window) then
        r.failures := 0;
        r.window_started_at := now();
      end if;
      r.failures := r.failures + 1;
      if r.failures >= p_max then
        r.locks := r.locks + 1;
        r.locked_until := now() + make_interval(secs => least(p_base::float8 * power(2, least(r.locks - 1, 30)), p_max_lock::float8));
        r.failures := 0;
        r.window_started_at := now();
        newly_locked := true;
      end if;
      update plinth.auth_lockouts l set failures = r.failures, window_started_at = r.window_started_at, locked_until = r.locked_until,
        locks = r.locks, last_failure_at = now(), last_address = p_address
      where l.key = p_key;
    end if;
    failures := r.failures;
    locked_until := r.locked_until;
    locks := r.locks;
  end if;
  if p_address is not null then
    insert into plinth.auth_lockouts as l (key, last_address) values ('address:' || p_address, p_address)
    on conflict (key) do update set key = excluded.key
    returning * into a;
    if a.window_started_at < now() - make_interval(secs => p_window) then
      a.failures := 0;
      a.window_started_at := now();
      a.burst_raised := false;
    end if;
    a.failures := a.failures + 1;
    if a.failures >= p_burst and not a.burst_raised then
      a.burst_raised := true;
      burst := true;
    end if;
    update plinth.auth_lockouts l set failures = a.failures, window_started_at = a.window_started_at, burst_raised = a.burst_raised,
      last_failure_at = now(), last_address = p_address
    where l.key = 'address:' || p_address;
    address_failures := a.failures;
  end if;
  return next;
end
$$;

revoke all on plinth.auth_lockouts, plinth.auth_known_devices, plinth.security_alert_targets, plinth.security_alert_outbox
  from public, anon, authenticated, service_role, plinth_console;
revoke all on function plinth.lockout_record(text, text, integer, integer, integer, integer, integer) from public;
