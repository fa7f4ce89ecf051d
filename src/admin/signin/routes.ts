// POST /auth/login, /auth/mfa, /auth/emergency: the admin API's sign-in endpoints, open without a
// key (the gateway lets them through: see app.ts). Each is audited; a successful one names the
// admin (and session) it signed in, a failed one the identifier tried.
import { Elysia } from "elysia";
import { adminActor, emergencyActor, type AdminActor } from "../authorize.ts";
import type { AdminContext } from "../context.ts";
import { RAW_BODY, parseInput } from "../meta/routes/input.ts";
import { adminRoute, type AdminCall, type AdminHttpDeps } from "../route.ts";
import type { ClientInfo } from "../sessions/store.ts";
import { z } from "zod";
import { redeemEmergencyCode } from "./emergency.ts";
import { mfaLogin, passwordLogin, sessionBody, type SignedIn } from "./login.ts";
import { requestContext } from "../../lib/request-context.ts";

const LoginInput = z.object({ email: z.string().max(320).nullish(), username: z.string().max(64).nullish(), password: z.string().max(4096) }).strict();
const MfaInput = z.object({ challenge_token: z.string().max(128), code: z.string().max(64) }).strict();
const EmergencyInput = z.object({ code: z.string().max(128) }).strict();

export function clientOf(call: AdminCall): ClientInfo {
  return { ip: requestContext(call.request)?.ip ?? null, userAgent: call.request.headers.get("user-agent") };
}

const signedInActor = (s: SignedIn): AdminActor =>
  adminActor({ id: s.admin.id!, email: s.admin.email, level: s.admin.level, tables: s.admin.tables }, "admin_session", s.session.id);

export const signInRoutes = (deps: AdminHttpDeps, ctx: AdminContext) =>
  new Elysia()
    .post(
      "/auth/login",
      adminRoute(deps, { action: "auth.login", capability: "public" }, async (c) => {
        const input = parseInput(LoginInput, c.body);
        c.audit.target = input.email ? `email:${input.email.trim().toLowerCase()}` : input.username ? `username:${input.username.trim().toLowerCase()}` : null;
        const outcome = await passwordLogin(ctx, clientOf(c), input);
        if ("challenge" in outcome) {
          // The password was right; the record names the account, not yet signed in.
          c.audit.target = `admin:${outcome.adminId}`;
          return { mfa_required: true, ...outcome.challenge };
        }
        c.audit.actor = signedInActor(outcome.signedIn);
        return sessionBody(outcome.signedIn);
      }),
      RAW_BODY,
    )
    .post(
      "/auth/mfa",
      adminRoute(deps, { action: "auth.mfa", capability: "public" }, async (c) => {
        const signedIn = await mfaLogin(ctx, clientOf(c), parseInput(MfaInput, c.body));
        c.audit.actor = signedInActor(signedIn);
        return sessionBody(signedIn);
      }),
      RAW_BODY,
    )
    .post(
      "/auth/emergency",
      adminRoute(deps, { action: "auth.emergency", capability: "public" }, async (c) => {
        c.audit.security = true;
        const signedIn = await redeemEmergencyCode(ctx, clientOf(c), parseInput(EmergencyInput, c.body));
        c.audit.actor = emergencyActor(signedIn.session.id, signedIn.codeId);
        c.audit.target = `emergency_code:${signedIn.codeId}`;
        c.audit.reason = signedIn.reason;
        return { ...sessionBody(signedIn), emergency: true };
      }),
      RAW_BODY,
    );
