// What the gateway learned about a request (its id, the client address, the API area, the caller),
// for the handlers behind it. A leaf: the gateway writes it, features read it, and neither imports
// the other. Keyed by the Request object the gateway hands on, so it lives exactly as long as it.
import type { Principal } from "../db/pool.ts";

/** The URL prefixes Plinth serves: each API has its own key rules and error wire shape. */
export type Area = "auth" | "rest" | "realtime" | "storage" | "admin" | "system";

export interface RequestContext {
  id: string;
  ip: string;
  area: Area;
  /** The parsed request URL (services reuse it rather than parse it again). */
  url: URL;
  /** null: no key was sent (only possible where the area does not require one). */
  principal: Principal | null;
}

const contexts = new WeakMap<Request, RequestContext>();

/** The gateway's findings about a request, for the services behind it. */
export function requestContext(req: Request): RequestContext | undefined {
  return contexts.get(req);
}

/** Called by the gateway once it admitted `req`. */
export function bindRequestContext(req: Request, ctx: RequestContext): void {
  contexts.set(req, ctx);
}
