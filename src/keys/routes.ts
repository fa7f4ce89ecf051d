// /admin/v1/keys: signing keys and API keys (the same operations as `plinth keys …`). Reading needs
// security:read, changing security:manage; each call is one audit record (marked security) and each
// change a security event (raised by src/keys/). After a change this node reloads its ring before
// answering, so the caller's next request already sees it; other nodes follow within a second.
// Plain JSON bodies, for the console's keys screen as much as for scripts.
//   GET  /keys/signing                       [{kid, alg, status, …}]
//   POST /keys/signing {alg?}                a standby key (201)
//   POST /keys/signing/rotate {kid?, alg?}   {current, previous, alg}
//   POST /keys/signing/{kid}/revoke          {kid, status}
//   GET  /keys/api[?all=true]                [{id, name, kind, prefix, role, scopes, status, last_used_at, request_count, …}]
//   POST /keys/api {name, kind, scopes?, role?, expires?}   {…, key} (201; the secret, shown once)
//   POST /keys/api/{name}/rotate {overlap?}  {…, key, replaces, old_key_expires_at}
//   POST /keys/api/{nameOrId}/revoke         {revoked: [{id, name, kind}]}
//   GET  /keys/legacy                        {legacy_api_keys}
//   POST /keys/legacy {enabled}              {legacy_api_keys}
import { Elysia } from "elysia";
import { AdminErrors } from "../admin/errors.ts";
import { adminRoute, created, type AdminHttpDeps } from "../admin/route.ts";
import type { Config } from "../config/schema.ts";
import { keysMasterSecretProblem } from "../config/production.ts";
import type { Logger } from "../log.ts";
import {
  apiKeyJson,
  createApiKey,
  legacyApiKeysEnabled,
  listApiKeys,
  parseDuration,
  revokeApiKey,
  rotateApiKey,
  setLegacyApiKeys,
  type ApiKeyKind,
} from "./api-keys.ts";
import { writeLegacyMarker } from "./legacy-marker.ts";
import type { KeyRing } from "./ring.ts";
import { assertAlg, createSigningKey, listSigningKeys, revokeSigningKey, rotateSigningKey, signingKeyJson } from "./signing.ts";

type Body = Record<string, unknown>;

function bodyOf(body: unknown): Body {
  if (body === undefined || body === null || body === "") return {};
  if (typeof body !== "object" || Array.isArray(body)) throw AdminErrors.validation("The body must be a JSON object");
  return body as Body;
}

function durationField(b: Body, field: string): number | null {
  const v = b[field];
  if (v === undefined || v === null) return null;
  const d = typeof v === "number" && Number.isInteger(v) ? v : typeof v === "string" ? parseDuration(v) : null;
  if (d === null) throw AdminErrors.validation(`${field}: a duration such as "30d", "24h" or a number of seconds`);
  return d;
}

function decoded(raw: string | undefined): string {
  try {
    return decodeURIComponent(raw ?? "");
  } catch {
    return raw ?? "";
  }
}

