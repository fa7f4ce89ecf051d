// Users and identities: how a row of auth.users (with its identities) reads in GoTrue's JSON, the
// lookups by email / phone / username / id, and creation. All user reads go through USER_SELECT so
// that one query returns the user with its identities.
import type { Sql } from "../db/pool.ts";
import type postgres from "postgres";

type Q = Sql | postgres.TransactionSql;

export interface IdentityJson {
  identity_id: string;
  id: string;
  user_id: string;
  identity_data: Record<string, unknown>;
  provider: string;
  last_sign_in_at: string | null;
  created_at: string | null;
  updated_at: string | null;
  email: string | null;
}

export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  phone: string | null;
  username: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  phone_confirmed_at: Date | null;
  confirmed_at: Date | null;
  confirmation_sent_at: Date | null;
  recovery_sent_at: Date | null;
  email_change_sent_at: Date | null;
  email_change: string | null;
  /** Confirmations received for the pending email change (0 or 1; see email-change.ts). */
  email_change_confirm_status: number;
  phone_change: string | null;
  phone_change_sent_at: Date | null;
  invited_at: Date | null;
  reauthentication_sent_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  created_at: Date | null;
  updated_at: Date | null;
  banned_until: Date | null;
  deleted_at: Date | null;
  is_anonymous: boolean;
  is_sso_user: boolean;
  identities: IdentityJson[];
  factors?: FactorJson[];
}

/** An MFA factor as GoTrue's JSON shows it (models/factor.go; the secret never leaves). */
export interface FactorJson {
  id: string;
  friendly_name?: string;
  factor_type: string;
  status: string;
  created_at: string;
  updated_at: string;
  last_challenged_at: string | null;
  phone?: string;
}

/** SQL that builds a FactorJson from auth.mfa_factors aliased `f` (our own fixed text). */
export const FACTOR_JSON = `json_strip_nulls(json_build_object('id', f.id, 'friendly_name', nullif(f.friendly_name, ''),
      'factor_type', f.factor_type, 'status', f.status,
      'created_at', to_char(f.created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'updated_at', to_char(f.updated_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'phone', f.phone))::jsonb || jsonb_build_object('last_challenged_at',
      to_char(f.last_challenged_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))`;

/**
 * The columns of a user plus its identities as one JSON array. Interpolated into queries as a
 * fragment of our own text (never user input), with `u` the alias of auth.users.
 */
export const USER_COLUMNS = `u.id, u.aud, u.role, u.email, u.phone, u.username, u.encrypted_password,
  u.email_confirmed_at, u.phone_confirmed_at, u.confirmed_at, u.confirmation_sent_at, u.recovery_sent_at,
  u.email_change_sent_at, u.email_change, coalesce(u.email_change_confirm_status, 0)::int as email_change_confirm_status,
  u.phone_change, u.phone_change_sent_at, u.invited_at, u.reauthentication_sent_at, u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data, u.created_at, u.updated_at,
  u.banned_until, u.deleted_at, u.is_anonymous, u.is_sso_user,
  coalesce((select json_agg(json_build_object(
      'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id, 'identity_data', i.identity_data,
      'provider', i.provider, 'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at,
      'updated_at', i.updated_at, 'email', i.email) order by i.created_at)
    from auth.identities i where i.user_id = u.id), '[]'::json) as identities,
  coalesce((select json_agg(${FACTOR_JSON} order by f.created_at)
    from auth.mfa_factors f where f.user_id = u.id), '[]'::json) as factors`;

const iso = (d: Date | null | undefined): string | undefined => (d ? d.toISOString() : undefined);

export interface UserJson extends Record<string, unknown> {
  id: string;
}

