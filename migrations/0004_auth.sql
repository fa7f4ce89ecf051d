-- The auth schema in GoTrue's shape (supabase/auth migrations), because Supabase apps attach
-- triggers, foreign keys and policies to these tables and columns. Plinth additions are marked.
-- Secrets are never stored in the clear: refresh_tokens.token, one_time_tokens.token_hash and
-- flow_state.auth_code hold hashes (see src/auth/crypto.ts).

do $$ begin
  create type auth.aal_level as enum ('aal1', 'aal2', 'aal3');
exception when duplicate_object then null;
end $$;

do $$ begin
  create type auth.code_challenge_method as enum ('s256', 'plain');
exception when duplicate_object then null;
end $$;

do $$ begin
  create type auth.one_time_token_type as enum (
    'confirmation_token',
    'reauthentication_token',
    'recovery_token',
    'email_change_token_new',
    'email_change_token_current',
    'phone_change_token'
  );
exception when duplicate_object then null;
end $$;

create table if not exists auth.users (
  instance_id uuid null,
  id uuid not null default gen_random_uuid(),
  aud varchar(255) null default 'authenticated',
  "role" varchar(255) null default 'authenticated',
  email varchar(255) null,
  encrypted_password varchar(255) null,
  email_confirmed_at timestamptz null,
  invited_at timestamptz null,
  confirmation_token varchar(255) null default '',
  confirmation_sent_at timestamptz null,
  recovery_token varchar(255) null default '',
  recovery_sent_at timestamptz null,
  email_change_token_new varchar(255) null default '',
  email_change varchar(255) null default '',
  email_change_sent_at timestamptz null,
  last_sign_in_at timestamptz null,
  raw_app_meta_data jsonb null default '{}'::jsonb,
  raw_user_meta_data jsonb null default '{}'::jsonb,
  is_super_admin bool null,
  created_at timestamptz null default now(),
  updated_at timestamptz null default now(),
  -- E.164 digits without the "+" ("233241234567"), as GoTrue stores them; phone_change likewise.
  -- SMS providers get the "+" form (src/auth/input.ts normalisePhoneNumber).
  phone text null default null,
  phone_confirmed_at timestamptz null,
  phone_change text null default '',
  phone_change_token varchar(255) null default '',
  phone_change_sent_at timestamptz null,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) null default '',
  -- Secure email change: 1 once the first of the two addresses has confirmed (src/auth/email-change.ts).
  email_change_confirm_status smallint null default 0
    check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  banned_until timestamptz null,
  reauthentication_token varchar(255) null default '',
  reauthentication_sent_at timestamptz null,
  is_sso_user boolean not null default false,
  deleted_at timestamptz null,
  is_anonymous boolean not null default false,
  -- Plinth: sign-in by username. Stored lowercased, so uniqueness is case-insensitive.
  username text null check (username is null or username ~ '^[a-z0-9_.]{3,32}$'),
  constraint users_pkey primary key (id),
  constraint users_phone_key unique (phone)
);
comment on table auth.users is 'Auth: Stores user login data within a secure schema.';
create unique index if not exists users_email_partial_key on auth.users (email) where (is_sso_user = false);
create unique index if not exists users_username_key on auth.users (username) where (username is not null);
create index if not exists users_instance_id_idx on auth.users (instance_id);
create index if not exists users_instance_id_email_idx on auth.users (instance_id, lower((email)::text));
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);
create index if not exists users_created_at_idx on auth.users (created_at desc, id);

create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz null,
  created_at timestamptz null default now(),
  updated_at timestamptz null default now(),
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid not null default gen_random_uuid() primary key,
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
comment on table auth.identities is 'Auth: Stores identities associated to a user.';
create index if not exists identities_user_id_idx on auth.identities (user_id);
create index if not exists identities_email_idx on auth.identities (email text_pattern_ops);

