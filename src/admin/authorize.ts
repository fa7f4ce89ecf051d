// Who may use the admin API, in one check. Today only the service_role key passes; admin accounts
// with capabilities (system_admin, moderator, …) will plug in here by mapping their principal to an
// AdminActor with a narrower capability set, without touching any route.
import type { Principal } from "../db/pool.ts";
import { AdminErrors } from "./errors.ts";

export const CAPABILITIES = ["meta:read", "meta:write", "sql:run", "audit:read"] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** How the caller identified itself, as recorded in the audit log. */
export type ActorKind = "service_key" | "anon_key" | "user_token" | "none";

export interface AdminActor {
  role: string;
  kind: ActorKind;
  /** The JWT `sub`, when the key names a user. */
  sub: string | null;
  capabilities: ReadonlySet<Capability>;
}

const ALL: ReadonlySet<Capability> = new Set(CAPABILITIES);
const NONE: ReadonlySet<Capability> = new Set();

/** The actor a principal stands for (even when it may do nothing: the audit log names it). */
export function actorOf(principal: Principal | null): AdminActor {
  if (!principal) return { role: "none", kind: "none", sub: null, capabilities: NONE };
  const sub = typeof principal.claims.sub === "string" ? principal.claims.sub : null;
  switch (principal.role) {
    case "service_role":
      return { role: principal.role, kind: "service_key", sub, capabilities: ALL };
    case "authenticated":
      return { role: principal.role, kind: "user_token", sub, capabilities: NONE };
    default:
      return { role: principal.role, kind: sub ? "user_token" : "anon_key", sub, capabilities: NONE };
  }
}

/**
 * Refuses an actor that lacks `capability`: 401 when the caller is not signed in as anyone who
 * could ever be an admin (no key, the anon key), 403 when it is a known user without the right.
 */
export function authorizeAdmin(actor: AdminActor, capability: Capability): void {
  if (actor.capabilities.has(capability)) return;
  if (actor.kind === "none" || actor.kind === "anon_key") throw AdminErrors.unauthorized();
  throw AdminErrors.forbidden();
}
