// Reading end users for the admin API: the listing (search, paging, sort) and one user with its
// sessions and MFA factors. Each answer is built column by column from auth.users, auth.sessions
// and auth.mfa_factors, so nothing secret can ride along: no password hash, no token, no factor
// secret, no recovery code. The search and the sort are GoTrue's own (/auth/v1/admin/users:
// userSearch and parseSort/orderByOf in src/auth/user-admin.ts).
//
// Soft-deleted users (GoTrue's should_soft_delete) are left out: they have no address, cannot sign
// in, and nothing here can be done to them.
import type postgres from "postgres";
import type { Sql } from "../../db/pool.ts";
import { orderByOf, userSearch, type SortKey } from "../../auth/user-admin.ts";
import { isUuid } from "../../auth/users.ts";
import type { AdminLevel } from "../authorize.ts";

type Q = Sql | postgres.TransactionSql;

/** One end user in a listing (and at the head of the detail). */
export interface EndUserSummary {
  id: string;
  email: string | null;
  phone: string | null;
  username: string | null;
  created_at: string | null;
  last_sign_in_at: string | null;
  email_confirmed: boolean;
  phone_confirmed: boolean;
  banned_until: string | null;
  /** banned_until is in the future. */
  banned: boolean;
  is_anonymous: boolean;
  /** Verified MFA factors (the detail lists every factor with its status). */
  factor_count: number;
  /** The user's admin level, null when it is no admin. */
  admin_level: AdminLevel | null;
}

export interface EndUserDetail extends EndUserSummary {
  updated_at: string | null;
  email_confirmed_at: string | null;
  phone_confirmed_at: string | null;
  invited_at: string | null;
  /** The sign-in providers of its identities (email, phone, username, …). */
  providers: string[];
  user_metadata: Record<string, unknown>;
  app_metadata: Record<string, unknown>;
}

export interface EndUserSession {
  id: string;
  created_at: string | null;
  updated_at: string | null;
  /** The last refresh-token exchange, null before the first. */
  refreshed_at: string | null;
  aal: string | null;
  user_agent: string | null;
  ip: string | null;
  /** When the session ends at the latest (null: no fixed end). */
  not_after: string | null;
}

export interface EndUserFactor {
  id: string;
  factor_type: string;
  status: string;
  friendly_name: string | null;
  created_at: string;
  updated_at: string;
  last_challenged_at: string | null;
}

// Our own fixed text, with auth.users aliased `u` and plinth.admins `a`.
const SUMMARY_COLUMNS = `u.id, u.email, u.phone, u.username, u.created_at, u.last_sign_in_at,
  u.email_confirmed_at is not null as email_confirmed, u.phone_confirmed_at is not null as phone_confirmed,
  u.banned_until, coalesce(u.banned_until > now(), false) as banned, u.is_anonymous,
  (select count(*)::int from auth.mfa_factors f where f.user_id = u.id and f.status = 'verified') as factor_count,
  a.level as admin_level`;

type Stamp = Date | null;
type SummaryRow = Omit<EndUserSummary, "created_at" | "last_sign_in_at" | "banned_until"> & {
  created_at: Stamp;
  last_sign_in_at: Stamp;
  banned_until: Stamp;
};

const iso = (d: Stamp): string | null => (d ? d.toISOString() : null);

const summaryOf = (r: SummaryRow): EndUserSummary => ({
  id: r.id,
  email: r.email,
  phone: r.phone,
  username: r.username,
  created_at: iso(r.created_at),
  last_sign_in_at: iso(r.last_sign_in_at),
  email_confirmed: r.email_confirmed,
  phone_confirmed: r.phone_confirmed,
  banned_until: iso(r.banned_until),
  banned: r.banned,
  is_anonymous: r.is_anonymous,
  factor_count: r.factor_count,
  admin_level: r.admin_level,
});

export interface EndUserQuery {
  search?: string;
  limit: number;
  offset: number;
  sort: SortKey[];
}

