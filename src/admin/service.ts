// The admin plane's service: Plinth's admin API under /admin/v1 — admin accounts, their sign-in and
// sessions (accounts/, signin/, sessions/), end users (users/), database introspection (meta/), the
// table and policy editors, relationship helpers, the SQL console, and the audit log (audit/) they
// all write to.
// Everything runs as the database owner (the admin plane) except the SQL console, which runs as
// its own unprivileged role (console-login.ts).
import { Elysia } from "elysia";
import { accountRoutes } from "./accounts/routes.ts";
import { accountMfaRoutes } from "./accounts/mfa-routes.ts";
import { auditRoutes } from "./audit/routes.ts";
import { BackupJobs } from "./backups/jobs.ts";
import { backupRoutes } from "./backups/routes.ts";
import { createArchiveStore } from "./audit/archive-store.ts";
import { startAuditRetention } from "./audit/retention-job.ts";
import { createAdminContext } from "./context.ts";
import type { Area } from "../lib/request-context.ts";
import type { MountedApp, Service, ServiceContext } from "../service.ts";
import { openConsoleDb } from "./meta/console-login.ts";
import { migrationRoutes } from "./migrations/routes.ts";
import { typegenRoutes } from "./meta/routes/typegen.ts";
import { catalogRoutes } from "./meta/routes/catalog.ts";
import { policyRoutes } from "./meta/routes/policies.ts";
import { relationshipRoutes } from "./meta/routes/relationships.ts";
import { rowRoutes } from "./meta/routes/rows.ts";
import { sqlRoutes } from "./meta/routes/sql.ts";
import { observeRoutes } from "./observe/routes.ts";
import { pluginRoutes } from "./plugins-routes.ts";
import { tableRoutes } from "./meta/routes/tables.ts";
import type { AdminHttpDeps } from "./route.ts";
import { sessionRoutes } from "./sessions/routes.ts";
import { SessionCache } from "./sessions/cache.ts";
import { lookupSession, touchSeconds, touchSession } from "./sessions/store.ts";
import { isAdminSessionToken } from "./sessions/tokens.ts";
import { signInRoutes } from "./signin/routes.ts";
import { endUserRoutes } from "./users/routes.ts";
import { securityEventRoutes } from "./security/event-routes.ts";
import { keyRoutes } from "../keys/routes.ts";
import { keyRingFor } from "../keys/ring.ts";
import { startSecurityWorker } from "./security/worker.ts";
import { tableSecurityRoutes } from "./security/tables/routes.ts";

/** The sign-in endpoints: open without a key (nobody signing in holds one). */
const SIGN_IN_PATHS = new Set([
  "/admin/v1/auth/login",
  "/admin/v1/auth/mfa",
  "/admin/v1/auth/emergency",
  "/admin/v1/auth/mfa/enroll",
  "/admin/v1/auth/mfa/enroll/verify",
]);

/**
 * What the gateway lets into /admin/v1 for the admin plane (app.ts hands it over): an admin session
 * token in place of a JWT (resolved per call by route.ts), and the sign-in endpoints without a key.
 */
export const adminAdmission = {
  opaqueBearer: (area: Area, token: string): boolean => area === "admin" && isAdminSessionToken(token),
  keyOptional: (area: Area, path: string): boolean => area === "admin" && SIGN_IN_PATHS.has(path),
};

export async function createAdminService(ctx: ServiceContext): Promise<Service> {
  const admin = createAdminContext({ sql: ctx.db.sql, config: ctx.config, log: ctx.log, jwtSecret: ctx.jwtSecret });
  const cache = new SessionCache({
    sql: admin.sql,
    log: ctx.log,
    idleMs: () => admin.sessions.idleSeconds * 1000,
    touchMs: () => touchSeconds(admin.sessions) * 1000,
    touch: (token) => touchSession(admin.sql, admin.sessions, token),
  });
  await cache.start();
  const deps: AdminHttpDeps = {
    sql: ctx.db.sql,
    log: ctx.log,
    sessions: {
      resolve: (token) => cache.resolve(token, () => lookupSession(admin.sql, admin.sessions, token)),
      settle: () => cache.settle(),
    },
  };
  // Connects lazily, on the first console request.
  const consoleDb = openConsoleDb(ctx.db.sql, ctx.dbUrl, ctx.log);
  let mounted: MountedApp | null = null;
  const sweeper = setInterval(() => admin.signInLimit?.sweep(), 60_000);
  // Alert delivery (outbox) and the lockout sweep: security/worker.ts.
  const security = await startSecurityWorker({ sql: ctx.db.sql, config: ctx.config, log: ctx.log });
  sweeper.unref?.();
  // Archive-then-remove past audit.retentionDays (hourly; one node at a time): audit/retention.ts.
  const retention = startAuditRetention({ sql: ctx.db.sql, config: ctx.config, log: ctx.log });
  // Backups taken by this process into <dataDir>/backups (backups/jobs.ts): one at a time, cancellable.
  const backups = new BackupJobs({ loaded: { config: ctx.config, file: ctx.configFile ?? null, explicit: new Set() }, log: ctx.log });
  const routes = new Elysia({ prefix: "/admin/v1" })
    .use(signInRoutes(deps, admin))
    .use(sessionRoutes(deps, admin))
    .use(accountRoutes(deps, admin))
    .use(accountMfaRoutes(deps, admin))
    .use(endUserRoutes(deps, ctx))
    .use(catalogRoutes(deps))
    .use(tableRoutes(deps))
    .use(rowRoutes(deps))
    .use(relationshipRoutes(deps))
    .use(policyRoutes(deps))
    .use(tableSecurityRoutes(deps, { migrationsDir: ctx.config.migrationsDir, consoleDb }))
    .use(sqlRoutes(deps, consoleDb))
    .use(auditRoutes(deps, { archives: () => createArchiveStore(ctx.config) }))
    .use(securityEventRoutes(deps))
    .use(keyRoutes(deps, { ring: keyRingFor(ctx.db, ctx), config: ctx.config, log: ctx.log }))
    .use(migrationRoutes(deps, ctx.config))
    .use(typegenRoutes(deps, ctx.config))
    .use(observeRoutes(deps, { db: ctx.db, app: () => mounted, slotPrefix: ctx.config.realtime.slotName }, ctx.log))
    .use(pluginRoutes(deps, () => mounted))
    .use(backupRoutes(deps, backups));
  return {
    name: "admin",
    routes,
    attach: (app) => void (mounted = app),
    stop: async () => {
      clearInterval(sweeper);
      await backups.stop();
      await retention.stop();
      await security.stop();
      await cache.stop();
      await consoleDb.end();
    },
  };
}
