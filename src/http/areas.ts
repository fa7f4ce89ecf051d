// The URL prefixes Plinth serves and, per prefix, whether a key is required and how errors look on
// the wire (each API has its own error shape that its client parses).
export type Area = "auth" | "rest" | "realtime" | "storage" | "admin" | "system";

export const PREFIXES: ReadonlyArray<[string, Area]> = [
  ["/auth/v1", "auth"],
  ["/rest/v1", "rest"],
  ["/realtime/v1", "realtime"],
  ["/storage/v1", "storage"],
  ["/admin/v1", "admin"],
];

export function areaOf(path: string): { area: Area; prefix: string } {
  for (const [prefix, area] of PREFIXES) {
    if (path === prefix || path.startsWith(prefix + "/")) return { area, prefix };
  }
  return { area: "system", prefix: "" };
}

/** Auth endpoints reached from e-mail links and OAuth redirects carry no apikey (Kong leaves them open). */
const OPEN_AUTH = ["/auth/v1/verify", "/auth/v1/callback", "/auth/v1/authorize", "/auth/v1/.well-known/jwks.json"];

/** Whether the request must carry a valid key before it reaches the service. */
export function keyRequired(area: Area, path: string): boolean {
  if (area === "auth") return !OPEN_AUTH.some((p) => path === p || path.startsWith(p + "/"));
  return area === "rest" || area === "realtime" || area === "admin";
}

export interface WireError {
  status: number;
  code: string;
  message: string;
  details?: string | null;
  hint?: string | null;
  headers?: Record<string, string>;
}

/** Renders a gateway-level error in the wire shape the area's client expects. */
export function renderError(area: Area, e: WireError, apiVersion: string | null): Response {
  let status = e.status;
  let body: unknown;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", ...e.headers };
  switch (area) {
    case "rest":
      body = { code: e.code, message: e.message, details: e.details ?? null, hint: e.hint ?? null };
      break;
    case "auth":
      // auth-js reads `code` as the error code only when the API version header is echoed.
      body = { code: e.code, message: e.message, msg: e.message, error_code: e.code };
      headers["x-sb-error-code"] = e.code;
      if (apiVersion) headers["x-supabase-api-version"] = apiVersion;
      break;
    case "storage":
      // Supabase Storage answers renderable 4xx errors with HTTP 400 and the real status in the body.
      body = { statusCode: String(e.status), code: e.code, error: storageErrorName(e.status), message: e.message };
      if (e.status < 500 && e.status !== 429) status = 400;
      break;
    default:
      body = { code: e.code, message: e.message };
  }
  return new Response(JSON.stringify(body), { status, headers });
}

function storageErrorName(status: number): string {
  if (status === 401 || status === 403) return "Unauthorized";
  if (status === 404) return "not_found";
  if (status === 413) return "Payload too large";
  if (status === 429) return "too_many_requests";
  return "Error";
}
