// POST /signup: email, phone or username with a password; no identifier at all is anonymous.
import { Elysia } from "elysia";
import { z } from "zod";
import { audited, identifierTarget } from "../audit.ts";
import type { AuthContext } from "../context.ts";
import { reply } from "../errors.ts";
import { metadata, optString, parseBody, pkceChallenge, pkceFields } from "../input.ts";
import { signUp } from "../signup.ts";
import { pluginsOf } from "../../plugins/auth-events.ts";
import { clientOf, guarded, redirectOf } from "./guard.ts";

const SignupBody = z.object({
  email: optString(320),
  phone: optString(64),
  username: optString(64),
  password: optString(4096),
  data: metadata,
  channel: optString(16),
  ...pkceFields,
});

export const signupRoutes = (ctx: AuthContext) =>
  new Elysia().post(
    "/signup",
    guarded(async (c) => {
      const body = parseBody(SignupBody, c.body);
      await pluginsOf(ctx)?.runHooks("auth.before_sign_up", { email: body.email ?? null, phone: body.phone ?? null, username: body.username ?? null, data: body.data ?? {} });
      const result = await audited(ctx, c.request, "end_user.signup", { target: identifierTarget(body) }, () =>
        signUp(ctx, clientOf(ctx, c.request), {
          email: body.email,
          phone: body.phone,
          username: body.username,
          password: body.password,
          data: body.data,
          pkce: pkceChallenge(body),
          redirectTo: redirectOf(ctx, c),
        }),
      );
      pluginsOf(ctx)?.notify("auth.after_sign_up", { user: (result as { user?: unknown }).user ?? result });
      return reply(result);
    }),
  );
