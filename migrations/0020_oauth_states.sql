-- OAuth/OIDC sign-in (issue 17): one row per redirect to a provider, between GET /auth/v1/authorize
-- and the provider's return to /auth/v1/callback. The `state` handed to the provider is stored only
-- as its sha256, and the row is deleted by the callback that presents it (success or not), so a
-- state — and with it the provider's code — is good for one callback only. The nonce and the PKCE
-- verifier for the provider stay server-side: they never pass through the browser.
create table if not exists plinth.oauth_states (
  state_hash text primary key,
  provider text not null,
  nonce text not null,
  code_verifier text not null,
  -- Where the browser goes afterwards (already checked against the allow list).
  redirect_to text not null,
  -- The client's PKCE flow (auth-js flowType 'pkce'): the callback answers ?code= for it.
  flow_state_id uuid null references auth.flow_state (id) on delete cascade,
  -- linkIdentity: the signed-in user the new identity joins.
  link_user_id uuid null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index if not exists oauth_states_expires_at on plinth.oauth_states (expires_at);
revoke all on plinth.oauth_states from public;
