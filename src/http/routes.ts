// The routed application behind the gateway: system endpoints here, each service mounted under its
// prefix by its own module. Unknown routes answer 404 JSON, and no error ever leaks a stack trace.
import { Elysia } from "elysia";
import { json, isPlinthError } from "../errors.ts";
import { isDatabaseUnavailable, type Database } from "../db/pool.ts";
import { requestContext } from "../lib/request-context.ts";
import type { Logger } from "../log.ts";
import { areaOf } from "./areas.ts";
import type { Metrics } from "./metrics.ts";
import type { Renderers, WireError } from "./renderers.ts";
import { VERSION } from "../version.ts";

/** A service's routes: an Elysia instance with its own prefix (the router only needs `.handle`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Elysia instances differ in their route types.
export type AnyElysia = Elysia<any, any, any, any, any, any, any>;

export interface RouteDeps {
  db: Database;
  metrics: Metrics;
  log: Logger;
  /** False once shutdown began: /health answers 503 so load balancers stop sending traffic. */
  isServing: () => boolean;
  databaseLabel: string;
  /** Each API's error renderer (see renderers.ts). */
  renderers: Renderers;
  /** Service modules (auth, rest, …), each an Elysia instance with its own prefix. */
  services?: AnyElysia[];
}

export function createRoutes(deps: RouteDeps) {
  let app = new Elysia()
    .onError(({ code, error, request }) => {
      const area = areaOf(new URL(request.url).pathname).area;
      const render = (e: WireError) => deps.renderers[area](e, request);
      if (code === "NOT_FOUND") return render({ status: 404, code: "not_found", message: "No route matches this request" });
      if (isPlinthError(error)) {
        const { status, code: errorCode, message, details, hint, headers } = error;
        return render({ status, code: errorCode, message, details, hint, headers });
      }
      if (code === "PARSE") return render({ status: 400, code: "bad_json", message: "Request body could not be parsed" });
      if (code === "VALIDATION") return render({ status: 400, code: "validation_failed", message: "Request does not match the expected shape" });
      // The database is restarting or unreachable: a state the client may retry, not a server bug.
      if (isDatabaseUnavailable(error)) {
        return render({ status: 503, code: "database_unavailable", message: "The database is unavailable, retry later", headers: { "retry-after": "1" } });
      }
      deps.log.error("route error", { request_id: requestContext(request)?.id, error });
      return render({ status: 500, code: "internal_error", message: "Internal server error" });
    })
    .get("/health", async () => {
      if (!deps.isServing()) return json({ status: "stopping" }, 503);
      const started = performance.now();
      try {
        await deps.db.sql`select 1`;
      } catch {
        return json({ status: "unavailable", database: "unreachable" }, 503);
      }
      return json({
        status: "ok",
        version: VERSION,
        database: deps.databaseLabel,
        db_ms: Math.round((performance.now() - started) * 100) / 100,
      });
    })
    .get(
      "/metrics",
      () =>
        new Response(
          deps.metrics.render({
            plinth_db_pool_max: { help: "Largest number of database connections in the pool.", value: deps.db.max },
            plinth_db_pool_active: { help: "Transactions currently holding a pooled connection.", value: deps.db.active },
            plinth_process_resident_memory_bytes: { help: "Resident memory of the Plinth process.", value: process.memoryUsage().rss },
          }),
          { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } },
        ),
    );
  for (const service of deps.services ?? []) app = app.use(service) as unknown as typeof app;
  return app;
}
