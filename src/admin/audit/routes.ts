// GET /admin/v1/audit?limit&before: the audit log, newest first, paged by id.
import { Elysia } from "elysia";
import { AdminErrors } from "../errors.ts";
import { adminRoute, type AdminHttpDeps } from "../route.ts";
import { listAudit } from "./log.ts";

export const auditRoutes = (deps: AdminHttpDeps) =>
  new Elysia().get(
    "/audit",
    adminRoute(deps, { action: "audit.list", capability: "audit:read" }, async (c) => {
      const limit = c.query.limit ? Number(c.query.limit) : 100;
      if (!Number.isInteger(limit) || limit < 1) throw AdminErrors.validation("limit must be a positive integer");
      const before = c.query.before ? Number(c.query.before) : null;
      if (before !== null && (!Number.isInteger(before) || before < 1)) throw AdminErrors.validation("before must be an audit record id");
      return listAudit(deps.sql, { limit: Math.min(limit, 1000), before });
    }),
  );
