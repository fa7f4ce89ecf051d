-- Each node caches the admin sessions it resolved (src/admin/sessions/cache.ts). Whatever can end a
-- session or change what it may do notifies `plinth_admin_auth` with "inv" in the changing
-- transaction, so every node drops its cache at commit, whichever path made the change (the admin
-- API, the CLI, /auth/v1/admin, a cascade). pg_notify folds identical payloads of one transaction
-- into one notification.

create or replace function plinth.admin_auth_changed() returns trigger
language plpgsql
as $$
begin
  perform pg_notify('plinth_admin_auth', 'inv');
  return null;
end
$$;

-- A session deleted (logout, revocation, the concurrent-session limit, a cascade) or re-keyed;
-- last_seen_at alone does not matter.
drop trigger if exists admin_sessions_changed on plinth.admin_sessions;
create trigger admin_sessions_changed
  after delete or update of token_hash, expires_at, admin_id, emergency_code_id on plinth.admin_sessions
  for each statement execute function plinth.admin_auth_changed();

-- An account added, removed, or its level or tables changed.
drop trigger if exists admins_changed on plinth.admins;
create trigger admins_changed
  after insert or update or delete on plinth.admins
  for each statement execute function plinth.admin_auth_changed();

-- An emergency code revoked or used up ends its sessions by cascade or by its own state.
drop trigger if exists admin_emergency_codes_changed on plinth.admin_emergency_codes;
create trigger admin_emergency_codes_changed
  after update or delete on plinth.admin_emergency_codes
  for each statement execute function plinth.admin_auth_changed();

-- An admin's user banned, unbanned or soft-deleted (a hard delete cascades to plinth.admins).
create or replace function plinth.admin_user_changed() returns trigger
language plpgsql
as $$
begin
  if exists (select 1 from plinth.admins where user_id = new.id) then
    perform pg_notify('plinth_admin_auth', 'inv');
  end if;
  return null;
end
$$;

drop trigger if exists users_admin_state_changed on auth.users;
create trigger users_admin_state_changed
  after update of banned_until, deleted_at on auth.users
  for each row
  when (old.banned_until is distinct from new.banned_until or old.deleted_at is distinct from new.deleted_at)
  execute function plinth.admin_user_changed();
