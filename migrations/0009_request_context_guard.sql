-- The guard of the data API's session-context connections (src/db/context-pool.ts). Those
-- connections keep a caller's role and request.jwt.claims set at session level, so a request whose
-- caller matches runs as one statement. Every such statement carries
--   auth.request_context_is($role, $claims)
-- as a condition without column references (PostgreSQL evaluates it once, before reading a row): it
-- is true when the session really is that caller and raises SQLSTATE PLCTX otherwise, which aborts
-- the statement, so nothing runs to completion or is returned under a context other than the caller's.
-- Inlined by the planner (one SQL SELECT, stable): the check costs two comparisons.

create or replace function auth.request_context_mismatch() returns boolean
language plpgsql stable
as $$
begin
  raise exception using errcode = 'PLCTX', message = 'plinth: the connection''s request context is not the caller''s';
end
$$;

create or replace function auth.request_context_is(expected_role text, expected_claims text) returns boolean
language sql stable
as $$
  select case
    when current_user = expected_role::name
      and current_setting('request.jwt.claims', true) = expected_claims then true
    else auth.request_context_mismatch()
  end
$$;

revoke all on function auth.request_context_mismatch() from public;
revoke all on function auth.request_context_is(text, text) from public;
grant execute on function auth.request_context_mismatch() to anon, authenticated, service_role;
grant execute on function auth.request_context_is(text, text) to anon, authenticated, service_role;
