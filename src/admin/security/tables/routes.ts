// Table security settings: GET/PUT /tables/{schema}/{table}/security (?dry_run=true) and
// POST /security/simulate. Handlers translate; the work is in describe.ts, apply.ts and simulate.ts.
import { Elysia } from "elysia";
import { requestContext } from "../../../lib/request-context.ts";
import type { ConsoleDb } from "../../meta/console-login.ts";
import { boolParam, parseInput, RAW_BODY } from "../../meta/routes/input.ts";
import { adminRoute, type AdminHttpDeps } from "../../route.ts";
import { putTableSecurity } from "./apply.ts";
import { describeTableSecurity } from "./describe.ts";
import { simulate, SimulateInput } from "./simulate.ts";

export const tableSecurityRoutes = (deps: AdminHttpDeps, opts: { migrationsDir: string; consoleDb: ConsoleDb }) =>
  new Elysia()
    .get(
      "/tables/:schema/:name/security",
      adminRoute(deps, { action: "tables.security.read", capability: "meta:read" }, async (c) =>
        describeTableSecurity(deps.sql, c.params.schema!, c.params.name!),
      ),
    )
    .put(
      "/tables/:schema/:name/security",
      adminRoute(deps, { action: "tables.security.update", capability: "security:manage" }, async (c) => {
        const dryRun = boolParam(c.query.dry_run, "dry_run");
        const ctx = requestContext(c.request);
        return putTableSecurity(
          { sql: deps.sql, migrationsDir: opts.migrationsDir, log: deps.log },
          { actor: c.actor, audit: c.audit, address: ctx?.ip ?? null, userAgent: c.request.headers.get("user-agent") },
          c.params.schema!,
          c.params.name!,
          c.body,
          dryRun,
        );
      }),
      RAW_BODY,
    )
    .post(
      "/security/simulate",
      adminRoute(deps, { action: "security.simulate", capability: "security:manage" }, async (c) =>
        simulate(deps.sql, opts.consoleDb, c.audit, parseInput(SimulateInput, c.body)),
      ),
      RAW_BODY,
    );
