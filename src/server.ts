// `plinth serve`: open the database, mount the services behind the gateway, listen, and shut down
// gracefully (stop accepting, drain in-flight requests, close the pool, stop the embedded server).
import { resolve } from "node:path";
import { apiKeys } from "./auth/jwt.ts";
import type { Config } from "./config/schema.ts";
import { openDatabase, type OpenedDatabase } from "./database.ts";
import { createGateway, requestContext, type Gateway } from "./http/gateway.ts";
import { Metrics } from "./http/metrics.ts";
import { createRoutes } from "./http/routes.ts";
import type { Logger } from "./log.ts";
import { assertServiceConfig, createServices, type AnyElysia, type Service } from "./services.ts";

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
}

export async function serve({ config, jwtSecret, log, banner = (t) => process.stderr.write(t), extraRoutes = [] }: ServeOptions): Promise<RunningServer> {
  assertServiceConfig(config);
  const database = await openDatabase(config, log);
  let services: Service[];
  try {
    services = await createServices({ config, db: database.db, log, jwtSecret, dbUrl: database.url });
  } catch (err) {
    await database.close();
    throw err;
  }
  let serving = true;
  const metrics = new Metrics();
  const routes = createRoutes({
    db: database.db,
    metrics,
    log,
    isServing: () => serving,
    databaseLabel: database.embedded ? "embedded" : "external",
    services: [...services.map((s) => s.routes), ...extraRoutes],
  });
  // Services may take a request over before routing (realtime upgrades its websocket here), after
  // the gateway admitted and logged it; `server` is assigned before the first request arrives.
  const upgraders = services.filter((s) => s.upgrade);
  const direct = new Map(services.flatMap((s) => (s.direct ? [[s.direct.area, s.direct.handle] as const] : [])));
  const handle = (req: Request) => {
    const go = direct.get(requestContext(req)?.area ?? "system");
    if (go) return go(req);
    for (const s of upgraders) {
      const res = s.upgrade!(req, server);
      if (res) return res;
    }
    return routes.handle(req);
  };
  const gateway = createGateway({ config, jwtSecret, log, metrics, handle });
  // Bun.serve takes one websocket handler set; without a service that upgrades, a no-op one.
  const websocket = services.find((s) => s.websocket)?.websocket ?? { message() {} };
  let server: Bun.Server<unknown>;
  try {
    server = Bun.serve<unknown>({
      hostname: config.host,
      port: config.port,
      // Bodies above this are cut by Bun itself; the gateway refuses declared oversize bodies earlier
      // with a JSON 413. Storage uploads (later) stream and need more, hence the generous ceiling.
      maxRequestBodySize: Math.max(config.http.bodyLimit, 5 * 1024 ** 3),
      fetch: (req, srv) => gateway.fetch(req, srv),
      websocket,
      error: (err) => {
        log.error("server error", { error: err });
        return new Response(JSON.stringify({ code: "internal_error", message: "Internal server error" }), {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      },
    });
  } catch (err) {
    await database.close();
    throw err;
  }
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}`;
  banner(startBanner(config, url, database, jwtSecret));

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      serving = false;
      log.info("shutting down", { in_flight: gateway.inFlight });
      void server.stop(false); // stop accepting; in-flight requests continue
      const deadline = Date.now() + config.http.shutdownGrace * 1000;
      while (gateway.inFlight > 0 && Date.now() < deadline) await Bun.sleep(20);
      await server.stop(true);
      gateway.close();
      for (const s of services) await s.stop?.();
      await database.close();
      log.info("stopped");
    })());

  return { url, port: server.port ?? config.port, database, gateway, stop };
}

function startBanner(config: Config, url: string, database: OpenedDatabase, secret: string): string {
  const keys = apiKeys(secret);
  const lines = [
    "",
    `  Plinth is serving at ${url}`,
    `  data dir:   ${resolve(config.dataDir)}`,
    `  database:   ${database.label}`,
    `  mode:       ${config.env}`,
    `  anon key:   ${keys.anon}`,
    // In production the service_role key is a secret that must not end up in captured logs.
    config.env === "production"
      ? "  service_role key: run `plinth keys` to print it"
      : `  service_role key: ${keys.service_role}`,
    "",
    `  Point supabase-js at it: createClient("${url}", "<anon key>")`,
    "",
  ];
  return lines.join("\n") + "\n";
}
