-- Named admin accounts (issue 13): an admin is an auth.users user with a row in plinth.admins
-- (level, assigned tables, who created it and when). Their sessions, the short-lived MFA challenges
-- of a sign-in, the one-time emergency-access codes, and the audit log's columns naming the admin
-- (id, email, level, session) or the OS user of the CLI behind every call.
-- Tokens and codes are stored as sha256 digests only (they carry 256 bits: no key is needed). Only
-- the server role reads these tables: no API role, and not the SQL console's role (plinth_console),
-- which could otherwise raise its own level.

create table if not exists plinth.admins (
  user_id uuid primary key references auth.users (id) on delete cascade,
  level text not null check (level in ('system_admin', 'admin', 'moderator', 'viewer')),
  -- "schema.table" names a moderator or viewer may reach; empty for the wider levels.
  tables text[] not null default '{}',
  -- The admin account that created it; null when the CLI, the service_role key or an emergency
  -- session did (created_via says which: 'admin_session', 'service_key', 'emergency', 'cli:<os user>').
  created_by uuid null,
  created_via text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- The last system_admin cannot go, whatever path the change takes (the admin API and the CLI check
-- first and answer with a code; this also covers deleting the user through /auth/v1/admin/users,
-- which cascades here). Serialised on one advisory lock, so two concurrent demotions of the last two
-- cannot both see "one other left": each statement of this function takes a new snapshot after the
-- lock, which sees the other's committed change.
create or replace function plinth.admins_keep_a_system_admin() returns trigger
language plpgsql
as $$
begin
  if old.level = 'system_admin' and (tg_op = 'DELETE' or new.level <> 'system_admin') then
    perform pg_advisory_xact_lock(hashtext('plinth.admins.system_admin'));
    if not exists (select 1 from plinth.admins where level = 'system_admin' and user_id <> old.user_id) then
      raise exception 'plinth: the last system_admin cannot be demoted or removed'
        using errcode = 'check_violation', constraint = 'last_system_admin';
    end if;
  end if;
  return null;
end
$$;

drop trigger if exists admins_keep_a_system_admin on plinth.admins;
create trigger admins_keep_a_system_admin
  after update of level or delete on plinth.admins
  for each row execute function plinth.admins_keep_a_system_admin();

create table if not exists plinth.admin_emergency_codes (
  id uuid primary key default gen_random_uuid(),
  code_hash bytea not null unique,
  reason text not null,
  os_user text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz null,
  used_ip text null
);

create table if not exists plinth.admin_sessions (
  id uuid primary key default gen_random_uuid(),
  -- null for an emergency-access session, which stands for no account (emergency_code_id says which code).
  admin_id uuid null references plinth.admins (user_id) on delete cascade,
  emergency_code_id uuid null references plinth.admin_emergency_codes (id) on delete cascade,
  token_hash bytea not null,
  method text not null check (method in ('password', 'mfa', 'emergency')),
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  -- The absolute end; the idle timeout is judged at each request from last_seen_at and the config.
  expires_at timestamptz not null,
  ip text null,
  user_agent text null,
  check ((admin_id is null) <> (emergency_code_id is null))
);
-- The one index the per-request check uses.
create unique index if not exists admin_sessions_token_hash on plinth.admin_sessions (token_hash);
create index if not exists admin_sessions_admin on plinth.admin_sessions (admin_id, created_at);

create table if not exists plinth.admin_challenges (
  id uuid primary key default gen_random_uuid(),
  token_hash bytea not null unique,
  admin_id uuid not null references plinth.admins (user_id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  attempts integer not null default 0,
  ip text null
);

-- Only the server role: nothing for the API roles or the SQL console.
do $$
declare t text;
begin
  foreach t in array array['admins', 'admin_sessions', 'admin_challenges', 'admin_emergency_codes'] loop
    execute format('revoke all on plinth.%I from public, anon, authenticated, service_role', t);
    if exists (select 1 from pg_roles where rolname = 'plinth_console') then
      execute format('revoke all on plinth.%I from plinth_console', t);
    end if;
  end loop;
end
$$;

-- Who acted, beyond the key's role: the admin account (id, email and level at the time), its
-- session, or the OS user of a CLI command; whether the action is security-relevant (emergency
-- access), and the reason given for it.
alter table plinth.audit_log
  add column if not exists admin_id text null,
  add column if not exists admin_email text null,
  add column if not exists admin_level text null,
  add column if not exists session_id text null,
  add column if not exists os_user text null,
  add column if not exists security boolean not null default false,
  add column if not exists reason text null;
-- A moderator reads the entries it caused.
create index if not exists audit_log_admin on plinth.audit_log (admin_id, id) where admin_id is not null;
