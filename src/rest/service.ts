// The REST service factory: PostgREST's API under /rest/v1 over the schema cache of the exposed
// schemas. A request goes routes.ts → parse/request.ts → plan/plan.ts (through plan-cache.ts) → execute.ts.
import { createSchemaCache } from "../schema-cache/live.ts";
import type { Service, ServiceContext } from "../service.ts";
import { restHandler, restRoutes } from "./routes.ts";

export async function createRestService(ctx: ServiceContext): Promise<Service> {
  const cache = await createSchemaCache({
    sql: ctx.db.sql,
    listenUrl: ctx.dbUrl,
    schemas: ctx.config.rest.schemas,
    log: ctx.log,
  });
  const deps = {
    db: ctx.db,
    cache,
    log: ctx.log,
    maxRows: ctx.config.rest.maxRows,
    publicUrl: ctx.config.publicUrl,
    planEnabled: ctx.config.rest.planEnabled,
    requestSettings: ctx.config.rest.requestSettings,
  };
  const handle = restHandler(deps);
  return {
    name: "rest",
    routes: restRoutes(deps, handle),
    direct: { area: "rest", handle },
    stop: () => cache.stop(),
  };
}
