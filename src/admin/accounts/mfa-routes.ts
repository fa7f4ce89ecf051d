// An admin's own second factor: GET/DELETE /account/mfa, POST /account/mfa/enroll and
// /account/mfa/verify (signed in: the caller's own account, never another's: no id is taken), and
// the enrolment at sign-in where MFA is required: POST /auth/mfa/enroll and /auth/mfa/enroll/verify
// (open like the other sign-in endpoints; the enrolment token is the credential). Each call is one
// audit record; secrets, codes and tokens are never in it.
import { Elysia } from "elysia";
import { z } from "zod";
import type { AdminContext } from "../context.ts";
import { AdminErrors } from "../errors.ts";
import { RAW_BODY, parseInput } from "../meta/routes/input.ts";
import { adminRoute, noContent, type AdminCall, type AdminHttpDeps } from "../route.ts";
import { adminActor } from "../authorize.ts";
import { clientOf } from "../signin/routes.ts";
import { sessionBody } from "../signin/login.ts";
import { finishSignInEnrolment, startSignInEnrolment } from "./enrol-signin.ts";
import { confirmEnrolment, mfaStatus, startEnrolment, unenrol } from "./mfa.ts";

const Empty = z.object({}).strict();
const VerifyInput = z.object({ factor_id: z.string().max(64), code: z.string().max(64) }).strict();
const CodeInput = z.object({ code: z.string().max(64) }).strict();
const TokenInput = z.object({ enrollment_token: z.string().max(128) }).strict();
const TokenVerifyInput = z.object({ enrollment_token: z.string().max(128), factor_id: z.string().max(64), code: z.string().max(64) }).strict();

/** The caller's own account: an admin session (a key or emergency access has no factor to enrol). */
function ownAccount(c: AdminCall): string {
  const id = c.actor.admin?.id;
  if (!id) throw AdminErrors.validation("Only an admin account has a second factor: sign in as one (a key or emergency access has none)");
  c.audit.target = `admin:${id}`;
  return id;
}

export const accountMfaRoutes = (deps: AdminHttpDeps, ctx: AdminContext) =>
  new Elysia()
    .get(
      "/account/mfa",
      adminRoute(deps, { action: "account.mfa.get", capability: "signed_in" }, async (c) => ({
        ...(await mfaStatus(ctx.sql, ownAccount(c))),
        required: ctx.requireMfa,
      })),
    )
    .post(
      "/account/mfa/enroll",
      adminRoute(deps, { action: "account.mfa.enroll", capability: "signed_in" }, async (c) => {
        const id = ownAccount(c);
        if (c.body !== undefined && c.body !== null && c.body !== "") parseInput(Empty, c.body);
        return startEnrolment(ctx, id);
      }),
      RAW_BODY,
    )
    .post(
      "/account/mfa/verify",
      adminRoute(deps, { action: "account.mfa.verify", capability: "signed_in" }, async (c) => {
        const id = ownAccount(c);
        c.audit.security = true;
        const { factor_id, recovery_codes } = await confirmEnrolment(ctx, clientOf(c), id, parseInput(VerifyInput, c.body));
        return { factor_id, recovery_codes };
      }),
      RAW_BODY,
    )
    .delete(
      "/account/mfa",
      adminRoute(deps, { action: "account.mfa.unenroll", capability: "signed_in" }, async (c) => {
        const id = ownAccount(c);
        c.audit.security = true;
        await unenrol(ctx, clientOf(c), id, parseInput(CodeInput, c.body).code);
        return noContent();
      }),
      RAW_BODY,
    )
    .post(
      "/auth/mfa/enroll",
      adminRoute(deps, { action: "auth.mfa_enroll", capability: "public" }, async (c) => {
        const { adminId, ...started } = await startSignInEnrolment(ctx, clientOf(c), parseInput(TokenInput, c.body).enrollment_token);
        c.audit.target = `admin:${adminId}`;
        return started;
      }),
      RAW_BODY,
    )
    .post(
      "/auth/mfa/enroll/verify",
      adminRoute(deps, { action: "auth.mfa_enroll_verify", capability: "public" }, async (c) => {
        c.audit.security = true;
        const { signedIn, recovery_codes } = await finishSignInEnrolment(ctx, clientOf(c), parseInput(TokenVerifyInput, c.body));
        const a = signedIn.admin;
        c.audit.actor = adminActor({ id: a.id!, email: a.email, level: a.level, tables: a.tables }, "admin_session", signedIn.session.id);
        c.audit.target = `admin:${a.id}`;
        return { ...sessionBody(signedIn), recovery_codes };
      }),
      RAW_BODY,
    );
