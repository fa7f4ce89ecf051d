// /policies: list (optionally by schema and table), create, drop.
import { Elysia } from "elysia";
import { adminRoute, created, type AdminHttpDeps } from "../../route.ts";
import { listPolicies } from "../introspect/policies.sql.ts";
import { PolicyInput } from "../model.ts";
import { createPolicy, dropPolicy } from "../policies.ts";
import { RAW_BODY, parseInput } from "./input.ts";

export const policyRoutes = (deps: AdminHttpDeps) =>
  new Elysia()
    .get(
      "/policies",
      adminRoute(deps, { action: "policies.list", capability: "meta:read" }, async (c) => {
        const filter = { schema: c.query.schema || undefined, table: c.query.table || undefined };
        c.audit.target = [filter.schema, filter.table].filter(Boolean).join(".") || null;
        return listPolicies(deps.sql, filter);
      }),
    )
    .post(
      "/policies",
      adminRoute(deps, { action: "policies.create", capability: "meta:write" }, async (c) => {
        const input = parseInput(PolicyInput, c.body);
        c.audit.target = `${input.table}.${input.name}`;
        return created(await createPolicy(deps.sql, c.audit, input));
      }),
      RAW_BODY,
    )
    .delete(
      "/policies/:schema/:table/:policy",
      adminRoute(deps, { action: "policies.delete", capability: "meta:write" }, async (c) =>
        dropPolicy(deps.sql, c.audit, c.params.schema!, c.params.table!, c.params.policy!),
      ),
    );
