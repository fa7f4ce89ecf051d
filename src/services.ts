// The services mounted behind the gateway, each an Elysia instance under its own URL prefix. A
// service gets this context and nothing global: config, the database, the logger and the JWT secret.
import type { Elysia } from "elysia";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Elysia instances differ in their route types; the mount list only needs .handle.
export type AnyElysia = Elysia<any, any, any, any, any, any, any>;
import type { Config } from "./config/schema.ts";
import type { Area } from "./http/areas.ts";
import type { Database } from "./db/pool.ts";
import type { Logger } from "./log.ts";
import { createAuthService } from "./auth/service.ts";
import { createStorageService } from "./storage/index.ts";
import { createRestService } from "./rest/index.ts";
import { createRealtimeService } from "./realtime/index.ts";
import { createMetaService } from "./meta/index.ts";
import type { Server, WebSocketHandler } from "bun";
import { ConfigError } from "./config/load.ts";
import { validateSms } from "./delivery/sms.ts";
import { validateTemplates } from "./delivery/templates.ts";

export interface ServiceContext {
  config: Config;
  db: Database;
  log: Logger;
  jwtSecret: string;
  /** The database URL the pool uses (for services that need their own connection, e.g. LISTEN). */
  dbUrl: string;
}

/** A running service: its routes, and what to do at shutdown (close listeners, timers). */
export interface Service {
  name: string;
  routes: AnyElysia;
  stop?(): Promise<void> | void;
  /** Bun websocket handlers for the sockets this service upgrades (Bun.serve takes one set). */
  websocket?: WebSocketHandler<unknown>;
  /**
   * Called (after the gateway admitted the request) before routing: returns a response when the
   * service took the request over, e.g. upgraded it to a websocket; undefined to route normally.
   */
  upgrade?(req: Request, server: Server<unknown>): Response | undefined;
  /**
   * Requests of this area (after the gateway admitted them) go straight here instead of through the
   * router: for a service whose every request takes the same handler (the data API's hot path).
   */
  direct?: { area: Area; handle(req: Request): Promise<Response> };
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

/**
 * Every service, in mount order. Each entry is added by the service's own module; keep this list the
 * only place that knows them all.
 */
export async function createServices(ctx: ServiceContext): Promise<Service[]> {
  return [await createAuthService(ctx), await createRestService(ctx), await createStorageService(ctx), await createRealtimeService(ctx), await createMetaService(ctx)];
}