export function keyRoutes(deps: AdminHttpDeps, o: { ring: KeyRing; config: Config; log: Logger }) {
  const { sql } = deps;
  const { ring } = o;
  const changed = async <T>(result: T): Promise<T> => {
    await ring.reload();
    return result;
  };
  const master = () => {
    if (o.config.env === "production") {
      const problem = keysMasterSecretProblem({ ...o.config, auth: { ...o.config.auth, signingAlg: "ES256" } });
      if (problem) throw AdminErrors.conflict("master_secret_required", problem);
    }
    return ring.master;
  };
  const security = (c: { audit: { security?: boolean; target: string | null } }, target: string) => {
    c.audit.security = true;
    c.audit.target = target;
  };
  return new Elysia()
    .get(
      "/keys/signing",
      adminRoute(deps, { action: "keys.signing.list", capability: "security:read" }, async () => (await listSigningKeys(sql)).map(signingKeyJson)),
    )
    .post(
      "/keys/signing",
      adminRoute(deps, { action: "keys.signing.create", capability: "security:manage" }, async (c) => {
        const b = bodyOf(c.body);
        let alg;
        try {
          alg = assertAlg(b.alg ?? (o.config.auth.signingAlg === "RS256" ? "RS256" : "ES256"));
        } catch (err) {
          throw AdminErrors.validation((err as Error).message);
        }
        const row = await createSigningKey(sql, master(), alg, o.log);
        security(c, `signing_key:${row.kid}`);
        return created(signingKeyJson(await changed(row)));
      }),
    )
    .post(
      "/keys/signing/rotate",
      adminRoute(deps, { action: "keys.signing.rotate", capability: "security:manage" }, async (c) => {
        const b = bodyOf(c.body);
        if (b.kid !== undefined && typeof b.kid !== "string") throw AdminErrors.validation("kid: a string");
        let alg;
        try {
          alg = assertAlg(b.alg ?? (o.config.auth.signingAlg === "RS256" ? "RS256" : "ES256"));
        } catch (err) {
          throw AdminErrors.validation((err as Error).message);
        }
        const r = await rotateSigningKey(sql, master(), { kid: b.kid as string | undefined, alg }, o.log);
        security(c, `signing_key:${r.current}`);
        return changed(r);
      }),
    )
    .post(
      "/keys/signing/:kid/revoke",
      adminRoute(deps, { action: "keys.signing.revoke", capability: "security:manage" }, async (c) => {
        const kid = decoded(c.params.kid);
        security(c, `signing_key:${kid}`);
        return changed(await revokeSigningKey(sql, kid, o.log));
      }),
    )
    .get(
      "/keys/api",
      adminRoute(deps, { action: "keys.api.list", capability: "security:read" }, async (c) => {
        await ring.flushUsage(); // this node's counts so far; other nodes' arrive with their next flush
        return (await listApiKeys(sql, { all: c.query.all === "true" })).map((r) => apiKeyJson(r));
      }),
    )
    .post(
      "/keys/api",
      adminRoute(deps, { action: "keys.api.create", capability: "security:manage" }, async (c) => {
        const b = bodyOf(c.body);
        if (b.scopes !== undefined && !Array.isArray(b.scopes)) throw AdminErrors.validation("scopes: a list of strings");
        if (b.role !== undefined && typeof b.role !== "string") throw AdminErrors.validation("role: a string");
        security(c, `api_key:${String(b.name ?? "").slice(0, 64)}`);
        const r = await createApiKey(
          sql,
          {
            name: b.name as string,
            kind: b.kind as ApiKeyKind,
            scopes: b.scopes as string[] | undefined,
            role: b.role as string | undefined,
            expiresIn: durationField(b, "expires"),
          },
          o.log,
        );
        return created(await changed(r));
      }),
    )
    .post(
      "/keys/api/:name/rotate",
      adminRoute(deps, { action: "keys.api.rotate", capability: "security:manage" }, async (c) => {
        const name = decoded(c.params.name);
        security(c, `api_key:${name}`);
        return changed(await rotateApiKey(sql, name, durationField(bodyOf(c.body), "overlap") ?? 0, o.log));
      }),
    )
    .post(
      "/keys/api/:name/revoke",
      adminRoute(deps, { action: "keys.api.revoke", capability: "security:manage" }, async (c) => {
        const name = decoded(c.params.name);
        security(c, `api_key:${name}`);
        return changed(await revokeApiKey(sql, name, o.log));
      }),
    )
    .get(
      "/keys/legacy",
      adminRoute(deps, { action: "keys.legacy.get", capability: "security:read" }, async () => ({ legacy_api_keys: await legacyApiKeysEnabled(sql) })),
    )
    .post(
      "/keys/legacy",
      adminRoute(deps, { action: "keys.legacy.set", capability: "security:manage" }, async (c) => {
        const b = bodyOf(c.body);
        if (typeof b.enabled !== "boolean") throw AdminErrors.validation("enabled: true or false");
        security(c, "legacy_api_keys");
        const r = await changed(await setLegacyApiKeys(sql, b.enabled, o.log));
        writeLegacyMarker(o.config.dataDir, b.enabled);
        return r;
      }),
    );
}
