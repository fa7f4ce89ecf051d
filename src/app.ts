// The composition root: everything a request meets, assembled in one place. The gateway (keys,
// limits, logs, request context) in front; behind it, dispatch to the services (a service's direct
// handler for its area, a websocket upgrade, or the router); and each API's one error renderer,
// which the gateway, the router and the API's own routes share. src/server.ts only listens and
// drains; tests call createApp(...).fetch(new Request(...)) where a port adds nothing.
import type { Server } from "bun";
import { createAuthService } from "./auth/service.ts";
import { attachPlugins } from "./plugins/auth-events.ts";
import { createPluginService } from "./plugins/service.ts";
import { renderAuthError } from "./auth/errors.ts";
import { renderAdminError } from "./admin/errors.ts";
import type { Config } from "./config/schema.ts";
import { ConfigError } from "./config/load.ts";
import type { Database } from "./db/pool.ts";
import { validateSms } from "./delivery/sms.ts";
import { validateTemplates } from "./delivery/templates.ts";
import { PlinthError } from "./errors.ts";
import { createGateway, type Gateway, type ServerLike } from "./http/gateway.ts";
import { Metrics } from "./http/metrics.ts";
import { plainRenderer, type Renderers, type WireError } from "./http/renderers.ts";
import { createRoutes, type AnyElysia } from "./http/routes.ts";
import { requestContext } from "./lib/request-context.ts";
import type { Logger } from "./log.ts";
import { adminAdmission, createAdminService } from "./admin/service.ts";
import { createRealtimeService } from "./realtime/service.ts";
import { renderRestError } from "./rest/errors.ts";
import { createRestService } from "./rest/service.ts";
import type { Service, ServiceContext } from "./service.ts";
import { renderStorageError } from "./storage/errors.ts";
import { createStorageService } from "./storage/service.ts";
import { keyRingFor } from "./keys/ring.ts";

export interface AppOptions {
  config: Config;
  db: Database;
  log: Logger;
  jwtSecret: string;
  /** For /health: "embedded" or "external". */
  databaseLabel?: string;
  /** The services to mount: createServices(…) for all of them; tests of one service or none pass fewer. */
  services: Service[];
  /** Extra routes mounted behind the gateway (tests). */
  extraRoutes?: AnyElysia[];
}

export interface App {
  fetch(req: Request, server?: ServerLike | null): Promise<Response>;
  /** Bun.serve's websocket handler set (a no-op one when no service upgrades). */
  websocket: NonNullable<Service["websocket"]>;
  gateway: Gateway;
  metrics: Metrics;
  services: Service[];
  /** /health answers 503 from now on (load balancers stop sending traffic); requests still run. */
  beginStopping(): void;
  /** Stops the services and the gateway's timers (the database is the caller's). */
  stop(): Promise<void>;
}

/**
 * The settings only a service can judge (an SMS provider's required fields, mail templates), checked
 * before anything connects: a half-configured provider must stop `serve` before the database is
 * started or migrated, not after. Throws ConfigError listing every problem.
 */
export function assertServiceConfig(config: Config): void {
  const problems = [...validateSms(config), ...validateTemplates(config)];
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Every service, in mount order: the only place that knows them all. */
export async function createServices(ctx: ServiceContext): Promise<Service[]> {
  // The node's keys are loaded (and a new project's first signing key made) before anything serves.
  await keyRingFor(ctx.db, ctx).ready();
  // Plugins first: one that fails to start stops start-up before anything serves (src/plugins/).
  const plugins = await createPluginService(ctx);
  const auth = await createAuthService(ctx);
  attachPlugins(auth.context, plugins.host);
  const rest = await createRestService(ctx);
  const storage = await createStorageService(ctx);
  attachPlugins(storage.context, plugins.host);
  const realtime = await createRealtimeService(ctx);
  // Plugins' data.change comes from realtime's change stream, and only when a plugin listens.
  if (plugins.dataChanges) realtime.hub.setDataChangeSink(plugins.dataChanges);
  return [
    plugins,
    auth,
    rest,
    storage,
    realtime,
    await createAdminService(ctx),
  ];
}

const asPlinthError = (e: WireError) => new PlinthError(e.status, e.code, e.message, e.details ?? null, e.hint ?? null, e.headers ?? {});

/** One renderer per API wire shape; each is the API's own (its routes render with the same function). */
export const renderers: Renderers = {
  rest: (e) => renderRestError(e),
  auth: (e) => renderAuthError(asPlinthError(e))!,
  storage: (e) => renderStorageError(asPlinthError(e)),
  admin: (e) => renderAdminError(asPlinthError(e)) ?? plainRenderer(e, new Request("http://localhost/")),
  realtime: plainRenderer,
  system: plainRenderer,
};

export function createApp(opts: AppOptions): App {
  const { config, db, log, jwtSecret, services } = opts;
  let serving = true;
  const metrics = new Metrics();
  const routes = createRoutes({
    db,
    metrics,
    log,
    renderers,
    isServing: () => serving,
    databaseLabel: opts.databaseLabel ?? "external",
    services: [...services.map((s) => s.routes), ...(opts.extraRoutes ?? [])],
  });
  // Services may take a request over before routing (realtime upgrades its websocket here), after
  // the gateway admitted and logged it.
  const upgraders = services.filter((s) => s.upgrade);
  const direct = new Map(services.flatMap((s) => (s.direct ? [[s.direct.area, s.direct.handle] as const] : [])));
  const handle = (req: Request, server?: ServerLike | null) => {
    const go = direct.get(requestContext(req)?.area ?? "system");
    if (go) return go(req);
    if (server?.upgrade) {
      for (const s of upgraders) {
        const res = s.upgrade!(req, server as Server<unknown>);
        if (res) return res;
      }
    }
    return routes.handle(req);
  };
  // The admin plane admits its own session tokens and sign-in endpoints (http/ imports no feature).
  const keys = keyRingFor(db, { config, jwtSecret, log });
  keys.retain();
  const gateway = createGateway({ config, jwtSecret, credentials: keys, log, metrics, renderers, handle, admission: adminAdmission });
  const mounted = { metrics, services, startedAt: Date.now() };
  for (const s of services) s.attach?.(mounted);
  return {
    fetch: (req, server) => gateway.fetch(req, server),
    websocket: services.find((s) => s.websocket)?.websocket ?? { message() {} },
    gateway,
    metrics,
    services,
    beginStopping: () => void (serving = false),
    async stop() {
      gateway.close();
      for (const s of services) await s.stop?.();
      await keys.release();
    },
  };
}
