// POST /token?grant_type=password|refresh_token|pkce.
import { Elysia } from "elysia";
import { z } from "zod";
import { audited, identifierTarget } from "../audit.ts";
import { takeIp, type AuthContext } from "../context.ts";
import { AuthErrors, reply } from "../errors.ts";
import { optString, parseBody } from "../input.ts";
import { passwordGrant, pkceGrant, refreshGrant } from "../signin.ts";
import { clientOf, guarded } from "./guard.ts";
import { idTokenRoute } from "../oauth/routes.ts";
import { passwordWithDirectory } from "../ldap/signin.ts";
import { pluginsOf } from "../../plugins/auth-events.ts";

const PasswordBody = z.object({
  email: optString(320),
  phone: optString(64),
  username: optString(64),
  password: optString(4096),
});
const RefreshBody = z.object({ refresh_token: optString(1024) });
const PkceBody = z.object({ auth_code: optString(256), code_verifier: optString(256) });

export const tokenRoutes = (ctx: AuthContext) =>
  new Elysia().post(
    "/token",
    guarded(async (c) => {
      const client = clientOf(ctx, c.request);
      takeIp(ctx, "token", client.ip);
      switch (c.query.grant_type) {
        case "password": {
          const body = parseBody(PasswordBody, c.body);
          const session = await audited(ctx, c.request, "end_user.signin.password", { target: identifierTarget(body) }, () =>
            passwordWithDirectory(ctx, client, body, () => passwordGrant(ctx, client, body)),
          );
          pluginsOf(ctx)?.notify("auth.after_sign_in", { user: session.user, method: "password" });
          return reply(session);
        }
        case "refresh_token": {
          const body = parseBody(RefreshBody, c.body);
          return reply(await refreshGrant(ctx, body.refresh_token, client));
        }
        case "pkce": {
          const body = parseBody(PkceBody, c.body);
          return reply(await audited(ctx, c.request, "end_user.signin.pkce", {}, () => pkceGrant(ctx, client, body.auth_code, body.code_verifier)));
        }
        case "id_token":
          return idTokenRoute(ctx, c);
        default:
          throw AuthErrors.unsupportedGrant();
      }
    }),
  );
