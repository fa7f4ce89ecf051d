// The admin plane's service: Plinth's admin API under /admin/v1 — database introspection (meta/),
// the table and policy editors, relationship helpers, the SQL console, and the audit log (audit/)
// they all write to.
// Everything runs as the database owner (the admin plane) except the SQL console, which runs as
// its own unprivileged role (console-login.ts); only service_role may call it for now.
import { Elysia } from "elysia";
import { auditRoutes } from "./audit/routes.ts";
import type { Service, ServiceContext } from "../services.ts";
import { openConsoleDb } from "./meta/console-login.ts";
import { catalogRoutes } from "./meta/routes/catalog.ts";
import { policyRoutes } from "./meta/routes/policies.ts";
import { relationshipRoutes } from "./meta/routes/relationships.ts";
import { sqlRoutes } from "./meta/routes/sql.ts";
import { tableRoutes } from "./meta/routes/tables.ts";

export async function createAdminService(ctx: ServiceContext): Promise<Service> {
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
  return { name: "admin", routes, stop: () => consoleDb.end() };
}