create table if not exists auth.sessions (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz null default now(),
  updated_at timestamptz null default now(),
  factor_id uuid null,
  aal auth.aal_level null default 'aal1',
  not_after timestamptz null,
  refreshed_at timestamp without time zone null,
  user_agent text null,
  ip inet null,
  tag text null,
  -- Plinth: the authentication methods of the session ([{method, timestamp}]), the access
  -- token's `amr` claim. GoTrue keeps these in auth.mfa_amr_claims; one column saves a join on
  -- every refresh.
  amr jsonb not null default '[]'::jsonb
);
comment on table auth.sessions is 'Auth: Stores session data associated to a user.';
create index if not exists sessions_user_id_idx on auth.sessions (user_id);
create index if not exists sessions_not_after_idx on auth.sessions (not_after desc);

create table if not exists auth.refresh_tokens (
  instance_id uuid null,
  id bigserial not null primary key,
  -- sha256 of the opaque token (hex); the token itself is never stored.
  "token" varchar(255) null,
  user_id varchar(255) null,
  revoked bool null,
  created_at timestamptz null default now(),
  updated_at timestamptz null default now(),
  parent varchar(255) null,
  session_id uuid null references auth.sessions (id) on delete cascade,
  constraint refresh_tokens_token_unique unique ("token")
);
comment on table auth.refresh_tokens is 'Auth: Store of tokens used to refresh JWT tokens once they expire.';
create index if not exists refresh_tokens_instance_id_user_id_idx on auth.refresh_tokens (instance_id, user_id);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);
create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);
create index if not exists refresh_tokens_updated_at_idx on auth.refresh_tokens (updated_at desc);

create table if not exists auth.flow_state (
  id uuid primary key,
  user_id uuid null references auth.users (id) on delete cascade,
  -- sha256 of the authorisation code handed out in the redirect (hex).
  auth_code text not null,
  code_challenge_method auth.code_challenge_method not null,
  code_challenge text not null,
  provider_type text not null,
  provider_access_token text null,
  provider_refresh_token text null,
  created_at timestamptz null default now(),
  updated_at timestamptz null default now(),
  authentication_method text not null,
  auth_code_issued_at timestamptz null
);
comment on table auth.flow_state is 'stores metadata for pkce logins';
create index if not exists idx_auth_code on auth.flow_state (auth_code);
create index if not exists idx_user_id_auth_method on auth.flow_state (user_id, authentication_method);
create index if not exists flow_state_created_at_idx on auth.flow_state (created_at desc);

create table if not exists auth.one_time_tokens (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  token_type auth.one_time_token_type not null,
  -- HMAC of the numeric code, bound to the user and token type (src/auth/crypto.ts).
  token_hash text not null check (char_length(token_hash) > 0),
  relates_to text not null,
  created_at timestamp without time zone not null default now(),
  updated_at timestamp without time zone not null default now(),
  -- Plinth: sha256 of the link token carried by the e-mailed link (the client's `token_hash`;
  -- "pkce_"-prefixed for PKCE flows, as GoTrue's are).
  link_hash text null,
  -- Plinth: wrong codes tried against this row; it is burnt at auth.otp.maxAttempts.
  attempts integer not null default 0,
  expires_at timestamptz not null,
  -- Plinth: the PKCE flow this code completes (GET /verify then redirects with ?code=).
  flow_state_id uuid null references auth.flow_state (id) on delete set null
);
create unique index if not exists one_time_tokens_user_id_token_type_key on auth.one_time_tokens (user_id, token_type);
create unique index if not exists one_time_tokens_link_hash_key on auth.one_time_tokens (link_hash);
create index if not exists one_time_tokens_relates_to_idx on auth.one_time_tokens (relates_to);
create index if not exists one_time_tokens_expires_at_idx on auth.one_time_tokens (expires_at);

-- As on Supabase: row level security on, and no API role reaches these tables directly (the auth
-- service writes them with its own connection). auth.uid() & co. come from 0002.
do $$
declare t text;
begin
  foreach t in array array['users', 'identities', 'sessions', 'refresh_tokens', 'flow_state', 'one_time_tokens'] loop
    execute format('alter table auth.%I enable row level security', t);
    execute format('revoke all on auth.%I from public, anon, authenticated, service_role', t);
  end loop;
end $$;
revoke all on sequence auth.refresh_tokens_id_seq from public, anon, authenticated, service_role;
