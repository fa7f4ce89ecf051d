// What every auth route shares: the error guard (GoTrue's error shape, including weak_password,
// which the app-wide renderer cannot express), and the request facts the flows need.
import { requestContext } from "../../lib/request-context.ts";
import type { Principal } from "../../db/pool.ts";
import type { AuthContext, Client } from "../context.ts";
import { renderAuthError } from "../errors.ts";
import { safeRedirect } from "../redirects.ts";

export interface RouteContext {
  body: unknown;
  query: Record<string, string | undefined>;
  params: Record<string, string>;
  request: Request;
}

/**
 * Wraps a handler so that PlinthErrors render in GoTrue's shape here. Elysia runs the app-wide
 * onError before a plugin's own, so the guard has to sit around the handler. Anything else is
 * rethrown for the app-wide handler, which logs it and answers a bare 500.
 */
export function guarded(fn: (c: RouteContext) => Promise<Response> | Response) {
  return async (c: RouteContext): Promise<Response> => {
    try {
      return await fn(c);
    } catch (err) {
      const rendered = renderAuthError(err);
      if (rendered) return rendered;
      throw err;
    }
  };
}

export function clientOf(ctx: AuthContext, request: Request): Client {
  const base = ctx.config.publicUrl ? ctx.config.publicUrl.replace(/\/+$/, "") : new URL(request.url).origin;
  return { ip: requestContext(request)?.ip ?? null, userAgent: request.headers.get("user-agent"), apiBase: base };
}

export function principalOf(request: Request): Principal | null {
  return requestContext(request)?.principal ?? null;
}

/** The validated `redirect_to` (query first, as auth-js sends it), or the site URL. */
export function redirectOf(ctx: AuthContext, c: RouteContext, bodyValue?: string): string {
  return safeRedirect(ctx.config, c.query.redirect_to ?? bodyValue);
}
