-- Keys (issue 16): asymmetric JWT signing keys and opaque API keys (publishable, secret, scoped).
-- Every node keeps both tables in memory (src/keys/ring.ts). Any change notifies `plinth_keys` in
-- the changing transaction and bumps key_state.version, so a node that missed the notification
-- (listener reconnecting) still sees the change at its next one-second re-check.

-- Signing keys. A private key is stored only encrypted (AES-256-GCM under a key derived from the
-- configured master secret: src/keys/at-rest.ts); the legacy HS256 secret is never stored here,
-- its row (kid 'legacy-hs256') only records its status so that it can be retired.
create table if not exists plinth.signing_keys (
  kid text primary key,
  alg text not null check (alg in ('ES256', 'RS256', 'HS256')),
  status text not null check (status in ('standby', 'current', 'previous', 'revoked')),
  public_jwk jsonb,
  private_enc text,
  imported boolean not null default false,
  created_at timestamptz not null default now(),
  activated_at timestamptz,
  revoked_at timestamptz,
  check ((alg = 'HS256') = (private_enc is null))
);
create unique index if not exists signing_keys_one_current on plinth.signing_keys ((true)) where status = 'current';

insert into plinth.signing_keys (kid, alg, status) values ('legacy-hs256', 'HS256', 'current') on conflict do nothing;

-- API keys. The secret is shown once; only its sha256 is kept (256 random bits need no slow hash),
-- with the first characters for recognition. A rotated key keeps working until expires_at (the
-- overlap) and is marked superseded; one live (not superseded, not revoked) key per name.
create table if not exists plinth.api_keys (
  id uuid primary key default gen_random_uuid(),
  name text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  kind text not null check (kind in ('publishable', 'secret', 'scoped')),
  prefix text not null,
  secret_hash text not null unique,
  role text not null check (role in ('anon', 'authenticated', 'service_role')),
  scopes text[] not null default '{}',
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  superseded_at timestamptz,
  rotated_from uuid references plinth.api_keys (id) on delete set null,
  last_used_at timestamptz,
  request_count bigint not null default 0
);
create unique index if not exists api_keys_live_name on plinth.api_keys (name) where revoked_at is null and superseded_at is null;

-- Singleton: whether the legacy JWT anon/service_role keys are still accepted, and the version
-- every node compares against.
create table if not exists plinth.key_state (
  id boolean primary key default true check (id),
  legacy_api_keys boolean not null default true,
  version bigint not null default 1
);
insert into plinth.key_state (id) values (true) on conflict do nothing;

create or replace function plinth.keys_changed() returns trigger
language plpgsql
as $$
begin
  update plinth.key_state set version = version + 1 where id;
  perform pg_notify('plinth_keys', 'changed');
  return null;
end
$$;

-- Usage counters (last_used_at, request_count) are flushed by every node periodically: they do not
-- concern verification, so they neither bump the version nor notify.
drop trigger if exists signing_keys_changed on plinth.signing_keys;
create trigger signing_keys_changed
  after insert or delete or update on plinth.signing_keys
  for each statement execute function plinth.keys_changed();
drop trigger if exists api_keys_changed on plinth.api_keys;
create trigger api_keys_changed
  after insert or delete or update of revoked_at, expires_at, superseded_at, scopes, role, secret_hash on plinth.api_keys
  for each statement execute function plinth.keys_changed();

create or replace function plinth.key_state_notify() returns trigger
language plpgsql
as $$
begin
  perform pg_notify('plinth_keys', 'changed');
  return null;
end
$$;
drop trigger if exists key_state_changed on plinth.key_state;
create trigger key_state_changed
  after update of legacy_api_keys on plinth.key_state
  for each statement execute function plinth.key_state_notify();

revoke all on plinth.signing_keys, plinth.api_keys, plinth.key_state from public, anon, authenticated, service_role, plinth_console;
