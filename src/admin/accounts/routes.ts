// /admins: list, one, create, change level or tables, remove, under the rules of levels (rules.ts,
// applied in accounts.ts). Whoever holds admins:manage reaches these; what it may do to whom is the
// rules' business (only a system_admin touches system admins, nobody its own level, …).
import { Elysia } from "elysia";
import { z } from "zod";
import { normaliseEmail, normaliseUsername } from "../../auth/input.ts";
import { ADMIN_LEVELS } from "../authorize.ts";
import type { AdminContext } from "../context.ts";
import { AdminErrors } from "../errors.ts";
import { RAW_BODY, parseInput } from "../meta/routes/input.ts";
import { adminRoute, created, noContent, type AdminHttpDeps } from "../route.ts";
import { applyLevel, getAdmin, grantAdmin, listAdmins, type UserRef } from "./accounts.ts";

const level = z.enum(ADMIN_LEVELS);
const tables = z.array(z.string().max(200)).max(1000);

const CreateAdminInput = z
  .object({
    user_id: z.string().max(64).optional(),
    email: z.string().max(320).optional(),
    username: z.string().max(64).optional(),
    level,
    tables: tables.optional(),
    /** With an email or username nobody has yet: creates that user (confirmed) with this password. */
    password: z.string().max(1024).optional(),
  })
  .strict();

const PatchAdminInput = z.object({ level: level.optional(), tables: tables.optional() }).strict();

function refOf(input: z.infer<typeof CreateAdminInput>): UserRef {
  if (input.user_id) return { id: input.user_id };
  if (input.email) return { email: normaliseEmail(input.email) };
  if (input.username) return { username: normaliseUsername(input.username) };
  throw AdminErrors.validation("Name the user: user_id, email or username");
}

export const accountRoutes = (deps: AdminHttpDeps, ctx: AdminContext) =>
  new Elysia()
    .get(
      "/admins",
      adminRoute(deps, { action: "admins.list", capability: "admins:manage" }, async () => listAdmins(ctx.sql)),
    )
    .get(
      "/admins/:id",
      adminRoute(deps, { action: "admins.get", capability: "admins:manage" }, async (c) => {
        c.audit.target = `admin:${c.params.id}`;
        const admin = await getAdmin(ctx.sql, c.params.id!);
        if (!admin) throw AdminErrors.notAnAdmin();
        return admin;
      }),
    )
    .post(
      "/admins",
      adminRoute(deps, { action: "admins.create", capability: "admins:manage" }, async (c) => {
        const input = parseInput(CreateAdminInput, c.body);
        const { account } = await grantAdmin(ctx.sql, ctx.config, c.actor, {
          user: refOf(input),
          username: input.user_id || input.email ? input.username : undefined,
          level: input.level,
          tables: input.tables,
          password: input.password,
          existingPassword: "refuse",
          expect: "new",
        });
        c.audit.target = `admin:${account.id}`;
        return created(account);
      }),
      RAW_BODY,
    )
    .patch(
      "/admins/:id",
      adminRoute(deps, { action: "admins.update", capability: "admins:manage" }, async (c) => {
        const id = c.params.id!;
        c.audit.target = `admin:${id}`;
        const input = parseInput(PatchAdminInput, c.body);
        if (input.level === undefined && input.tables === undefined) throw AdminErrors.validation("Nothing to change: give level and/or tables");
        return (await applyLevel(ctx.sql, c.actor, id, { level: input.level ?? "keep", tables: input.tables, expect: "existing" }))!;
      }),
      RAW_BODY,
    )
    .delete(
      "/admins/:id",
      adminRoute(deps, { action: "admins.delete", capability: "admins:manage" }, async (c) => {
        const id = c.params.id!;
        c.audit.target = `admin:${id}`;
        await applyLevel(ctx.sql, c.actor, id, { level: null, expect: "existing" });
        return noContent();
      }),
    );
