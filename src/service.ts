// What a service is to the app that mounts it: its routes, and optionally a websocket upgrade, a
// direct handler for its area, and what to do at shutdown. A service gets a ServiceContext and
// nothing global. (The list of services is assembled in one place: src/app.ts.)
import type { Server, WebSocketHandler } from "bun";
import type { Config } from "./config/schema.ts";
import type { Database } from "./db/pool.ts";
import type { AnyElysia } from "./http/routes.ts";
import type { Area } from "./lib/request-context.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./http/metrics.ts";

export type { AnyElysia } from "./http/routes.ts";

export interface ServiceContext {
  config: Config;
  db: Database;
  log: Logger;
  jwtSecret: string;
  /** The database URL the pool uses (for services that need their own connection, e.g. LISTEN). */
  dbUrl: string;
  /** The configuration file `serve` read (the admin API's backups archive it), null or absent when none. */
  configFile?: string | null;
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
  /** Numbers only this service knows, in-process (the admin API's /stats reads them), e.g. open websockets. */
  stats?(): Record<string, unknown>;
  /** Called once by the app that mounts it, with what the app owns (the admin plane's /stats reads it). */
  attach?(app: MountedApp): void;
}

/** What a mounted service may see of the app: its request metrics and every service's stats(). */
export interface MountedApp {
  metrics: Metrics;
  services: readonly Service[];
  /** When the app was assembled (uptime). */
  startedAt: number;
}
