// The console's live numbers and log lines: GET /admin/v1/stats (JSON; /metrics stays Prometheus)
// and GET /admin/v1/logs (the logger's bounded in-memory ring, filtered, followed by cursor, with
// nothing secret in it), and who may read them.
import { describe, expect, test } from "bun:test";
import { readLogs, parseLogQuery } from "../src/admin/observe/logs.ts";
import { Metrics } from "../src/http/metrics.ts";
import { createLogger, LogRing } from "../src/log.ts";
import { adminApp, uniqueEmail } from "./support/admin.ts";

const t = await adminApp();
const service = { apikey: t.keys.service_role, token: t.keys.service_role };

describe("GET /admin/v1/stats", () => {
  test("version, uptime, services, per-area rates and p95, pool, database size, replication, storage", async () => {
    for (let i = 0; i < 5; i++) await t.call("GET", "/auth/session", undefined, service);
    const r = await t.call("GET", "/stats", undefined, service);
    expect(r.status).toBe(200);
    const s = r.body;
    expect(s.version).toMatch(/^\d+\.\d+/);
    expect(s.uptime_s).toBeGreaterThanOrEqual(0);
    expect(s.services.map((x: any) => x.name)).toEqual(["auth", "admin", "database"]);
    expect(s.services.every((x: any) => x.status === "up")).toBe(true);
    expect(Object.keys(s.areas).sort()).toEqual(["admin", "auth", "realtime", "rest", "storage", "system"]);
    expect(s.areas.admin.total).toBeGreaterThanOrEqual(5);
    expect(s.areas.admin.requests_per_s).toBeGreaterThan(0);
    expect(s.areas.admin.p95_ms).toBeGreaterThan(0);
    expect(s.areas.rest).toEqual({ requests_per_s: 0, p95_ms: null, total: 0 });
    expect(s.websocket_connections).toBe(0);
    expect(s.db_pool.max).toBeGreaterThan(0);
    expect(s.db_pool.in_use).toBeGreaterThanOrEqual(0);
    expect(s.database.status).toBe("up");
    expect(s.database.size_bytes).toBeGreaterThan(1_000_000);
    expect(["idle", "streaming"]).toContain(s.replication.state);
    expect(Array.isArray(s.replication.slots)).toBe(true);
    expect(s.storage).toEqual({ used_bytes: 0, objects: 0 });
  });

  test("storage used counts stored objects' sizes", async () => {
    await t.sql`insert into storage.buckets (id, name) values ('obs', 'obs') on conflict do nothing`;
    await t.sql`insert into storage.objects (bucket_id, name, metadata) values ('obs', 'a.txt', '{"size": 1234}'), ('obs', 'b.txt', '{"size": 766}')`;
    const r = await t.call("GET", "/stats", undefined, service);
    expect(r.body.storage).toEqual({ used_bytes: 2000, objects: 2 });
  });

  test("a moderator or a viewer may not read it; an admin may", async () => {
    for (const level of ["moderator", "viewer"] as const) {
      const a = await t.makeAdmin(uniqueEmail(level), level);
      const token = await t.login(a.email!);
      expect(await t.call("GET", "/stats", undefined, { token })).toMatchObject({ status: 403, body: { code: "forbidden" } });
      expect(await t.call("GET", "/logs", undefined, { token })).toMatchObject({ status: 403, body: { code: "forbidden" } });
    }
    const a = await t.makeAdmin(uniqueEmail("admin"), "admin");
    expect((await t.call("GET", "/stats", undefined, { token: await t.login(a.email!) })).status).toBe(200);
    expect((await t.call("GET", "/stats")).status).toBe(401);
  });

  test("the p95 and rate are over the last 10 s only", () => {
    const m = new Metrics();
    for (let i = 1; i <= 100; i++) m.observe("/rest/v1", 200, i, 1_000);
    m.observe("/auth/v1/token", 200, 3, 20_000);
    const now = m.recent(20_500);
    expect(now.rest).toEqual({ requests_per_s: 0, p95_ms: null, total: 100 });
    expect(now.auth).toEqual({ requests_per_s: 0.1, p95_ms: 3, total: 1 });
    const then = m.recent(5_000);
    expect(then.rest!.p95_ms).toBe(95);
    expect(then.rest!.requests_per_s).toBe(10);
  });
});

