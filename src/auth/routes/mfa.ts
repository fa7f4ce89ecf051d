// /factors[...]: MFA for the bearer's own account (TOTP), and Plinth's recovery codes.
import { Elysia } from "elysia";
import { z } from "zod";
import { audited } from "../audit.ts";
import type { AuthContext } from "../context.ts";
import { reply } from "../errors.ts";
import { optString, parseBody } from "../input.ts";
import { mfaAttemptDecider } from "../hooks/mfa-attempt.ts";
import { challenge, enroll, generateRecoveryCodes, mfaCallerOf, unenroll, verify, verifyRecoveryCode } from "../mfa.ts";
import { clientOf, guarded, principalOf } from "./guard.ts";

const EnrollBody = z.object({
  factor_type: optString(32),
  friendly_name: optString(256),
  issuer: optString(256),
  phone: optString(64),
});
const ChallengeBody = z.object({ channel: optString(16) });
const VerifyBody = z.object({ challenge_id: optString(64), code: optString(64) });
const RecoveryBody = z.object({ code: optString(64) });

export const mfaRoutes = (ctx: AuthContext) =>
  new Elysia()
    .post(
      "/factors",
      guarded(async (c) => {
        const body = parseBody(EnrollBody, c.body);
        const caller = mfaCallerOf(principalOf(c.request));
        return reply(
          await audited(ctx, c.request, "end_user.mfa.enroll", {}, () =>
            enroll(ctx, caller, { factorType: body.factor_type, friendlyName: body.friendly_name, issuer: body.issuer }),
          ),
        );
      }),
    )
    .post(
      "/factors/recovery_codes",
      guarded(async (c) =>
        reply(
          await audited(ctx, c.request, "end_user.mfa.recovery_codes", { security: true }, () =>
            generateRecoveryCodes(ctx, mfaCallerOf(principalOf(c.request))),
          ),
        ),
      ),
    )
    .post(
      "/factors/recovery",
      guarded(async (c) => {
        const body = parseBody(RecoveryBody, c.body);
        return reply(
          await audited(ctx, c.request, "end_user.mfa.recovery", { security: true }, () =>
            verifyRecoveryCode(ctx, clientOf(ctx, c.request), mfaCallerOf(principalOf(c.request)), body.code),
          ),
        );
      }),
    )
    .post(
      "/factors/:id/challenge",
      guarded(async (c) => {
        parseBody(ChallengeBody.passthrough(), c.body);
        return reply(await challenge(ctx, clientOf(ctx, c.request), mfaCallerOf(principalOf(c.request)), c.params.id!));
      }),
    )
    .post(
      "/factors/:id/verify",
      guarded(async (c) => {
        const body = parseBody(VerifyBody, c.body);
        const caller = mfaCallerOf(principalOf(c.request));
        return reply(
          await audited(ctx, c.request, "end_user.mfa.verify", {}, () =>
            verify(
              ctx,
              clientOf(ctx, c.request),
              caller,
              c.params.id!,
              { challengeId: body.challenge_id, code: body.code },
              mfaAttemptDecider(ctx, { userId: caller.userId, factorId: c.params.id! }),
            ),
          ),
        );
      }),
    )
    .delete(
      "/factors/:id",
      guarded(async (c) =>
        reply(
          await audited(ctx, c.request, "end_user.mfa.unenroll", { security: true }, () => unenroll(ctx, mfaCallerOf(principalOf(c.request)), c.params.id!)),
        ),
      ),
    );
