// /admin/users[...], /admin/generate_link and /invite: service_role only.
import { Elysia } from "elysia";
import { z } from "zod";
import {
  LINK_TYPES,
  createUser,
  deleteUser,
  generateLink,
  getUser,
  invite,
  listUsers,
  parseSort,
  requireServiceRole,
  updateUserById,
  type LinkType,
} from "../user-admin.ts";
import { adminActionOf, audited, identifierTarget } from "../audit.ts";
import type { AuthContext } from "../context.ts";
import { AuthErrors, reply } from "../errors.ts";
import { metadata, optString, parseBody } from "../input.ts";
import { adminDeleteFactor, adminListFactors } from "../mfa.ts";
import { clientOf, guarded, principalOf, redirectOf, type RouteContext } from "./guard.ts";

const AdminUserBody = z.object({
  id: optString(64),
  email: optString(320),
  phone: optString(64),
  username: optString(64),
  password: optString(4096),
  password_hash: optString(1024),
  email_confirm: z
    .boolean()
    .nullish()
    .transform((v) => v ?? undefined),
  phone_confirm: z
    .boolean()
    .nullish()
    .transform((v) => v ?? undefined),
  user_metadata: metadata,
  app_metadata: metadata,
  role: optString(64),
  ban_duration: optString(64),
});

const GenerateLinkBody = z.object({
  type: optString(32),
  email: optString(320),
  password: optString(4096),
  data: metadata,
  new_email: optString(320),
  redirect_to: optString(2048),
});

const InviteBody = z.object({ email: optString(320), data: metadata });
const DeleteBody = z.object({ should_soft_delete: z.boolean().nullish() });

const positiveInt = (value: string | undefined, fallback: number, max: number): number => {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw AuthErrors.validation("page and per_page must be positive integers");
  return Math.min(n, max);
};

/**
 * The same guard as everywhere, plus the service_role check before anything else; every call
 * (refused ones too) is one audit entry (audit.ts).
 */
const admin = (ctx: AuthContext, fn: (c: RouteContext) => Promise<Response>) =>
  guarded(async (c) => {
    const { action, userId } = adminActionOf(c.request.method, new URL(c.request.url).pathname);
    const target = userId ? `user:${userId}` : identifierTarget(typeof c.body === "object" && c.body ? (c.body as { email?: string }) : {});
    return audited(ctx, c.request, action, { target, security: true }, async () => {
      requireServiceRole(principalOf(c.request));
      return fn(c);
    });
  });

export const adminRoutes = (ctx: AuthContext) =>
  new Elysia()
    .get(
      "/admin/users",
      admin(ctx, async (c) => {
        const page = positiveInt(c.query.page, 1, 1_000_000);
        const perPage = positiveInt(c.query.per_page, 50, 1000);
        const search = new URL(c.request.url).searchParams;
        const filter = search.get("filter") ?? undefined;
        if (filter !== undefined && filter.length > 320) throw AuthErrors.validation("filter is too long");
        const sortValues = search.getAll("sort");
        const sort = parseSort(sortValues);
        const { users, total } = await listUsers(ctx, { page, perPage, filter, sort });
        const last = Math.max(1, Math.ceil(total / perPage));
        // auth-js reads the page as the first '=' value of each link and splits the header on ',':
        // keep `page` first, and the rest percent-encoded (URLSearchParams encodes ',').
        const rest = new URLSearchParams({ per_page: String(perPage) });
        if (filter) rest.set("filter", filter);
        for (const v of sortValues) rest.append("sort", v);
        const link = (p: number) => `</admin/users?page=${p}&${rest.toString()}>`;
        const links: string[] = [];
        if (page < last) links.push(`${link(page + 1)}; rel="next"`);
        links.push(`${link(last)}; rel="last"`);
        return reply({ users, aud: "authenticated" }, 200, { "x-total-count": String(total), link: links.join(", ") });
      }),
    )
    .post(
      "/admin/users",
      admin(ctx, async (c) => reply(await createUser(ctx, parseBody(AdminUserBody, c.body)))),
    )
    .get(
      "/admin/users/:id",
      admin(ctx, async (c) => reply(await getUser(ctx, c.params.id!))),
    )
    .put(
      "/admin/users/:id",
      admin(ctx, async (c) => reply(await updateUserById(ctx, c.params.id!, parseBody(AdminUserBody, c.body)))),
    )
    .delete(
      "/admin/users/:id",
      admin(ctx, async (c) => {
        const body = parseBody(DeleteBody, c.body);
        await deleteUser(ctx, c.params.id!, body.should_soft_delete ?? false);
        return reply({});
      }),
    )
    .get(
      "/admin/users/:id/factors",
      admin(ctx, async (c) => reply(await adminListFactors(ctx, c.params.id!))),
    )
    .delete(
      "/admin/users/:id/factors/:factorId",
      admin(ctx, async (c) => reply(await adminDeleteFactor(ctx, c.params.id!, c.params.factorId!))),
    )
    .post(
      "/admin/generate_link",
      admin(ctx, async (c) => {
        const body = parseBody(GenerateLinkBody, c.body);
        if (!body.type || !(LINK_TYPES as readonly string[]).includes(body.type)) {
          throw AuthErrors.validation(`type must be one of ${LINK_TYPES.join(", ")}`);
        }
        if (!body.email) throw AuthErrors.validation("generate_link requires an email");
        const result = await generateLink(ctx, clientOf(ctx, c.request), {
          type: body.type as LinkType,
          email: body.email,
          password: body.password,
          data: body.data,
          newEmail: body.new_email,
          redirectTo: redirectOf(ctx, c, body.redirect_to),
        });
        return reply(result);
      }),
    )
    .post(
      "/invite",
      admin(ctx, async (c) => {
        const body = parseBody(InviteBody, c.body);
        if (!body.email) throw AuthErrors.validation("An email address is required");
        return reply(await invite(ctx, clientOf(ctx, c.request), { email: body.email, data: body.data, redirectTo: redirectOf(ctx, c) }));
      }),
    );
