// The auth service: GoTrue-compatible routes under /auth/v1, one file per flow in routes/, the rules
// in the modules beside this one. Mail and SMS providers come in through `providers` (tests inject
// doubles); a timer sweeps expired codes, flows and rate-limit buckets.
import { Elysia } from "elysia";
import { createMailer, createSmsSender, type Mailer, type SmsSender } from "../delivery/index.ts";
import type { Service, ServiceContext } from "../service.ts";
import { createAuthContext, sweepBuckets, type AuthContext } from "./context.ts";
import { sweepExpired } from "./otp.ts";
import { prepareDummyHash } from "./passwords.ts";
import { adminRoutes } from "./routes/user-admin.ts";
import { oauthRoutes } from "./oauth/routes.ts";
import { accessTokenHook } from "./hooks/access-token.ts";
import { createHookRunner } from "./hooks/runner.ts";
import { hookMailer, hookSmsSender } from "./hooks/delivery.ts";
import { metaRoutes } from "./routes/meta.ts";
import { mfaRoutes } from "./routes/mfa.ts";
import { otpRoutes } from "./routes/otp.ts";
import { signupRoutes } from "./routes/signup.ts";
import { tokenRoutes } from "./routes/token.ts";
import { userRoutes } from "./routes/user.ts";
import { verifyRoutes } from "./routes/verify.ts";

export interface AuthProviders {
  mailer?: Mailer | null;
  sms?: SmsSender | null;
}

export interface AuthService extends Service {
  context: AuthContext;
  /** Runs the expiry sweep now (the timer runs it every minute). */
  sweep(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 60_000;

export async function createAuthService(svc: ServiceContext, providers: AuthProviders = {}): Promise<AuthService> {
  const hookRunner = createHookRunner(svc.config, svc.db, svc.log);
  const ctx = createAuthContext({
    config: svc.config,
    db: svc.db,
    log: svc.log,
    secret: svc.jwtSecret,
    mailer: providers.mailer !== undefined ? providers.mailer : (hookMailer(hookRunner, svc.db.sql) ?? createMailer(svc.config)),
    sms: providers.sms !== undefined ? providers.sms : (hookSmsSender(hookRunner, svc.db.sql) ?? createSmsSender(svc.config)),
  });
  ctx.accessTokenHook = accessTokenHook(hookRunner);
  await prepareDummyHash();
  const routes = new Elysia({ prefix: "/auth/v1" })
    .use(metaRoutes(ctx))
    .use(signupRoutes(ctx))
    .use(tokenRoutes(ctx))
    .use(userRoutes(ctx))
    .use(otpRoutes(ctx))
    .use(verifyRoutes(ctx))
    .use(mfaRoutes(ctx))
    .use(adminRoutes(ctx))
    .use(oauthRoutes(ctx));

  const sweep = async () => {
    sweepBuckets(ctx);
    try {
      await sweepExpired(svc.db.sql, svc.config);
    } catch (err) {
      svc.log.warn("auth: sweep failed", { error: err });
    }
  };
  const timer = setInterval(() => void sweep(), SWEEP_INTERVAL_MS);
  timer.unref?.();

  return {
    name: "auth",
    routes,
    context: ctx,
    sweep,
    stop: async () => {
      clearInterval(timer);
      // Mails and SMS still on their way after their requests answered (background.ts).
      await ctx.background.drain();
    },
  };
}
