// /admin/v1/security: events (GET /security/events, with filters and cursor paging) and the
// brute-force locks (GET /security/locks, DELETE /security/locks/{identifier}). Reading needs
// security:read, clearing a lock security:manage.
import { Elysia } from "elysia";
import { adminRoute, noContent, type AdminHttpDeps } from "../route.ts";
import { clearLock, listEvents, locksPage, parseEventQuery } from "./event-list.ts";

/** The path parameter as text (a stray "%" stays as typed rather than failing the call). */
function decoded(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export const securityEventRoutes = (deps: AdminHttpDeps) =>
  new Elysia()
    .get(
      "/security/events",
      adminRoute(deps, { action: "security.events.list", capability: "security:read" }, async (c) => listEvents(deps.sql, parseEventQuery(c.query))),
    )
    .get(
      "/security/locks",
      adminRoute(deps, { action: "security.locks.list", capability: "security:read" }, async (c) => locksPage(deps.sql, c.query)),
    )
    .delete(
      "/security/locks/:identifier",
      adminRoute(deps, { action: "security.locks.clear", capability: "security:manage" }, async (c) => {
        const identifier = decoded(c.params.identifier ?? "");
        c.audit.target = `lock:${identifier}`;
        c.audit.target = `lock:${await clearLock(deps.sql, identifier)}`;
        return noContent();
      }),
    );
