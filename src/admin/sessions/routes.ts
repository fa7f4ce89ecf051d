// Who am I, sign out, and the admin sessions: GET /auth/session, POST /auth/logout, GET /sessions
// (one's own; every admin's for those who manage system admins: system_admin and the machine's
// identities), DELETE /sessions/{id} (the same scope). An ended session is refused at once on every
// node: the per-request check reads the table (store.ts).
import { Elysia } from "elysia";
import { actorLevel, type AdminActor } from "../authorize.ts";
import type { AdminContext } from "../context.ts";
import { AdminErrors } from "../errors.ts";
import { adminRoute, noContent, type AdminHttpDeps } from "../route.ts";
import { endSession, listSessions, sessionIdOf } from "./store.ts";

/** The sessions an actor may see and end. */
function scopeOf(actor: AdminActor): { all: true } | { adminId: string } | { sessionId: string } {
  if (actor.capabilities.has("admins:manage_system")) return { all: true };
  if (actor.admin) return { adminId: actor.admin.id };
  // An identity without an account and without that capability does not exist today; keep it to itself.
  const own = sessionIdOf(actor);
  if (own) return { sessionId: own };
  throw AdminErrors.forbidden();
}

export const sessionRoutes = (deps: AdminHttpDeps, ctx: AdminContext) =>
  new Elysia()
    .get(
      "/auth/session",
      adminRoute(deps, { action: "auth.session", capability: "signed_in" }, async (c) => {
        const a = c.actor;
        const level = actorLevel(a);
        return {
          kind: a.kind,
          admin: a.admin ? { id: a.admin.id, email: a.admin.email, level: a.admin.level, tables: a.tables === "all" ? [] : [...a.tables].sort() } : null,
          level,
          session_id: sessionIdOf(a),
          emergency: a.kind === "emergency",
          capabilities: [...a.capabilities].sort(),
        };
      }),
    )
    .post(
      "/auth/logout",
      adminRoute(deps, { action: "auth.logout", capability: "signed_in" }, async (c) => {
        const id = sessionIdOf(c.actor);
        if (!id) throw AdminErrors.validation("Only an admin session signs out (this call used a key)");
        c.audit.target = `session:${id}`;
        await endSession(ctx.sql, id, { sessionId: id });
        return noContent();
      }),
    )
    .get(
      "/sessions",
      adminRoute(deps, { action: "sessions.list", capability: "signed_in" }, async (c) =>
        listSessions(ctx.sql, ctx.sessions, scopeOf(c.actor), sessionIdOf(c.actor)),
      ),
    )
    .delete(
      "/sessions/:id",
      adminRoute(deps, { action: "sessions.revoke", capability: "signed_in" }, async (c) => {
        const id = c.params.id!;
        c.audit.target = `session:${id}`;
        if (!(await endSession(ctx.sql, id, scopeOf(c.actor)))) throw AdminErrors.notFound("Session");
        return noContent();
      }),
    );
