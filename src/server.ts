// `plinth serve`: open the database, assemble the app (src/app.ts), listen, and shut down gracefully
// (stop accepting, drain in-flight requests, stop the services, close the pool, stop the embedded
// server). Nothing about requests is decided here.
import { resolve } from "node:path";
import { apiKeys } from "./lib/jwt.ts";
import type { Config } from "./config/schema.ts";
import { openDatabase, type OpenedDatabase } from "./db/open.ts";
import { assertServiceConfig, createApp, createServices, type App } from "./app.ts";
import type { Gateway } from "./http/gateway.ts";
import type { AnyElysia } from "./http/routes.ts";
import type { Logger } from "./log.ts";

export interface RunningServer {
  url: string;
  port: number;
  database: OpenedDatabase;
  gateway: Gateway;
  /** Graceful stop; resolves when everything is closed. Idempotent. */
  stop(): Promise<void>;
}

export interface ServeOptions {
  config: Config;
  jwtSecret: string;
  log: Logger;
  /** Where the start banner goes (stderr by default; tests pass a no-op). */
  banner?: (text: string) => void;
  /** Extra routes mounted behind the gateway (tests); the real services come from createServices. */
  extraRoutes?: AnyElysia[];
  /** The configuration file that was read (backups taken through the admin API carry it). */
  configFile?: string | null;
}

export async function serve({
  config,
  jwtSecret,
  log,
  banner = (t) => process.stderr.write(t),
  extraRoutes = [],
  configFile = null,
}: ServeOptions): Promise<RunningServer> {
  assertServiceConfig(config);
  const database = await openDatabase(config, log);
  let app: App;
  try {
    const services = await createServices({ config, db: database.db, log, jwtSecret, dbUrl: database.url, configFile });
    app = createApp({ config, db: database.db, log, jwtSecret, services, extraRoutes, databaseLabel: database.embedded ? "embedded" : "external" });
  } catch (err) {
    await database.close();
    throw err;
  }
  let server: Bun.Server<unknown>;
  try {
    server = Bun.serve<unknown>({
      hostname: config.host,
      port: config.port,
      // Bodies above this are cut by Bun itself; the gateway refuses declared oversize bodies earlier
      // with a JSON 413 and counts chunked ones as they arrive. Storage uploads stream and need more.
      maxRequestBodySize: Math.max(config.http.bodyLimit, 5 * 1024 ** 3),
      fetch: (req, srv) => app.fetch(req, srv),
      websocket: app.websocket,
      error: (err) => {
        log.error("server error", { error: err });
        return new Response(JSON.stringify({ code: "internal_error", message: "Internal server error" }), {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      },
    });
  } catch (err) {
    await app.stop();
    await database.close();
    throw err;
  }
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}`;
  banner(await startBanner(config, url, database, jwtSecret));

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      app.beginStopping();
      log.info("shutting down", { in_flight: app.gateway.inFlight });
      void server.stop(false); // stop accepting; in-flight requests continue
      const deadline = Date.now() + config.http.shutdownGrace * 1000;
      while (app.gateway.inFlight > 0 && Date.now() < deadline) await Bun.sleep(20);
      await server.stop(true);
      await app.stop();
      await database.close();
      log.info("stopped");
    })());

  return { url, port: server.port ?? config.port, database, gateway: app.gateway, stop };
}

async function startBanner(config: Config, url: string, database: OpenedDatabase, secret: string): Promise<string> {
  const keys = await apiKeys(secret);
  const lines = [
    "",
    `  Plinth is serving at ${url}`,
    `  data dir:   ${resolve(config.dataDir)}`,
    `  database:   ${database.label}`,
    `  mode:       ${config.env}`,
    `  anon key:   ${keys.anon}`,
    // In production the service_role key is a secret that must not end up in captured logs.
    config.env === "production" ? "  service_role key: run `plinth keys` to print it" : `  service_role key: ${keys.service_role}`,
    "",
    `  Point supabase-js at it: createClient("${url}", "<anon key>")`,
    "",
  ];
  return lines.join("\n") + "\n";
}
