// The meta service: Plinth's admin API under /admin/v1 — database introspection, the table and
// policy editors, relationship helpers, the SQL console, and the audit log they all write to.
// Everything runs as the database owner (the admin plane) except the SQL console, which runs as
// its own unprivileged role (console-login.ts); only service_role may call it for now.
import { Elysia } from "elysia";
import { auditRoutes } from "../audit/routes.ts";
import type { Service, ServiceContext } from "../services.ts";
import { openConsoleDb } from "./console-login.ts";
import { catalogRoutes } from "./routes/catalog.ts";
import { policyRoutes } from "./routes/policies.ts";
import { relationshipRoutes } from "./routes/relationships.ts";
import { sqlRoutes } from "./routes/sql.ts";
import { tableRoutes } from "./routes/tables.ts";

export async function createMetaService(ctx: ServiceContext): Promise<Service> {
  const deps = { sql: ctx.db.sql, log: ctx.log };
  // Connects lazily, on the first console request.
  const consoleDb = openConsoleDb(ctx.db.sql, ctx.dbUrl, ctx.log);
  const routes = new Elysia({ prefix: "/admin/v1" })
    .use(catalogRoutes(deps))
    .use(tableRoutes(deps))
    .use(relationshipRoutes(deps))
    .use(policyRoutes(deps))
    .use(sqlRoutes(deps, consoleDb))
    .use(auditRoutes(deps));
  return { name: "meta", routes, stop: () => consoleDb.end() };
}
