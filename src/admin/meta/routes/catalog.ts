// GET /schemas, /functions, /extensions, /roles, /types: read-only lists of the catalogue.
import { Elysia } from "elysia";
import { adminRoute, type AdminHttpDeps } from "../../route.ts";
import { listExtensions, listFunctions, listRoles, listTypes } from "../introspect/catalog.sql.ts";
import { listSchemas } from "../introspect/schemas.sql.ts";

export const catalogRoutes = (deps: AdminHttpDeps) => {
  const read = (action: string) => ({ action, capability: "meta:read" as const });
  return new Elysia()
    .get(
      "/schemas",
      adminRoute(deps, read("schemas.list"), async () => listSchemas(deps.sql)),
    )
    .get(
      "/functions",
      adminRoute(deps, read("functions.list"), async (c) => {
        c.audit.target = c.query.schema ?? null;
        return listFunctions(deps.sql, c.query.schema || null);
      }),
    )
    .get(
      "/extensions",
      adminRoute(deps, read("extensions.list"), async () => listExtensions(deps.sql)),
    )
    .get(
      "/roles",
      adminRoute(deps, read("roles.list"), async () => listRoles(deps.sql)),
    )
    .get(
      "/types",
      adminRoute(deps, read("types.list"), async () => listTypes(deps.sql)),
    );
};
