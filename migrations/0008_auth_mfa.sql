-- Multi-factor authentication in GoTrue's shape (supabase/auth migrations: mfa_factors,
-- mfa_challenges, mfa_amr_claims), plus Plinth's recovery codes. Plinth additions are marked.
-- Secrets are never stored in the clear: mfa_factors.secret is AES-256-GCM ciphertext under a key
-- derived from the JWT secret; otp codes and recovery codes are keyed hashes (src/auth/crypto.ts).

do $$ begin
  create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
exception when duplicate_object then null;
end $$;

do $$ begin
  create type auth.factor_status as enum ('unverified', 'verified');
exception when duplicate_object then null;
end $$;

create table if not exists auth.mfa_factors (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text null,
  factor_type auth.factor_type not null,
  status auth.factor_status not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- "v1:" + base64(iv | tag | ciphertext) of the base32 TOTP secret (src/auth/totp.ts).
  secret text null,
  phone text null,
  last_challenged_at timestamptz null,
  -- Plinth: the last TOTP time step accepted, so a code (or an older one) cannot be used twice.
  last_used_step bigint null
);
comment on table auth.mfa_factors is 'auth: stores metadata about factors';
create unique index if not exists mfa_factors_user_friendly_name_unique on auth.mfa_factors (friendly_name, user_id)
  where trim(friendly_name) <> '';
create index if not exists factor_id_created_at_idx on auth.mfa_factors (user_id, created_at);
create index if not exists mfa_factors_user_id_idx on auth.mfa_factors (user_id);
create unique index if not exists unique_phone_factor_per_user on auth.mfa_factors (user_id, phone);

create table if not exists auth.mfa_challenges (
  id uuid not null primary key,
  factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
  created_at timestamptz not null default now(),
  verified_at timestamptz null,
  -- GoTrue: not null; Plinth keeps null when the client address is unknown.
  ip_address inet null,
  -- Keyed hash of the code sent, for phone factors.
  otp_code text null,
  -- Plinth: wrong codes tried against this challenge; it is burnt at the limit.
  attempts integer not null default 0
);
comment on table auth.mfa_challenges is 'auth: stores metadata about challenge requests made';
create index if not exists mfa_challenge_created_at_idx on auth.mfa_challenges (created_at desc);
create index if not exists mfa_challenges_factor_id_idx on auth.mfa_challenges (factor_id);

create table if not exists auth.mfa_amr_claims (
  id uuid not null default gen_random_uuid(),
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  authentication_method text not null,
  constraint amr_id_pk primary key (id),
  constraint mfa_amr_claims_session_id_authentication_method_pkey unique (session_id, authentication_method)
);
comment on table auth.mfa_amr_claims is 'auth: stores authenticator method reference claims for multi factor authentication';

-- Plinth: single-use recovery codes, a way back to aal2 without the authenticator.
create table if not exists auth.mfa_recovery_codes (
  id uuid not null default gen_random_uuid() primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  code_hash text not null,
  used_at timestamptz null,
  created_at timestamptz not null default now(),
  constraint mfa_recovery_codes_user_code_key unique (user_id, code_hash)
);
create index if not exists mfa_recovery_codes_user_id_idx on auth.mfa_recovery_codes (user_id);

do $$
declare t text;
begin
  foreach t in array array['mfa_factors', 'mfa_challenges', 'mfa_amr_claims', 'mfa_recovery_codes'] loop
    execute format('alter table auth.%I enable row level security', t);
    execute format('revoke all on auth.%I from public, anon, authenticated, service_role', t);
  end loop;
end $$;