describe("GET /admin/v1/logs", () => {
  test("the request lines of this server, with their area, newest last, and a cursor to follow", async () => {
    const first = await t.call("GET", "/logs?area=admin", undefined, service);
    expect(first.status).toBe(200);
    expect(first.body.lines.length).toBeGreaterThan(0);
    const line = first.body.lines.at(-1);
    expect(line).toMatchObject({ level: "info", area: "admin", msg: "request" });
    expect(line.fields.path).toMatch(/^\/admin\/v1\//);
    expect(typeof line.time).toBe("string");
    const cursor = first.body.cursor;
    expect(cursor).toBeGreaterThanOrEqual(line.seq);
    await t.call("GET", "/tables", undefined, service);
    const next = await t.call("GET", `/logs?area=admin&after=${cursor}`, undefined, service);
    expect(next.body.lines.some((l: any) => l.fields.path === "/admin/v1/tables")).toBe(true);
    expect(next.body.lines.every((l: any) => l.seq > cursor)).toBe(true);
    // Another area's filter sees none of them.
    const rest = await t.call("GET", `/logs?area=rest&after=${cursor}`, undefined, service);
    expect(rest.body.lines).toEqual([]);
  });

  test("bad filters are 400 validation_failed", async () => {
    for (const q of ["level=loud", "area=kernel", "after=-1", "after=x", "limit=0", "limit=5000"]) {
      expect(await t.call("GET", `/logs?${q}`, undefined, service)).toMatchObject({ status: 400, body: { code: "validation_failed" } });
    }
  });

  test("nothing secret: top-level and nested secret-looking fields are redacted; the query string is never logged", async () => {
    const ring = new LogRing(10);
    const log = createLogger("silent", () => {}, ring);
    log.error("boom", { password: "hunter2", detail: { token: "abc", nested: [{ apikey: "k" }], ok: 1 }, error: new Error("bad") });
    log.info("request", { path: "/rest/v1/todos" });
    const out = readLogs(ring, parseLogQuery({}));
    const text = JSON.stringify(out);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain('"abc"');
    expect(text).not.toContain('"k"');
    expect(out.lines[0]!.fields).toEqual({
      password: "[redacted]",
      detail: { token: "[redacted]", nested: [{ apikey: "[redacted]" }], ok: 1 },
      error: { name: "Error", message: "bad" },
    });
    expect(out.lines[1]).toMatchObject({ area: "rest", level: "info" });
    expect(readLogs(ring, parseLogQuery({ level: "warn" })).lines.map((l) => l.msg)).toEqual(["boom"]);
    // Through the API, a call with an apikey in the query string logs the path only.
    await t.call("GET", `/tables?apikey=${t.keys.service_role}`, undefined, service);
    const r = await t.call("GET", "/logs?limit=1000", undefined, service);
    expect(JSON.stringify(r.body)).not.toContain(t.keys.service_role);
  });

  test("the ring is bounded: the oldest lines go", () => {
    const ring = new LogRing(3);
    const log = createLogger("silent", () => {}, ring);
    for (let i = 0; i < 10; i++) log.info(`line ${i}`);
    expect(readLogs(ring, parseLogQuery({})).lines.map((l) => l.msg)).toEqual(["line 7", "line 8", "line 9"]);
    expect(readLogs(ring, parseLogQuery({ after: "9" })).lines.map((l) => l.msg)).toEqual(["line 9"]);
    // Debug lines are kept only when debug is on.
    log.debug("quiet");
    expect(ring.seq).toBe(10);
  });
});
