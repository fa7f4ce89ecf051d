// The URL prefixes Plinth serves and, per prefix, whether a key is required. (How each API's errors
// look on the wire is the API's own renderer: see renderers.ts.)
import type { Area } from "../lib/request-context.ts";

export type { Area } from "../lib/request-context.ts";

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
