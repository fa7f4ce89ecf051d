// GET /user, PUT /user, GET /reauthenticate, POST /logout: the bearer's own account.
import { Elysia } from "elysia";
import { z } from "zod";
import { callerOf, currentUser, logout, reauthenticate, updateUser } from "../account.ts";
import { audited } from "../audit.ts";
import type { AuthContext } from "../context.ts";
import { AuthErrors, reply } from "../errors.ts";
import { metadata, optString, parseBody, pkceChallenge, pkceFields } from "../input.ts";
import type { LogoutScope } from "../sessions.ts";
import { userJson } from "../users.ts";
import { clientOf, guarded, principalOf, redirectOf } from "./guard.ts";

const UpdateBody = z.object({
  email: optString(320),
  phone: optString(64),
  password: optString(4096),
  current_password: optString(4096),
  nonce: optString(64),
  data: metadata,
  app_metadata: metadata,
  channel: optString(16),
  ...pkceFields,
});

const SCOPES: LogoutScope[] = ["global", "local", "others"];

export const userRoutes = (ctx: AuthContext) =>
  new Elysia()
    .get(
      "/user",
      guarded(async (c) => reply(userJson(await currentUser(ctx, callerOf(principalOf(c.request)))))),
    )
    .put(
      "/user",
      guarded(async (c) => {
        const caller = callerOf(principalOf(c.request));
        const body = parseBody(UpdateBody, c.body);
        const action = body.password ? "end_user.password.change" : body.email || body.phone ? "end_user.identity.change" : "end_user.update";
        const user = await audited(ctx, c.request, action, { security: !!(body.password || body.email || body.phone) }, () =>
          updateUser(ctx, clientOf(ctx, c.request), caller, {
            email: body.email,
            phone: body.phone,
            password: body.password,
            currentPassword: body.current_password,
            nonce: body.nonce,
            data: body.data,
            appMetadata: body.app_metadata,
            pkce: pkceChallenge(body),
            redirectTo: redirectOf(ctx, c),
          }),
        );
        return reply(user);
      }),
    )
    .get(
      "/reauthenticate",
      guarded(async (c) => reply(await reauthenticate(ctx, callerOf(principalOf(c.request))))),
    )
    .post(
      "/logout",
      guarded(async (c) => {
        const scope = (c.query.scope ?? "global") as LogoutScope;
        if (!SCOPES.includes(scope)) throw AuthErrors.validation("scope must be one of global, local, others");
        await audited(ctx, c.request, `end_user.logout`, {}, () => logout(ctx, callerOf(principalOf(c.request)), scope));
        return reply(null, 204);
      }),
    );
