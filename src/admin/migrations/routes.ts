// /admin/v1/migrations: the project's user migrations for the console and scripts. Reading needs
// meta:read; approving, applying and reverting change the schema (meta:write) and are flagged as
// security-relevant in the audit log, with the version as the target.
//   GET  /migrations                       status of every migration (applied, pending, drift)
//   GET  /migrations/history               every up and down run
//   GET  /migrations/plan                  the plan of each pending migration (issue 18's JSON)
//   GET  /migrations/approvals[?version=V] approvals, newest first
//   POST /migrations/{version}/approve     {note?}: approve the pending file as it is now
//   POST /migrations/apply                 {to?}: apply pending migrations (production: approved ones only)
//   POST /migrations/revert                {steps?}: revert the newest applied migrations
// Apply and revert stop when the caller drops the request (its signal): the migration running then
// is cancelled on the server and rolled back (409 migration_cancelled), no later one starts. The
// console applies one at a time ({to: each pending version}) to show progress and cancel between.
import { Elysia } from "elysia";
import { z } from "zod";
import type { Config } from "../../config/schema.ts";
import { AdminErrors } from "../errors.ts";
import { RAW_BODY, parseInput } from "../meta/routes/input.ts";
import { adminRoute, type AdminHttpDeps } from "../route.ts";
import * as migrations from "./service.ts";

const VERSION = z.string().regex(/^\d{14}$/, "a 14-digit version (YYYYMMDDHHMMSS)");
const ApproveInput = z.object({ note: z.string().max(2000).nullish() }).strict();
const ApplyInput = z.object({ to: VERSION.optional() }).strict();
const RevertInput = z.object({ steps: z.number().int().min(1).max(1000).default(1) }).strict();

/** An empty body is an empty object: `POST /migrations/apply` with nothing applies everything. */
const body = (raw: unknown) => (raw === undefined || raw === null || raw === "" ? {} : raw);

export const migrationRoutes = (deps: AdminHttpDeps, config: Config) =>
  new Elysia()
    .get(
      "/migrations",
      adminRoute(deps, { action: "migrations.status", capability: "meta:read" }, async () => migrations.migrationList(deps.sql, config)),
    )
    .get(
      "/migrations/history",
      adminRoute(deps, { action: "migrations.history", capability: "meta:read" }, async () => migrations.migrationLog(deps.sql)),
    )
    .get(
      "/migrations/plan",
      adminRoute(deps, { action: "migrations.plan", capability: "meta:read" }, async () => migrations.migrationPlans(deps.sql, config)),
    )
    .get(
      "/migrations/approvals",
      adminRoute(deps, { action: "migrations.approvals", capability: "meta:read" }, async (c) => {
        const version = c.query.version;
        if (version !== undefined && !VERSION.safeParse(version).success) throw AdminErrors.validation("version must be a 14-digit version");
        return migrations.migrationApprovals(deps.sql, version);
      }),
    )
    .post(
      "/migrations/:version/approve",
      adminRoute(deps, { action: "migrations.approve", capability: "meta:write" }, async (c) => {
        const version = c.params.version!;
        c.audit.target = `migration:${version}`;
        c.audit.security = true;
        if (!VERSION.safeParse(version).success) throw AdminErrors.validation("version must be a 14-digit version (YYYYMMDDHHMMSS)");
        const input = parseInput(ApproveInput, body(c.body));
        c.audit.reason = input.note ?? null;
        return migrations.approve(deps.sql, config, c.actor, version, input.note ?? null);
      }),
      RAW_BODY,
    )
    .post(
      "/migrations/apply",
      adminRoute(deps, { action: "migrations.apply", capability: "meta:write" }, async (c) => {
        c.audit.security = true;
        const input = parseInput(ApplyInput, body(c.body));
        // What the call was about even if it fails or is cancelled; the applied ones replace it.
        if (input.to) c.audit.target = `migration:${input.to}`;
        const result = await migrations.apply(deps.sql, config, input.to, c.request.signal);
        c.audit.target = result.applied.length ? `migration:${result.applied.map((s) => s.version).join(",")}` : null;
        c.audit.rowCount = result.applied.length;
        return result;
      }),
      RAW_BODY,
    )
    .post(
      "/migrations/revert",
      adminRoute(deps, { action: "migrations.revert", capability: "meta:write" }, async (c) => {
        c.audit.security = true;
        const input = parseInput(RevertInput, body(c.body));
        const result = await migrations.revert(deps.sql, config, input.steps, c.request.signal);
        c.audit.target = result.reverted.length ? `migration:${result.reverted.map((s) => s.version).join(",")}` : null;
        c.audit.rowCount = result.reverted.length;
        return result;
      }),
      RAW_BODY,
    );
