// The routed application behind the gateway: system endpoints here, each service mounted under its
// prefix by its own module. Unknown routes answer 404 JSON, and no error ever leaks a stack trace.
import { Elysia } from "elysia";
import type { AnyElysia } from "../services.ts";
import { json, isPlinthError } from "../errors.ts";
import type { Database } from "../db/pool.ts";
import type { Logger } from "../log.ts";
import { areaOf, renderError } from "./areas.ts";
import type { Metrics } from "./metrics.ts";
import { requestContext } from "./gateway.ts";
import { VERSION } from "../version.ts";

export interface RouteDeps {
  db: Database;
  metrics: Metrics;
  log: Logger;
  /** False once shutdown began: /health answers 503 so load balancers stop sending traffic. */
  isServing: () => boolean;
  databaseLabel: string;
  /** Service modules (auth, rest, …), each an Elysia instance with its own prefix. */
  services?: AnyElysia[];
}

export function createRoutes(deps: RouteDeps) {
  let app = new Elysia()
    .onError(({ code, error, request }) => {
      const area = areaOf(new URL(request.url).pathname).area;
      const apiVersion = request.headers.get("x-supabase-api-version");
      if (code === "NOT_FOUND") {
        return renderError(area, { status: 404, code: "not_found", message: "No route matches this request" }, apiVersion);
      }
      if (isPlinthError(error)) {
        const { status, code: errorCode, message, details, hint, headers } = error;
        return renderError(area, { status, code: errorCode, message, details, hint, headers }, apiVersion);
      }
      if (code === "PARSE") {
        return renderError(area, { status: 400, code: "bad_json", message: "Request body could not be parsed" }, apiVersion);
      }
      if (code === "VALIDATION") {
        return renderError(area, { status: 400, code: "validation_failed", message: "Request does not match the expected shape" }, apiVersion);
      }
      deps.log.error("route error", { request_id: requestContext(request)?.id, error });
      return renderError(area, { status: 500, code: "internal_error", message: "Internal server error" }, apiVersion);
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
    .get("/metrics", () =>
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
