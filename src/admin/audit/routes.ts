// The audit log over /admin/v1:
//   GET /audit?limit&before|cursor&actor&action&target&outcome&since&until — newest first, paged by
//     id (the body stays the array it always was; `x-next-cursor` carries the next page's cursor).
//     Whoever may read the whole log (audit:read) gets it all; a moderator (audit:read_own) gets the
//     entries it caused.
//   GET /audit/verify[?archives=true] — walks the hash chain (verify.ts).
//   GET /audit/export?format=csv|ndjson&since&until (and the listing's filters) — streamed.
import { Elysia } from "elysia";
import type { ArchiveStore } from "./archive-store.ts";
import { AdminErrors } from "../errors.ts";
import { adminRoute, type AdminHttpDeps } from "../route.ts";
import { contentTypeOf, EXPORT_FORMATS, exportStream, type ExportFormat } from "./export.ts";
import { listAudit } from "./log.ts";
import { filterError, parseFilter, positiveInt } from "./query.ts";
import { verifyAuditChain } from "./verify.ts";

export interface AuditRouteDeps {
  /** Where archives are (for ?archives=true); absent: archives are checked by their records only. */
  archives?: () => Promise<ArchiveStore>;
}

export const auditRoutes = (deps: AdminHttpDeps, audit: AuditRouteDeps = {}) =>
  new Elysia()
    .get(
      "/audit",
      adminRoute(deps, { action: "audit.list", capability: "audit:read_own" }, async (c) => {
        const limit = positiveInt(c.query, "limit", 100)!;
        const before = positiveInt(c.query, "cursor", null) ?? positiveInt(c.query, "before", null);
        const filter = parseFilter(c.query);
        const whole = c.actor.capabilities.has("audit:read");
        // audit:read_own without audit:read is always an account (only levels hold it that way).
        if (!whole && !c.actor.admin) throw AdminErrors.forbidden();
        const pageSize = Math.min(limit, 1000);
        const rows = await listAudit(deps.sql, { limit: pageSize, before, filter, ...(whole ? {} : { adminId: c.actor.admin!.id }) });
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (rows.length === pageSize) headers["x-next-cursor"] = String(rows.at(-1)!.id);
        return new Response(JSON.stringify(rows), { status: 200, headers });
      }),
    )
    .get(
      "/audit/verify",
      adminRoute(deps, { action: "audit.verify", capability: "audit:read" }, async (c) => {
        const withArchives = c.query.archives === "true" || c.query.archives === "1";
        if (c.query.archives !== undefined && !withArchives && c.query.archives !== "false" && c.query.archives !== "0") {
          throw filterError("archives", "archives must be true or false");
        }
        const result = await verifyAuditChain(deps.sql, { log: deps.log, ...(withArchives && audit.archives ? { archives: await audit.archives() } : {}) });
        c.audit.target = "audit_log";
        c.audit.security = !result.ok;
        return result;
      }),
    )
    .get(
      "/audit/export",
      adminRoute(deps, { action: "audit.export", capability: "audit:read" }, async (c) => {
        const format = (c.query.format ?? "ndjson") as ExportFormat;
        if (!EXPORT_FORMATS.includes(format)) throw filterError("format", "format must be csv or ndjson");
        const filter = parseFilter(c.query);
        c.audit.target = "audit_log";
        const stamp = new Date()
          .toISOString()
          .replace(/[-:]/g, "")
          .replace(/\.\d+Z$/, "Z");
        return new Response(exportStream(deps.sql, format, filter), {
          status: 200,
          headers: {
            "content-type": contentTypeOf(format),
            "content-disposition": `attachment; filename="plinth-audit-${stamp}.${format === "csv" ? "csv" : "ndjson"}"`,
            "cache-control": "no-store",
          },
        });
      }),
    );
