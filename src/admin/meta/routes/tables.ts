// /tables: list, one in full, create, change, drop.
import { Elysia } from "elysia";
import { adminRoute, created, type AdminHttpDeps } from "../../route.ts";
import { checkName } from "../ident.ts";
import { listTables } from "../introspect/tables.sql.ts";
import { CreateTableInput, PatchTableInput } from "../model.ts";
import { alterTable, createTable, dropTable, getTable } from "../tables.ts";
import { RAW_BODY, boolParam, parseInput } from "./input.ts";

export const tableRoutes = (deps: AdminHttpDeps) =>
  new Elysia()
    .get(
      "/tables",
      adminRoute(deps, { action: "tables.list", capability: "meta:read" }, async (c) => {
        const schema = checkName(c.query.schema || "public", "schema");
        c.audit.target = schema;
        return listTables(deps.sql, schema);
      }),
    )
    .get(
      "/tables/:schema/:name",
      adminRoute(deps, { action: "tables.get", capability: "meta:read" }, async (c) => getTable(deps.sql, c.params.schema!, c.params.name!)),
    )
    .post(
      "/tables",
      adminRoute(deps, { action: "tables.create", capability: "meta:write" }, async (c) => {
        const input = parseInput(CreateTableInput, c.body);
        c.audit.target = `${input.schema ?? "public"}.${input.name}`;
        return created(await createTable(deps.sql, c.audit, input));
      }),
      RAW_BODY,
    )
    .patch(
      "/tables/:schema/:name",
      adminRoute(deps, { action: "tables.update", capability: "meta:write" }, async (c) =>
        alterTable(deps.sql, c.audit, c.params.schema!, c.params.name!, parseInput(PatchTableInput, c.body)),
      ),
      RAW_BODY,
    )
    .delete(
      "/tables/:schema/:name",
      adminRoute(deps, { action: "tables.delete", capability: "meta:write" }, async (c) =>
        dropTable(deps.sql, c.audit, c.params.schema!, c.params.name!, boolParam(c.query.cascade, "cascade")),
      ),
    );