export async function listEndUsers(q: Q, query: EndUserQuery): Promise<{ users: EndUserSummary[]; total: number }> {
  // Fixed text only (userSearch's condition, orderByOf's columns and directions); values are parameters.
  const { where, params } = userSearch(query.search);
  const from = `from auth.users u left join plinth.admins a on a.user_id = u.id where u.deleted_at is null and ${where}`;
  const rows = (await q.unsafe(`select ${SUMMARY_COLUMNS}, count(*) over () as total ${from} order by ${orderByOf(query.sort)} limit $3 offset $4`, [
    ...params,
    query.limit,
    query.offset,
  ])) as (SummaryRow & { total: string })[];
  let total = rows[0] ? Number(rows[0].total) : 0;
  // Past the last page the window function has no row to ride on: count on its own.
  if (!rows[0] && query.offset > 0) {
    const [c] = (await q.unsafe(`select count(*) as n ${from}`, params)) as { n: string }[];
    total = Number(c!.n);
  }
  return { users: rows.map(summaryOf), total };
}

/** One live (not soft-deleted) user's summary, or null; an id that is no UUID finds nobody. */
export async function getEndUserSummary(q: Q, id: string): Promise<EndUserSummary | null> {
  if (!isUuid(id)) return null;
  const rows = (await q.unsafe(
    `select ${SUMMARY_COLUMNS} from auth.users u left join plinth.admins a on a.user_id = u.id where u.id = $1 and u.deleted_at is null`,
    [id],
  )) as SummaryRow[];
  return rows[0] ? summaryOf(rows[0]) : null;
}

type DetailRow = SummaryRow & {
  updated_at: Stamp;
  email_confirmed_at: Stamp;
  phone_confirmed_at: Stamp;
  invited_at: Stamp;
  providers: string[];
  raw_user_meta_data: Record<string, unknown> | null;
  raw_app_meta_data: Record<string, unknown> | null;
};

type SessionRow = Omit<EndUserSession, "created_at" | "updated_at" | "refreshed_at" | "not_after"> & {
  created_at: Stamp;
  updated_at: Stamp;
  refreshed_at: Stamp;
  not_after: Stamp;
};
type FactorRow = Omit<EndUserFactor, "created_at" | "updated_at" | "last_challenged_at"> & { created_at: Date; updated_at: Date; last_challenged_at: Stamp };

/** One user with its live sessions and its MFA factors, or null. */
export async function getEndUser(q: Q, id: string): Promise<{ user: EndUserDetail; sessions: EndUserSession[]; factors: EndUserFactor[] } | null> {
  if (!isUuid(id)) return null;
  const rows = (await q.unsafe(
    `select ${SUMMARY_COLUMNS}, u.updated_at, u.email_confirmed_at, u.phone_confirmed_at, u.invited_at,
       u.raw_user_meta_data, u.raw_app_meta_data,
       array(select distinct i.provider from auth.identities i where i.user_id = u.id order by 1) as providers
     from auth.users u left join plinth.admins a on a.user_id = u.id where u.id = $1 and u.deleted_at is null`,
    [id],
  )) as DetailRow[];
  const r = rows[0];
  if (!r) return null;
  // refreshed_at is GoTrue's timestamp without time zone, written in UTC.
  const sessions = await q<SessionRow[]>`
    select s.id, s.created_at, s.updated_at, s.refreshed_at at time zone 'utc' as refreshed_at, s.aal::text as aal, s.user_agent,
           host(s.ip) as ip, s.not_after
    from auth.sessions s
    where s.user_id = ${id} and (s.not_after is null or s.not_after > now())
    order by s.created_at desc, s.id`;
  const factors = await q<FactorRow[]>`
    select f.id, f.factor_type::text as factor_type, f.status::text as status, nullif(f.friendly_name, '') as friendly_name,
           f.created_at, f.updated_at, f.last_challenged_at
    from auth.mfa_factors f where f.user_id = ${id}
    order by f.created_at, f.id`;
  return {
    user: {
      ...summaryOf(r),
      updated_at: iso(r.updated_at),
      email_confirmed_at: iso(r.email_confirmed_at),
      phone_confirmed_at: iso(r.phone_confirmed_at),
      invited_at: iso(r.invited_at),
      providers: r.providers,
      user_metadata: r.raw_user_meta_data ?? {},
      app_metadata: r.raw_app_meta_data ?? {},
    },
    sessions: sessions.map((s) => ({
      ...s,
      created_at: iso(s.created_at),
      updated_at: iso(s.updated_at),
      refreshed_at: iso(s.refreshed_at),
      not_after: iso(s.not_after),
    })),
    factors: factors.map((f) => ({
      ...f,
      created_at: f.created_at.toISOString(),
      updated_at: f.updated_at.toISOString(),
      last_challenged_at: iso(f.last_challenged_at),
    })),
  };
}
