-- Security events (issue 14): one row per thing an operator should know about — lockouts, bursts of
-- failures from one address, a refresh token used twice, a sign-in from a new device, MFA disabled,
-- admin level changes, emergency access, key and policy changes, a broken audit chain. Written by the
-- server role only; read through /admin/v1/security/events. Alerts for them go out through the outbox
-- (a later migration), never from inside the request that raised them.

create table if not exists plinth.security_events (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  kind text not null,
  severity text not null check (severity in ('low', 'medium', 'high', 'critical')),
  user_id uuid null,
  address text null,
  user_agent text null,
  details jsonb not null default '{}'::jsonb
);

create index if not exists security_events_at on plinth.security_events (at, id);
create index if not exists security_events_kind_at on plinth.security_events (kind, at);
create index if not exists security_events_user_at on plinth.security_events (user_id, at) where user_id is not null;

revoke all on plinth.security_events from public, anon, authenticated, service_role, plinth_console;
