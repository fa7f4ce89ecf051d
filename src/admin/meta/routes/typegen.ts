// GET /admin/v1/types/typescript[?schema=public,api]: the Database type for supabase-js
// (src/typegen/), as `plinth gen types typescript` prints it. Plain text, like the file it becomes.
import { Elysia } from "elysia";
import type { Config } from "../../../config/schema.ts";
import { generateTypeScript, resolveSchemas, TypegenError } from "../../../typegen/generate.ts";
import { AdminError } from "../../errors.ts";
import { adminRoute, type AdminHttpDeps } from "../../route.ts";

export const typegenRoutes = (deps: AdminHttpDeps, config: Config) =>
  new Elysia().get(
    "/types/typescript",
    adminRoute(deps, { action: "types.typescript", capability: "meta:read" }, async (c) => {
      let schemas: string[];
      try {
        // `included_schemas` is what postgres-meta's generator endpoint calls it.
        schemas = await resolveSchemas(deps.sql, c.query.schema ?? c.query.included_schemas, config.rest.schemas);
      } catch (err) {
        if (err instanceof TypegenError) throw new AdminError(400, err.code, err.message);
        throw err;
      }
      c.audit.target = schemas.join(",");
      const text = await generateTypeScript(deps.sql, schemas);
      return new Response(text, { headers: { "content-type": "text/plain; charset=utf-8" } });
    }),
  );
