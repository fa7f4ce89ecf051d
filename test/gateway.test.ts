import { afterAll, describe, expect, setSystemTime, test } from "bun:test";
import { buildApp, tokenFor, TEST_SECRET } from "./support/app.ts";
import { freshDatabase } from "./support/db.ts";
import { apiKeys, signJwt } from "../src/lib/jwt.ts";

const { db } = await freshDatabase();
const keys = await apiKeys(TEST_SECRET);
const app = buildApp(db);
afterAll(() => app.gateway.close());

describe("system routes", () => {
  test("GET /health checks the database and answers JSON", async () => {
    const res = await app.request("/health");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as { status: string };
    expect(body.status).toBe("ok");
  });

  test("unknown route is 404 JSON with code and message", async () => {
    const res = await app.request("/nope/at/all");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: "not_found", message: expect.any(String) });
  });

  test("GET /metrics exposes request counters, latency histogram and pool use", async () => {
    await app.request("/health");
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('plinth_http_requests_total{route="/health",status="200"}');
    expect(text).toContain("plinth_http_request_duration_seconds_bucket");
    expect(text).toContain("plinth_db_pool_max 5");
  });
});

describe("metrics in production", () => {
  test("need the service_role key; anon and no key get 401", async () => {
    const prod = buildApp(db, { env: "production", auth: { autoconfirm: false } });
    expect((await prod.request("/metrics")).status).toBe(401);
    expect((await prod.request("/metrics", { headers: { apikey: keys.anon } })).status).toBe(401);
    const ok = await prod.request("/metrics", { headers: { authorization: `Bearer ${keys.service_role}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("plinth_http_requests_total");
    expect((await prod.request("/health")).status).toBe(200); // health stays open for load balancers
    prod.gateway.close();
  });
});

describe("request id", () => {
  test("is generated when absent", async () => {
    const res = await app.request("/health");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
  test("is echoed when given and sane, replaced when not", async () => {
    expect((await app.request("/health", { headers: { "x-request-id": "abc-123" } })).headers.get("x-request-id")).toBe("abc-123");
    const evil = (await app.request("/health", { headers: { "x-request-id": 'a b"<script>' } })).headers.get("x-request-id");
    expect(evil).not.toContain("<");
  });
});

describe("API keys", () => {
  const restPath = "/rest/v1/some_table";
  test("missing key on /rest/v1, /auth/v1, /realtime/v1 and /admin/v1 is 401 JSON", async () => {
    for (const path of [restPath, "/auth/v1/user", "/realtime/v1/api/broadcast", "/admin/v1/users"]) {
      const res = await app.request(path);
      expect(res.status).toBe(401);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe("no_api_key");
      expect(body.message).toContain("API key");
    }
  });
  test("REST errors carry PostgREST's shape", async () => {
    const body = await (await app.request(restPath)).json();
    expect(body).toEqual({ code: "no_api_key", message: expect.any(String), details: null, hint: null });
  });
  test("auth errors echo the API version header and x-sb-error-code", async () => {
    const res = await app.request("/auth/v1/user", { headers: { "x-supabase-api-version": "2024-01-01" } });
    expect(res.headers.get("x-supabase-api-version")).toBe("2024-01-01");
    expect(res.headers.get("x-sb-error-code")).toBe("no_api_key");
  });
  test("open auth endpoints (verify, callback) need no key", async () => {
    expect((await app.request("/auth/v1/verify?token=x")).status).not.toBe(401);
  });
  test("a valid anon or service_role key passes the gateway", async () => {
    for (const key of [keys.anon, keys.service_role]) {
      const res = await app.request(restPath, { headers: { apikey: key } });
      expect(res.status).toBe(404); // no REST service mounted in this test: routed, not refused
    }
  });
  test("a user JWT as Bearer with the anon apikey passes", async () => {
    const user = await tokenFor({ sub: "00000000-0000-0000-0000-000000000001", role: "authenticated" });
    const res = await app.request(restPath, { headers: { apikey: keys.anon, authorization: `Bearer ${user}` } });
    expect(res.status).toBe(404);
  });
  test("forged, expired, wrong-role, alg=none and malformed tokens are 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await signJwt({ role: "service_role", exp: now + 60 }, "another-secret-another-secret-another");
    const expired = await signJwt({ role: "anon", exp: now - 3600 }, TEST_SECRET);
    const superuser = await signJwt({ role: "postgres", exp: now + 60 }, TEST_SECRET);
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from('{"role":"service_role"}').toString("base64url")}.`;
    const cases: Array<[string, string]> = [
      [forged, "invalid_jwt"],
      [expired, "jwt_expired"],
      [superuser, "invalid_jwt"],
      [none, "invalid_jwt"],
      ["not.a.jwt", "invalid_jwt"],
      ["garbage", "invalid_jwt"],
    ];
    for (const [token, code] of cases) {
      const viaApikey = await app.request(restPath, { headers: { apikey: token } });
      expect(viaApikey.status).toBe(401);
      expect(((await viaApikey.json()) as { code: string }).code).toBe(code);
      const viaBearer = await app.request(restPath, { headers: { apikey: keys.anon, authorization: `Bearer ${token}` } });
      expect(viaBearer.status).toBe(401);
    }
  });
  test("a token the gateway has already verified (and cached) is refused once it expires, and a changed signature is verified afresh", async () => {
    // Its own gateway without rate limits: the clock is moved below, and buckets follow the clock.
    const app = buildApp(db, { rateLimit: { enabled: false } });
    const now = Math.floor(Date.now() / 1000);
    const user = await tokenFor({ sub: "00000000-0000-0000-0000-00000000000c", role: "authenticated", exp: now + 60 });
    const ok = await app.request(restPath, { headers: { apikey: keys.anon, authorization: `Bearer ${user}` } });
    expect(ok.status).toBe(404); // admitted (and now in the verified-token cache)
    const tampered = user.slice(0, -2) + (user.endsWith("AA") ? "BB" : "AA");
    const bad = await app.request(restPath, { headers: { apikey: keys.anon, authorization: `Bearer ${tampered}` } });
    expect(bad.status).toBe(401);
    setSystemTime(new Date((now + 60 + 31) * 1000)); // past exp and the 30 s leeway
    try {
      const late = await app.request(restPath, { headers: { apikey: keys.anon, authorization: `Bearer ${user}` } });
      expect(late.status).toBe(401);
      expect(((await late.json()) as { code: string }).code).toBe("jwt_expired");
    } finally {
      setSystemTime();
    }
  });
  test("a valid bearer cannot rescue an invalid apikey", async () => {
    const res = await app.request(restPath, { headers: { apikey: "forged", authorization: `Bearer ${keys.anon}` } });
    expect(res.status).toBe(401);
  });
  test("storage needs no key at the gateway but rejects a bad one in storage's shape", async () => {
    const res = await app.request("/storage/v1/object/public/b/x.png", { headers: { authorization: "Bearer junk" } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ statusCode: "401", error: "Unauthorized" });
  });
});

describe("logging", () => {
  test("one JSON line per request with method, path, status, duration, request id, role; no secrets", async () => {
    app.logs.length = 0;
    await app.request(`/rest/v1/t?apikey=${keys.service_role}`, { headers: { authorization: `Bearer ${keys.service_role}` } });
    expect(app.logs).toHaveLength(1);
    const line = app.logs[0]!;
    expect(line).toMatchObject({ msg: "request", method: "GET", path: "/rest/v1/t", status: 404, role: "service_role" });
    expect(typeof line.duration_ms).toBe("number");
    expect(typeof line.request_id).toBe("string");
    expect(JSON.stringify(line)).not.toContain(keys.service_role.split(".")[2]!);
  });
});

describe("body size", () => {
  test("a declared oversize body is refused with 413 JSON before any work", async () => {
    const big = "x".repeat(app.config.http.bodyLimit + 1);
    const res = await app.request("/rest/v1/t", {
      method: "POST",
      body: big,
      headers: { apikey: keys.anon, "content-type": "application/json", "content-length": String(big.length) },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe("payload_too_large");
  });
});

describe("rate limits", () => {
  test("per IP: a token bucket, then 429 with Retry-After", async () => {
    const limited = buildApp(db, { rateLimit: { perIp: { capacity: 3, perSecond: 0.5 } } });
    const statuses: number[] = [];
    let retry: string | null = null;
    for (let i = 0; i < 5; i++) {
      const res = await limited.request("/nope");
      statuses.push(res.status);
      if (res.status === 429) retry = res.headers.get("retry-after");
    }
    // A client that exhausted its bucket must not make the node look dead to its load balancer.
    const health = await limited.request("/health");
    limited.gateway.close();
    expect(statuses).toEqual([404, 404, 404, 429, 429]);
    expect(Number(retry)).toBeGreaterThanOrEqual(1);
    expect(health.status).toBe(200);
  });
  test("GET /health is never rate limited, and does not draw from the caller's bucket", async () => {
    const limited = buildApp(db, { rateLimit: { perIp: { capacity: 2, perSecond: 0.01 } } });
    for (let i = 0; i < 50; i++) expect((await limited.request("/health")).status).toBe(200);
    expect((await limited.request("/nope")).status).toBe(404); // the bucket is still full
    limited.gateway.close();
  });
  test("per user: one user's burst does not limit another user", async () => {
    const limited = buildApp(db, { rateLimit: { perIp: { capacity: 1000, perSecond: 100 }, perUser: { capacity: 2, perSecond: 0.1 } } });
    const alice = await tokenFor({ sub: "a", role: "authenticated" });
    const bob = await tokenFor({ sub: "b", role: "authenticated" });
    const hit = (t: string) => limited.request("/rest/v1/t", { headers: { apikey: keys.anon, authorization: `Bearer ${t}` } });
    expect((await hit(alice)).status).toBe(404);
    expect((await hit(alice)).status).toBe(404);
    const third = await hit(alice);
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).not.toBeNull();
    expect((await hit(bob)).status).toBe(404);
    limited.gateway.close();
  });
  test("disabled rate limiting lets everything through", async () => {
    const open = buildApp(db, { rateLimit: { enabled: false, perIp: { capacity: 1, perSecond: 0 } } });
    for (let i = 0; i < 5; i++) expect((await open.request("/health")).status).toBe(200);
    open.gateway.close();
  });
});

describe("CORS", () => {
  test("preflight answers 204 with the allowed methods and headers", async () => {
    const res = await app.request("/rest/v1/t", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "apikey, content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(res.headers.get("access-control-allow-headers")).toContain("apikey");
  });
  test("a configured origin list reflects only listed origins, with credentials", async () => {
    const strict = buildApp(db, { cors: { origins: ["https://good.example"], credentials: true } });
    const good = await strict.request("/health", { headers: { origin: "https://good.example" } });
    expect(good.headers.get("access-control-allow-origin")).toBe("https://good.example");
    expect(good.headers.get("access-control-allow-credentials")).toBe("true");
    const bad = await strict.request("/health", { headers: { origin: "https://evil.example" } });
    expect(bad.headers.get("access-control-allow-origin")).toBeNull();
    strict.gateway.close();
  });
  test("actual responses expose Content-Range and friends to browsers", async () => {
    const res = await app.request("/health", { headers: { origin: "https://app.example" } });
    expect(res.headers.get("access-control-expose-headers")).toContain("content-range");
  });
});