/** A user in GoTrue's JSON shape (models/user.go): unset timestamps are left out, as Go's omitempty does. */
export function userJson(u: UserRow): UserJson {
  const out: UserJson = {
    id: u.id,
    aud: u.aud ?? "",
    role: u.role ?? "",
    email: u.email ?? "",
    email_confirmed_at: iso(u.email_confirmed_at),
    phone: u.phone ?? "",
    phone_confirmed_at: iso(u.phone_confirmed_at),
    confirmation_sent_at: iso(u.confirmation_sent_at),
    confirmed_at: iso(u.confirmed_at),
    recovery_sent_at: iso(u.recovery_sent_at),
    email_change_sent_at: iso(u.email_change_sent_at),
    new_email: u.email_change || undefined,
    phone_change_sent_at: iso(u.phone_change_sent_at),
    new_phone: u.phone_change || undefined,
    invited_at: iso(u.invited_at),
    reauthentication_sent_at: iso(u.reauthentication_sent_at),
    last_sign_in_at: iso(u.last_sign_in_at),
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    identities: u.identities ?? [],
    factors: u.factors ?? [],
    created_at: iso(u.created_at),
    updated_at: iso(u.updated_at),
    banned_until: iso(u.banned_until),
    deleted_at: iso(u.deleted_at),
    is_anonymous: u.is_anonymous,
    is_sso_user: u.is_sso_user || undefined,
    username: u.username ?? undefined,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

export const isBanned = (u: Pick<UserRow, "banned_until">, now = Date.now()): boolean => u.banned_until !== null && u.banned_until.getTime() > now;

export type Lookup = { email: string } | { phone: string } | { username: string } | { id: string };

// The fragments below are fixed text chosen by key; values are always bind parameters.
export async function findUser(q: Q, by: Lookup): Promise<UserRow | null> {
  let rows: UserRow[];
  if ("email" in by) rows = await q.unsafe(`select ${USER_COLUMNS} from auth.users u where u.email = $1 and u.is_sso_user = false`, [by.email]);
  else if ("phone" in by) rows = await q.unsafe(`select ${USER_COLUMNS} from auth.users u where u.phone = $1`, [by.phone]);
  else if ("username" in by) rows = await q.unsafe(`select ${USER_COLUMNS} from auth.users u where u.username = $1`, [by.username]);
  else {
    if (!isUuid(by.id)) return null;
    rows = await q.unsafe(`select ${USER_COLUMNS} from auth.users u where u.id = $1`, [by.id]);
  }
  return rows[0] ?? null;
}

export const isUuid = (s: unknown): s is string => typeof s === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export interface NewUser {
  id?: string;
  email?: string | null;
  phone?: string | null;
  username?: string | null;
  encryptedPassword?: string | null;
  userMetadata?: Record<string, unknown>;
  appMetadata?: Record<string, unknown>;
  emailConfirmed?: boolean;
  phoneConfirmed?: boolean;
  invited?: boolean;
  isAnonymous?: boolean;
  role?: string;
  bannedUntil?: Date | null;
}

/** The provider an account signs in with first, as app_metadata.provider names it. */
function primaryProvider(u: NewUser): string {
  if (u.isAnonymous) return "anonymous";
  if (u.email) return "email";
  if (u.phone) return "phone";
  return "username";
}

/**
 * Inserts a user and its identity (email, phone or username). after-insert triggers on auth.users
 * (the classic "create a profile" trigger) run inside the caller's transaction.
 */
export async function insertUser(tx: Q, u: NewUser): Promise<UserRow> {
  const provider = primaryProvider(u);
  const appMeta = { ...(u.appMetadata ?? {}), provider, providers: [provider] };
  const [row] = await tx<{ id: string }[]>`
    insert into auth.users (id, instance_id, aud, role, email, phone, username, encrypted_password,
      raw_user_meta_data, raw_app_meta_data, email_confirmed_at, phone_confirmed_at, invited_at,
      is_anonymous, banned_until, created_at, updated_at)
    values (${u.id ?? crypto.randomUUID()}, '00000000-0000-0000-0000-000000000000', 'authenticated',
      ${u.role ?? "authenticated"}, ${u.email ?? null}, ${u.phone ?? null}, ${u.username ?? null},
      ${u.encryptedPassword ?? null}, ${tx.json((u.userMetadata ?? {}) as postgres.JSONValue)},
      ${tx.json(appMeta as postgres.JSONValue)},
      ${u.emailConfirmed ? tx`now()` : null}, ${u.phoneConfirmed ? tx`now()` : null},
      ${u.invited ? tx`now()` : null}, ${u.isAnonymous ?? false}, ${u.bannedUntil ?? null}, now(), now())
    returning id`;
  const id = row!.id;
  if (provider !== "anonymous") {
    const data: Record<string, unknown> = { sub: id, email_verified: !!u.emailConfirmed, phone_verified: !!u.phoneConfirmed };
    if (u.email) data.email = u.email;
    if (u.phone) data.phone = u.phone;
    if (u.username) data.username = u.username;
    // Metadata keys not already taken also land in identity_data, as GoTrue does.
    for (const [k, v] of Object.entries(u.userMetadata ?? {})) if (!(k in data)) data[k] = v;
    await tx`insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
             values (${id}, ${id}, ${tx.json(data as postgres.JSONValue)}, ${provider}, now(), now(), now())`;
  }
  return (await findUser(tx, { id }))!;
}

/** Marks the email (and the email identity) verified. */
export async function confirmEmail(tx: Q, userId: string): Promise<void> {
  await tx`update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now() where id = ${userId}`;
  await tx`update auth.identities set identity_data = identity_data || '{"email_verified": true}'::jsonb, updated_at = now()
           where user_id = ${userId} and provider = 'email'`;
}

export async function confirmPhone(tx: Q, userId: string): Promise<void> {
  await tx`update auth.users set phone_confirmed_at = coalesce(phone_confirmed_at, now()), updated_at = now() where id = ${userId}`;
  await tx`update auth.identities set identity_data = identity_data || '{"phone_verified": true}'::jsonb, updated_at = now()
           where user_id = ${userId} and provider = 'phone'`;
}

/** Adds `provider` to app_metadata.providers and makes sure an identity exists for it. */
export async function ensureIdentity(tx: Q, userId: string, provider: "email" | "phone", data: Record<string, unknown>): Promise<void> {
  await tx`insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
           values (${userId}, ${userId}, ${tx.json({ sub: userId, ...data } as postgres.JSONValue)}, ${provider}, now(), now())
           on conflict (provider_id, provider) do update set identity_data = auth.identities.identity_data || excluded.identity_data, updated_at = now()`;
  await tx`update auth.users set raw_app_meta_data = jsonb_set(
             coalesce(raw_app_meta_data, '{}'::jsonb) || case when coalesce(raw_app_meta_data->>'provider', 'anonymous') = 'anonymous'
               then jsonb_build_object('provider', ${provider}::text) else '{}'::jsonb end,
             '{providers}',
             (select coalesce(jsonb_agg(distinct p), '[]'::jsonb) from (
                select jsonb_array_elements_text(coalesce(raw_app_meta_data->'providers', '[]'::jsonb)) p
                union select ${provider}::text) s
              where p <> 'anonymous'))
           where id = ${userId}`;
}

/** Merges metadata the way GoTrue's UpdateUserMetaData does: keys set to null are removed. */
export function mergeMetadata(current: Record<string, unknown> | null, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...(current ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** A stand-in answer for sign-ups of an existing address, so they cannot be told apart (GoTrue's sanitizeUser). */
export function obfuscatedUser(fields: { email?: string; phone?: string; data?: Record<string, unknown> }): UserJson {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(),
    aud: "authenticated",
    role: "authenticated",
    email: fields.email ?? "",
    phone: fields.phone ?? "",
    confirmation_sent_at: now,
    app_metadata: { provider: fields.email ? "email" : "phone", providers: [fields.email ? "email" : "phone"] },
    user_metadata: fields.data ?? {},
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  };
}
