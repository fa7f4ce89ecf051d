// Admin operations (service_role only): list, create, read, update, delete users; generate links
// for a custom mail pipeline; invite by email.
import type postgres from "postgres";
import type { Principal } from "../db/pool.ts";
import type { AuthContext, Client } from "./context.ts";
import { takeSend } from "./context.ts";
import { AuthErrors } from "./errors.ts";
import { normaliseEmail, normalisePhoneNumber, normaliseUsername } from "./input.ts";
import { actionLink, requireMailer, sendEmail } from "./messages.ts";
import { issueToken, type TokenType, type VerifyType } from "./otp.ts";
import { assertPasswordAcceptable, hashPassword } from "./passwords.ts";
import { userWriteError } from "./signup.ts";
import {
  USER_COLUMNS,
  confirmEmail,
  confirmPhone,
  ensureIdentity,
  findUser,
  insertUser,
  isUuid,
  mergeMetadata,
  userJson,
  type UserJson,
  type UserRow,
} from "./users.ts";

export function requireServiceRole(principal: Principal | null | undefined): void {
  if (principal?.role !== "service_role") throw AuthErrors.notAdmin();
}

/** Go duration strings, as GoTrue's ban_duration takes them ("24h", "1h30m", "90s"). */
export function parseGoDuration(text: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    ms += Number(m[1]) * unit[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 && Number.isFinite(ms) ? ms : null;
}

function bannedUntil(banDuration: string | undefined): Date | null | undefined {
  if (banDuration === undefined) return undefined;
  if (banDuration === "none") return null;
  const ms = parseGoDuration(banDuration);
  if (ms === null) throw AuthErrors.validation("invalid format for ban duration: use e.g. 24h, 30m or none");
  return new Date(Date.now() + ms);
}

export type SortField = "created_at" | "updated_at" | "last_sign_in_at" | "email";
export interface SortKey {
  field: SortField;
  dir: "asc" | "desc";
}

/** Columns /admin/users may sort by: GoTrue's created_at, plus a few an admin UI wants. */
const SORT_COLUMNS: Record<SortField, string> = {
  created_at: "u.created_at",
  updated_at: "u.updated_at",
  last_sign_in_at: "u.last_sign_in_at",
  email: "u.email",
};

/**
 * GoTrue's `sort` parameter: "created_at", "created_at asc", "created_at desc" (repeatable; here
 * also comma-separated). Default: newest first.
 */
export function parseSort(values: readonly string[]): SortKey[] {
  const keys: SortKey[] = [];
  for (const value of values.flatMap((v) => v.split(","))) {
    const [field, dir, ...rest] = value.trim().split(/\s+/);
    if (!field) continue;
    if (!(field in SORT_COLUMNS) || rest.length > 0) {
      throw AuthErrors.validation(`Bad Sort Parameters: bad field for sort '${field}' (use ${Object.keys(SORT_COLUMNS).join(", ")})`);
    }
    const d = (dir ?? "desc").toLowerCase();
    if (d !== "asc" && d !== "desc") throw AuthErrors.validation(`Bad Sort Parameters: bad direction for sort '${dir}', only 'asc' and 'desc' allowed`);
    keys.push({ field: field as SortField, dir: d });
  }
  return keys.length > 0 ? keys : [{ field: "created_at", dir: "desc" }];
}

/**
 * The ORDER BY list for sort keys over auth.users aliased `u` (the admin API's user listing uses it
 * too): fixed text only, columns from SORT_COLUMNS and directions from the parser. The default
 * order is users_created_at_idx's (created_at desc, id); u.id keeps pages stable.
 */
export function orderByOf(sort: readonly SortKey[]): string {
  return [...sort.map((k) => `${SORT_COLUMNS[k.field]} ${k.dir}${k.field === "last_sign_in_at" ? " nulls last" : ""}`), "u.id"].join(", ");
}

/** A LIKE pattern matching `text` anywhere, with LIKE's own metacharacters taken literally. */
const containsPattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export interface ListUsersQuery {
  page: number;
  perPage: number;
  /** Substring of the email (GoTrue), full_name in user_metadata (GoTrue), phone or username. */
  filter?: string;
  sort?: SortKey[];
}

/**
 * The search condition of a user listing over auth.users aliased `u` (the admin API's listing uses
 * it too): a case-insensitive substring of the email, username or user_metadata.full_name, or the
 * digits of a phone number. Fixed text using $1 and $2, which are `params`; callers number theirs
 * from $3.
 */
export function userSearch(filter: string | undefined): { where: string; params: [string | null, string | null] } {
  const text = filter?.trim() ? filter.trim() : null;
  // Phones are stored as E.164 digits without "+": "+233 24…" finds them by its digits.
  const phoneDigits = text && /^[+\d\s().-]+$/.test(text) ? text.replace(/\D/g, "") : "";
  return {
    where: `($1::text is null or u.email ilike $1 or u.username ilike $1 or u.raw_user_meta_data->>'full_name' ilike $1
             or ($2::text is not null and u.phone like $2))`,
    params: [text ? containsPattern(text) : null, phoneDigits ? containsPattern(phoneDigits) : null],
  };
}

export async function listUsers(ctx: AuthContext, q: ListUsersQuery): Promise<{ users: UserJson[]; total: number }> {
  const offset = (q.page - 1) * q.perPage;
  // Fixed text only: columns from SORT_COLUMNS, directions from the parser; values are parameters.
  const { where, params } = userSearch(q.filter);
  const order = orderByOf(q.sort ?? parseSort([]));
  const rows = (await ctx.db.sql.unsafe(
    `select ${USER_COLUMNS}, count(*) over () as total from auth.users u where ${where} order by ${order} limit $3 offset $4`,
    [...params, q.perPage, offset],
  )) as (UserRow & { total: string })[];
  let total = rows[0] ? Number(rows[0].total) : 0;
  if (!rows[0] && offset > 0) {
    const [c] = (await ctx.db.sql.unsafe(`select count(*) as n from auth.users u where ${where}`, params)) as { n: string }[];
    total = Number(c!.n);
  }
  return { users: rows.map(userJson), total };
}

export async function getUser(ctx: AuthContext, id: string): Promise<UserJson> {
  const user = isUuid(id) ? await findUser(ctx.db.sql, { id }) : null;
  if (!user) throw AuthErrors.userNotFound();
  return userJson(user);
}

export interface AdminAttributes {
  id?: string;
  email?: string;
  phone?: string;
  username?: string;
  password?: string;
  password_hash?: string;
  email_confirm?: boolean;
  phone_confirm?: boolean;
  user_metadata?: Record<string, unknown>;
  app_metadata?: Record<string, unknown>;
  role?: string;
  ban_duration?: string;
}

async function passwordFor(ctx: AuthContext, a: AdminAttributes): Promise<string | undefined> {
  if (a.password_hash) {
    if (!/^\$(argon2(id|i|d)|2[aby])\$/.test(a.password_hash)) throw AuthErrors.validation("password_hash must be an argon2 or bcrypt hash");
    return a.password_hash;
  }
  if (a.password) {
    assertPasswordAcceptable(ctx.config, a.password);
    return hashPassword(a.password);
  }
  return undefined;
}

export async function createUser(ctx: AuthContext, a: AdminAttributes): Promise<UserJson> {
  const email = a.email ? normaliseEmail(a.email) : undefined;
  const phone = a.phone ? normalisePhoneNumber(ctx.config, a.phone).stored : undefined;
  const username = a.username ? normaliseUsername(a.username) : undefined;
  if (a.id !== undefined && !isUuid(a.id)) throw AuthErrors.validation("id must be a UUID");
  const encryptedPassword = await passwordFor(ctx, a);
  try {
    return await ctx.db.sql.begin(async (tx) => {
      if (email && (await findUser(tx, { email }))) throw AuthErrors.emailExists();
      if (phone && (await findUser(tx, { phone }))) throw AuthErrors.phoneExists();
      if (username && (await findUser(tx, { username }))) throw AuthErrors.userAlreadyExists("Username is already taken");
      const user = await insertUser(tx, {
        id: a.id,
        email,
        phone,
        username,
        encryptedPassword,
        userMetadata: a.user_metadata,
        appMetadata: a.app_metadata,
        emailConfirmed: !!email && !!a.email_confirm,
        phoneConfirmed: !!phone && !!a.phone_confirm,
        role: a.role,
        bannedUntil: bannedUntil(a.ban_duration) ?? null,
      });
      return userJson(user);
    });
  } catch (err) {
    throw userWriteError(ctx, err);
  }
}

export async function updateUserById(ctx: AuthContext, id: string, a: AdminAttributes): Promise<UserJson> {
  if (!isUuid(id)) throw AuthErrors.userNotFound();
  const email = a.email ? normaliseEmail(a.email) : undefined;
  const phone = a.phone ? normalisePhoneNumber(ctx.config, a.phone).stored : undefined;
  const username = a.username ? normaliseUsername(a.username) : undefined;
  const encryptedPassword = await passwordFor(ctx, a);
  const ban = bannedUntil(a.ban_duration);
  try {
    await ctx.db.sql.begin(async (tx: postgres.TransactionSql) => {
      const user = await findUser(tx, { id });
      if (!user) throw AuthErrors.userNotFound();
      if (email && email !== user.email) {
        if (await findUser(tx, { email })) throw AuthErrors.emailExists();
        await tx`update auth.users set email = ${email}, email_change = '', email_change_confirm_status = 0, is_anonymous = false, updated_at = now()
                 where id = ${id}`;
        await ensureIdentity(tx, id, "email", { email, email_verified: !!a.email_confirm });
      }
      if (phone && phone !== user.phone) {
        if (await findUser(tx, { phone })) throw AuthErrors.phoneExists();
        await tx`update auth.users set phone = ${phone}, phone_change = '', is_anonymous = false, updated_at = now() where id = ${id}`;
        await ensureIdentity(tx, id, "phone", { phone, phone_verified: !!a.phone_confirm });
      }
      if (username !== undefined) await tx`update auth.users set username = ${username}, updated_at = now() where id = ${id}`;
      if (a.email_confirm === true) await confirmEmail(tx, id);
      if (a.email_confirm === false) await tx`update auth.users set email_confirmed_at = null where id = ${id}`;
      if (a.phone_confirm === true) await confirmPhone(tx, id);
      if (a.phone_confirm === false) await tx`update auth.users set phone_confirmed_at = null where id = ${id}`;
      if (encryptedPassword) await tx`update auth.users set encrypted_password = ${encryptedPassword}, updated_at = now() where id = ${id}`;
      if (a.user_metadata) {
        const merged = mergeMetadata(user.raw_user_meta_data, a.user_metadata);
        await tx`update auth.users set raw_user_meta_data = ${tx.json(merged as postgres.JSONValue)}, updated_at = now() where id = ${id}`;
      }
      if (a.app_metadata) {
        // provider/providers are the server's to keep.
        const { provider: _p, providers: _ps, ...rest } = a.app_metadata;
        const merged = mergeMetadata(user.raw_app_meta_data, rest);
        await tx`update auth.users set raw_app_meta_data = ${tx.json(merged as postgres.JSONValue)}, updated_at = now() where id = ${id}`;
      }
      if (a.role !== undefined) await tx`update auth.users set role = ${a.role}, updated_at = now() where id = ${id}`;
      if (ban !== undefined) {
        await tx`update auth.users set banned_until = ${ban}, updated_at = now() where id = ${id}`;
        // A ban ends the user's sessions now; their access tokens die at expiry.
        if (ban) await tx`delete from auth.sessions where user_id = ${id}`;
      }
    });
  } catch (err) {
    throw userWriteError(ctx, err);
  }
  return getUser(ctx, id);
}

export async function deleteUser(ctx: AuthContext, id: string, soft: boolean): Promise<void> {
  if (!isUuid(id)) throw AuthErrors.userNotFound();
  if (!soft) {
    const rows = await ctx.db.sql`delete from auth.users where id = ${id} returning id`;
    if (rows.length === 0) throw AuthErrors.userNotFound();
    return;
  }
  // Soft delete (GoTrue): the row stays for foreign keys, but nothing can sign in as it again.
  await ctx.db.sql.begin(async (tx) => {
    const rows = await tx`update auth.users set deleted_at = now(), email = null, phone = null, username = null,
                            encrypted_password = null, email_change = '', email_change_confirm_status = 0, phone_change = '',
                            raw_user_meta_data = '{}'::jsonb, updated_at = now()
                          where id = ${id} and deleted_at is null returning id`;
    if (rows.length === 0) throw AuthErrors.userNotFound();
    await tx`delete from auth.identities where user_id = ${id}`;
    await tx`delete from auth.sessions where user_id = ${id}`;
    await tx`delete from auth.one_time_tokens where user_id = ${id}`;
  });
}

export const LINK_TYPES = ["signup", "invite", "magiclink", "recovery", "email_change_current", "email_change_new"] as const;
export type LinkType = (typeof LINK_TYPES)[number];

export interface GenerateLinkInput {
  type: LinkType;
  email: string;
  password?: string;
  data?: Record<string, unknown>;
  newEmail?: string;
  redirectTo: string;
}

/** POST /admin/generate_link: creates what the flow needs and returns the link instead of mailing it. */
export async function generateLink(ctx: AuthContext, client: Client, input: GenerateLinkInput): Promise<Record<string, unknown>> {
  const email = normaliseEmail(input.email);
  const newEmail = input.newEmail ? normaliseEmail(input.newEmail) : undefined;
  if (input.type.startsWith("email_change") && !newEmail) throw AuthErrors.validation("Changing an email requires new_email");
  if (input.type === "email_change_current" && !ctx.config.auth.secureEmailChange) {
    throw AuthErrors.validation("Enable secure email change to generate link for current email");
  }
  let encryptedPassword: string | undefined;
  if (input.type === "signup") {
    if (!input.password) throw AuthErrors.unprocessable("Signup requires a valid password");
    assertPasswordAcceptable(ctx.config, input.password);
    encryptedPassword = await hashPassword(input.password);
  }
  try {
    return await ctx.db.sql.begin(async (tx) => {
      let user = await findUser(tx, { email });
      let tokenType: TokenType;
      let verifyType: VerifyType;
      let relatesTo = email;
      switch (input.type) {
        case "signup":
        case "invite":
          if (user?.email_confirmed_at) throw AuthErrors.emailExists();
          if (!user) {
            user = await insertUser(tx, { email, encryptedPassword, userMetadata: input.data, invited: input.type === "invite" });
          }
          tokenType = "confirmation_token";
          verifyType = input.type;
          break;
        case "magiclink":
        case "recovery":
          if (!user) throw AuthErrors.userNotFound();
          tokenType = input.type === "recovery" || user.email_confirmed_at ? "recovery_token" : "confirmation_token";
          verifyType = input.type;
          break;
        default:
          // One link per call, for the current or the new address (GoTrue): in secure mode both
          // links must be generated and followed before the change applies (email-change.ts).
          if (!user) throw AuthErrors.userNotFound();
          if (await findUser(tx, { email: newEmail! })) throw AuthErrors.emailExists();
          await tx`update auth.users set email_change = ${newEmail!}, email_change_sent_at = now(), email_change_confirm_status = 0
                   where id = ${user.id}`;
          verifyType = "email_change";
          if (input.type === "email_change_current") {
            tokenType = "email_change_token_current";
          } else {
            tokenType = "email_change_token_new";
            relatesTo = newEmail!;
          }
      }
      const token = await issueToken(ctx, tx, user.id, tokenType, relatesTo);
      const fresh = (await findUser(tx, { id: user.id }))!;
      return {
        ...userJson(fresh),
        action_link: actionLink(client, token.linkToken, verifyType, input.redirectTo),
        email_otp: token.code,
        hashed_token: token.linkToken,
        redirect_to: input.redirectTo,
        verification_type: verifyType,
      };
    });
  } catch (err) {
    throw userWriteError(ctx, err);
  }
}

/** POST /invite: a new (or not yet confirmed) user and an invitation mail. */
export async function invite(
  ctx: AuthContext,
  client: Client,
  input: { email: string; data?: Record<string, unknown>; redirectTo: string },
): Promise<UserJson> {
  const email = normaliseEmail(input.email);
  requireMailer(ctx);
  takeSend(ctx, "email", email);
  let issued: { user: UserRow; token: Awaited<ReturnType<typeof issueToken>>; created: boolean };
  try {
    issued = await ctx.db.sql.begin(async (tx) => {
      let user = await findUser(tx, { email });
      if (user?.email_confirmed_at) throw AuthErrors.emailExists();
      const created = !user;
      if (!user) user = await insertUser(tx, { email, userMetadata: input.data, invited: true });
      else await tx`update auth.users set invited_at = now() where id = ${user.id}`;
      const token = await issueToken(ctx, tx, user.id, "confirmation_token", email);
      await tx`update auth.users set confirmation_sent_at = now() where id = ${user.id}`;
      return { user: (await findUser(tx, { id: user.id }))!, token, created };
    });
  } catch (err) {
    throw userWriteError(ctx, err);
  }
  const undo = () =>
    issued.created
      ? ctx.db.sql`delete from auth.users where id = ${issued.user.id}`
      : ctx.db.sql`delete from auth.one_time_tokens where id = ${issued.token.id}`;
  await sendEmail(ctx, client, { kind: "invite", to: email, token: issued.token, type: "invite", redirectTo: input.redirectTo }, undo);
  return userJson(issued.user);
}
