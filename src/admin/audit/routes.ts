// GET /admin/v1/audit?limit&before: the audit log, newest first, paged by id. Whoever may read the
// whole log (audit:read) gets it all; a moderator (audit:read_own) gets the entries it caused.
import { Elysia } from "elysia";
import { AdminErrors } from "../errors.ts";
import { adminRoute, type AdminHttpDeps } from "../route.ts";
import { listAudit } from "./log.ts";

export const auditRoutes = (deps: AdminHttpDeps) =>
  new Elysia().get(
    "/audit",
    adminRoute(deps, { action: "audit.list", capability: "audit:read_own" }, async (c) => {
      const limit = c.query.limit ? Number(c.query.limit) : 100;
      if (!Number.isInteger(limit) || limit < 1) throw AdminErrors.validation("limit must be a positive integer");
      const before = c.query.before ? Number(c.query.before) : null;
      if (before !== null && (!Number.isInteger(before) || before < 1)) throw AdminErrors.validation("before must be an audit record id");
      const whole = c.actor.capabilities.has("audit:read");
      // audit:read_own without audit:read is always an account (only levels hold it that way).
      if (!whole && !c.actor.admin) throw AdminErrors.forbidden();
      return listAudit(deps.sql, { limit: Math.min(limit, 1000), before, ...(whole ? {} : { adminId: c.actor.admin!.id }) });
    }),
  );
