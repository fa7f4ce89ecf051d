// /users: end users for the console and scripts. Reading needs users:read; ban, unban, sign out and
// reset password need users:manage (moderators and up); create, invite and delete need users:admin
// (admins and system admins). Every call is audited; once past the capability check, with the user
// as its target ("user:<id>": adminRoute names no target for an `:id` parameter by itself, so a call
// refused for want of the capability is recorded without one). Whom an admin may act on is
// rules.ts's business; the work is the auth service's (actions.ts).
import { Elysia } from "elysia";
import { z } from "zod";
import { parseSort } from "../../auth/user-admin.ts";
import { clientOf } from "../../auth/routes/guard.ts";
import { safeRedirect } from "../../auth/redirects.ts";
import type { ServiceContext } from "../../service.ts";
import { AdminErrors } from "../errors.ts";
import { RAW_BODY, intParam, parseInput } from "../meta/routes/input.ts";
import { adminRoute, created, noContent, type AdminHttpDeps } from "../route.ts";
import { banUser, createEndUser, deleteEndUser, endUserAuth, inviteEndUser, resetPassword, signOutUser, unbanUser } from "./actions.ts";
import { getEndUser, listEndUsers } from "./directory.ts";

const metadata = z.record(z.string(), z.unknown());
const redirectTo = z.string().max(2048).optional();

const BanInput = z.object({ duration: z.string().min(1).max(64) }).strict();
const ResetInput = z.object({ redirect_to: redirectTo }).strict();
const CreateInput = z
  .object({
    email: z.string().max(320).optional(),
    phone: z.string().max(64).optional(),
    username: z.string().max(64).optional(),
    password: z.string().max(4096).optional(),
    email_confirm: z.boolean().optional(),
    phone_confirm: z.boolean().optional(),
    user_metadata: metadata.optional(),
    app_metadata: metadata.optional(),
  })
  .strict();
const InviteInput = z.object({ email: z.string().min(1).max(320), data: metadata.optional(), redirect_to: redirectTo }).strict();

/** An empty body is as good as `{}` for the actions that take nothing or only options. */
const optionalBody = (raw: unknown): unknown => (raw === undefined || raw === null || raw === "" ? {} : raw);

function offsetParam(value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw AdminErrors.validation("offset must be a non-negative integer");
  return n;
}

export const endUserRoutes = (deps: AdminHttpDeps, svc: ServiceContext) => {
  const auth = endUserAuth(svc);
  return new Elysia()
    .get(
      "/users",
      adminRoute(deps, { action: "users.list", capability: "users:read" }, async (c) => {
        const search = c.query.search ?? "";
        if (search.length > 320) throw AdminErrors.validation("search is too long (at most 320 characters)");
        const result = await listEndUsers(auth.db.sql, {
          search,
          limit: intParam(c.query.limit, "limit", 50, 1000),
          offset: offsetParam(c.query.offset),
          sort: parseSort(new URL(c.request.url).searchParams.getAll("sort")),
        });
        c.audit.rowCount = result.users.length;
        return result;
      }),
    )
    .get(
      "/users/:id",
      adminRoute(deps, { action: "users.get", capability: "users:read" }, async (c) => {
        c.audit.target = `user:${c.params.id}`;
        const found = await getEndUser(auth.db.sql, c.params.id!);
        if (!found) throw AdminErrors.userNotFound();
        return found;
      }),
    )
    .post(
      "/users",
      adminRoute(deps, { action: "users.create", capability: "users:admin" }, async (c) => {
        const user = await createEndUser(auth, parseInput(CreateInput, c.body));
        c.audit.target = `user:${user.id}`;
        return created(user);
      }),
      RAW_BODY,
    )
    .post(
      "/users/invite",
      adminRoute(deps, { action: "users.invite", capability: "users:admin" }, async (c) => {
        const input = parseInput(InviteInput, c.body);
        const user = await inviteEndUser(auth, clientOf(auth, c.request), {
          email: input.email,
          data: input.data,
          redirectTo: safeRedirect(auth.config, input.redirect_to),
        });
        c.audit.target = `user:${user.id}`;
        return user;
      }),
      RAW_BODY,
    )
    .post(
      "/users/:id/ban",
      adminRoute(deps, { action: "users.ban", capability: "users:manage" }, async (c) => {
        c.audit.target = `user:${c.params.id}`;
        const input = parseInput(BanInput, c.body);
        return banUser(auth, c.actor, c.params.id!, input.duration);
      }),
      RAW_BODY,
    )
    .post(
      "/users/:id/unban",
      adminRoute(deps, { action: "users.unban", capability: "users:manage" }, async (c) => {
        c.audit.target = `user:${c.params.id}`;
        return unbanUser(auth, c.actor, c.params.id!);
      }),
      RAW_BODY,
    )
    .post(
      "/users/:id/signout",
      adminRoute(deps, { action: "users.signout", capability: "users:manage" }, async (c) => {
        c.audit.target = `user:${c.params.id}`;
        const ended = await signOutUser(auth, c.actor, c.params.id!);
        c.audit.rowCount = ended;
        return { sessions_ended: ended };
      }),
      RAW_BODY,
    )
    .post(
      "/users/:id/reset-password",
      adminRoute(deps, { action: "users.reset_password", capability: "users:manage" }, async (c) => {
        c.audit.target = `user:${c.params.id}`;
        const input = parseInput(ResetInput, optionalBody(c.body));
        return resetPassword(auth, clientOf(auth, c.request), c.actor, c.params.id!, safeRedirect(auth.config, input.redirect_to));
      }),
      RAW_BODY,
    )
    .delete(
      "/users/:id",
      adminRoute(deps, { action: "users.delete", capability: "users:admin" }, async (c) => {
        c.audit.target = `user:${c.params.id}`;
        await deleteEndUser(auth, c.actor, c.params.id!);
        return noContent();
      }),
    );
};
