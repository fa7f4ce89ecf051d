// How an error looks on the wire is each API's business (PostgREST, GoTrue, Storage, the admin API):
// each registers ONE renderer, and the gateway, the router and the API's own routes all use it. This
// module only defines the registry; it imports no feature (src/app.ts fills it in).
import type { Area } from "../lib/request-context.ts";

/** An error to put on the wire: what the gateway refuses with, and what a PlinthError carries. */
export interface WireError {
  status: number;
  code: string;
  message: string;
  details?: string | null;
  hint?: string | null;
  headers?: Record<string, string>;
}

/** Renders `e` for `req` (a renderer may read request headers, e.g. auth's API version). */
export type ErrorRenderer = (e: WireError, req: Request) => Response;

export type Renderers = Record<Area, ErrorRenderer>;

/** The shape of areas without a client of their own (/health, /metrics, unknown paths). */
export const plainRenderer: ErrorRenderer = (e) =>
  new Response(JSON.stringify({ code: e.code, message: e.message }), {
    status: e.status,
    headers: { "content-type": "application/json; charset=utf-8", ...e.headers },
  });
