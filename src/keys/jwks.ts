// GET /auth/v1/.well-known/jwks.json: the public keys of the signing keys in use and on standby,
// serialised once per key change by the ring. Cacheable: clients (auth-js caches it for ten
// minutes) may keep it for five; a strong ETag lets them revalidate for free. A revoked key leaves
// the document at once, but a client's cached copy may still list it until max-age passes; the
// server itself refuses the revoked key's tokens immediately.
import { createHash } from "node:crypto";
import type { KeyRing } from "./ring.ts";

export function jwksResponse(ring: KeyRing, req: Request): Promise<Response> {
  return ring.ready().then(() => {
    const body = ring.jwks();
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    const headers = { "content-type": "application/json", "cache-control": "public, max-age=300, must-revalidate", etag };
    if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
    return new Response(body, { headers });
  });
}
