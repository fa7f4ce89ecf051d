// From an account a provider vouches for to a Plinth user, in the caller's transaction, the way
// GoTrue decides (api/identity.go, models/linking.go):
//   1. an identity (provider, provider_id) already exists → its user (refreshing identity_data);
//   2. linking (linkIdentity / link_identity) → a new identity on the signed-in user;
//   3. the provider says the address is verified and a user has it → a new identity on that user;
//   4. otherwise a new user with that identity (unless sign-ups are off).
// An unverified address never matches an existing account: a provider that lets anyone claim any
// address would otherwise hand over that account.
import type postgres from "postgres";
import { PlinthError } from "../../errors.ts";
import type { Sql } from "../../db/pool.ts";
import type { AuthContext } from "../context.ts";
import { AuthErrors } from "../errors.ts";
import { findUser, isBanned, isUuid, type UserRow } from "../users.ts";
import type { ProviderUser } from "../providers/types.ts";

type Q = Sql | postgres.TransactionSql;

export const IdentityErrors = {
  alreadyLinked: () => new PlinthError(422, "identity_already_exists", "Identity is already linked to another user"),
  notFound: () => new PlinthError(404, "identity_not_found", "Identity doesn't exist"),
  single: () => new PlinthError(422, "single_identity_not_deletable", "User must have at least 1 identity after unlinking"),
  unverifiedTaken: () =>
    new PlinthError(422, "email_exists", "A user with this email address has already been registered; sign in to it and link this provider instead"),
  needsVerification: (provider: string) =>
    new PlinthError(422, "provider_email_needs_verification", `Unverified email with ${provider}: verify the address with ${provider} first`),
};

/** app_metadata.providers gains `provider` (and `provider` is set when the account had none). */
async function addProvider(q: Q, userId: string, provider: string): Promise<void> {
  await q`update auth.users set raw_app_meta_data = jsonb_set(
            coalesce(raw_app_meta_data, '{}'::jsonb) || case when coalesce(raw_app_meta_data->>'provider', 'anonymous') = 'anonymous'
              then jsonb_build_object('provider', ${provider}::text) else '{}'::jsonb end,
            '{providers}',
            (select coalesce(jsonb_agg(distinct p), '[]'::jsonb) from (
               select jsonb_array_elements_text(coalesce(raw_app_meta_data->'providers', '[]'::jsonb)) p
               union select ${provider}::text) s where p <> 'anonymous')),
            is_anonymous = false, updated_at = now()
          where id = ${userId}`;
}

async function insertIdentity(q: Q, userId: string, provider: string, pu: ProviderUser): Promise<void> {
  await q`insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
          values (${pu.id}, ${userId}, ${q.json(pu.claims as postgres.JSONValue)}, ${provider}, now(), now(), now())`;
  await addProvider(q, userId, provider);
}

export interface Resolved {
  user: UserRow;
  created: boolean;
}

export async function resolveProviderUser(ctx: AuthContext, q: Q, provider: string, pu: ProviderUser, linkUserId: string | null): Promise<Resolved> {
  const [existing] = await q<{ user_id: string }[]>`
    select user_id from auth.identities where provider = ${provider} and provider_id = ${pu.id} for update`;
  let userId: string;
  let created = false;
  if (existing) {
    if (linkUserId && existing.user_id !== linkUserId) throw IdentityErrors.alreadyLinked();
    userId = existing.user_id;
    await q`update auth.identities set identity_data = ${q.json(pu.claims as postgres.JSONValue)}, last_sign_in_at = now(), updated_at = now()
            where provider = ${provider} and provider_id = ${pu.id}`;
    // GoTrue refreshes the profile fields from the provider at each sign-in.
    await q`update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || ${q.json(pu.claims as postgres.JSONValue)},
              updated_at = now() where id = ${userId}`;
  } else if (linkUserId) {
    userId = linkUserId;
    await insertIdentity(q, userId, provider, pu);
  } else {
    const byEmail = pu.email ? await findUser(q, { email: pu.email }) : null;
    if (byEmail && !pu.emailVerified) throw IdentityErrors.unverifiedTaken();
    if (byEmail) {
      userId = byEmail.id;
      await insertIdentity(q, userId, provider, pu);
      await q`update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()) where id = ${userId}`;
    } else {
      if (!ctx.config.auth.enableSignup) throw AuthErrors.signupDisabled();
      const confirmed = pu.emailVerified || ctx.autoconfirm;
      if (pu.email && !confirmed) throw IdentityErrors.needsVerification(provider);
      userId = crypto.randomUUID();
      await q`insert into auth.users (id, instance_id, aud, role, email, raw_user_meta_data, raw_app_meta_data, email_confirmed_at, created_at, updated_at)
              values (${userId}, '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', ${pu.email},
                      ${q.json(pu.claims as postgres.JSONValue)}, ${q.json({ provider, providers: [provider] })},
                      ${pu.email ? q`now()` : null}, now(), now())`;
      await q`insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
              values (${pu.id}, ${userId}, ${q.json(pu.claims as postgres.JSONValue)}, ${provider}, now(), now(), now())`;
      created = true;
    }
  }
  const user = await findUser(q, { id: userId });
  if (!user || user.deleted_at) throw AuthErrors.userNotFound();
  if (isBanned(user)) throw AuthErrors.userBanned();
  return { user, created };
}

/** unlinkIdentity: the identity must be the caller's, and not their last one. */
export async function unlinkIdentity(ctx: AuthContext, userId: string, identityId: string): Promise<void> {
  if (!isUuid(identityId)) throw IdentityErrors.notFound();
  await ctx.db.sql.begin(async (tx) => {
    const rows = await tx<{ id: string; provider: string }[]>`
      select id, provider from auth.identities where user_id = ${userId} for update`;
    const target = rows.find((r) => r.id === identityId);
    if (!target) throw IdentityErrors.notFound();
    if (rows.length < 2) throw IdentityErrors.single();
    await tx`delete from auth.identities where id = ${identityId}`;
    const left = [...new Set(rows.filter((r) => r.id !== identityId).map((r) => r.provider))];
    await tx`update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb)
               || jsonb_build_object('providers', ${tx.json(left)}::jsonb)
               || case when raw_app_meta_data->>'provider' = ${target.provider} then jsonb_build_object('provider', ${left[0]!}::text) else '{}'::jsonb end,
               updated_at = now()
             where id = ${userId}`;
  });
}
