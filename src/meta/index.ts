// The meta service: Plinth's admin API under /admin/v1 — database introspection, the table and
// policy editors, relationship helpers, the SQL console, and the audit log they all write to.
// Everything runs as the database owner (the admin plane); only service_role may call it for now.
import { Elysia } from "elysia";
import postgres from "postgres";
import { auditRoutes } from "../audit/routes.ts";
import type { Service, ServiceContext } from "../services.ts";
import { catalogRoutes } from "./routes/catalog.ts";
import { policyRoutes } from "./routes/policies.ts";
import { relationshipRoutes } from "./routes/relationships.ts";
import { sqlRoutes } from "./routes/sql.ts";
import { tableRoutes } from "./routes/tables.ts";

export async function createMetaService(ctx: ServiceContext): Promise<Service> {
  const deps = { sql: ctx.db.sql, log: ctx.log };
  // The SQL console's own connections: no named prepared statements, so DISCARD ALL after each
  // request can wipe whatever session state the caller's SQL left behind (see sql-console.ts).
  const consoleSql = postgres(ctx.dbUrl, {
    max: 2,
    prepare: false,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: "plinth-console" },
  });
  const routes = new Elysia({ prefix: "/admin/v1" })
    .use(catalogRoutes(deps))
    .use(tableRoutes(deps))
    .use(relationshipRoutes(deps))
    .use(policyRoutes(deps))
    .use(sqlRoutes(deps, consoleSql))
    .use(auditRoutes(deps));
  return { name: "meta", routes, stop: () => consoleSql.end({ timeout: 5 }) };
}
