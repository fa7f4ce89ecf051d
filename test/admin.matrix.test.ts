// The level matrix: EVERY /admin/v1 route (read from the admin service's own route table, so a new
// route without an entry here fails) × every kind of caller, with the status each must get. Requests
// are harmless (unknown ids, invalid bodies) so they pass or fail the capability check without
// changing anything; "allowed" callers get the route's own answer, the others 401 or 403.
import { beforeAll, describe, expect, test } from "bun:test";
import { createAdminService } from "../src/admin/service.ts";
import { createLogger } from "../src/log.ts";
import { testConfig, tokenFor, TEST_SECRET } from "./support/app.ts";
import { adminApp, PASSWORD } from "./support/admin.ts";

const t = await adminApp();

const CALLERS = ["service_role", "system_admin", "admin", "moderator", "viewer", "user", "anon", "none"] as const;
type Caller = (typeof CALLERS)[number];
type Level = "system_admin" | "admin" | "moderator" | "viewer";

/** Who gets the route's own answer; everyone else is refused (401 without an identity, else 403). */
const SIGNED_IN: Caller[] = ["service_role", "system_admin", "admin", "moderator", "viewer"];
const META_READ = SIGNED_IN;
const WIDE: Caller[] = ["service_role", "system_admin", "admin"]; // meta:write, sql:run, admins:manage, audit:read
const AUDIT_OWN: Caller[] = ["service_role", "system_admin", "admin", "moderator"];
const ROWS_READ = SIGNED_IN;
const ROWS_WRITE: Caller[] = ["service_role", "system_admin", "admin", "moderator"];
const EVERYONE: Caller[] = [...CALLERS];
const USERS_MANAGE: Caller[] = ["service_role", "system_admin", "admin", "moderator"]; // users:read, users:manage
const USERS_ADMIN = WIDE; // users:admin: create, invite, delete
const BACKUPS: Caller[] = ["service_role", "system_admin"]; // backups:manage (an archive holds every secret)

const NOBODY = "00000000-0000-4000-8000-000000000001";

/** A table outside the assignment: whoever holds the capability learns only that (nothing about the table). */
const SCOPED_READ = { moderator: "table_not_assigned", viewer: "table_not_assigned" } as const;
const SCOPED_WRITE = { moderator: "table_not_assigned" } as const; // a viewer lacks rows:write at all

interface Case {
  /** Unique label; several cases may exercise one route (e.g. an assigned and an unassigned table). */
  label?: string;
  path: string;
  body?: unknown;
  allowed: Caller[];
  /** The status an allowed caller gets (a function of the caller when it differs). */
  ok: number | ((c: Caller) => number);
  /** The code a refused caller's 403 carries, when it is not `forbidden`. */
  refused?: Partial<Record<Caller, string>>;
  /** Uses a session of its own (the call ends it). */
  fresh?: boolean;
}

/** "METHOD /admin/v1/path" (as the route table spells it) → the cases for it. */
const MATRIX: Record<string, Case[]> = {
  // An empty password is refused before any attempt is counted: eight callers' wrong passwords
  // for one identifier would lock it (src/auth/lockout.ts; its own tests are security.lockout).
  "POST /admin/v1/auth/login": [{ path: "/auth/login", body: { email: "nobody@example.com", password: "" }, allowed: EVERYONE, ok: 400 }],
  "POST /admin/v1/auth/mfa": [{ path: "/auth/mfa", body: { challenge_token: "plinth_ac_x", code: "123456" }, allowed: EVERYONE, ok: 400 }],
  "POST /admin/v1/auth/mfa/enroll": [{ path: "/auth/mfa/enroll", body: { enrollment_token: "plinth_ac_x" }, allowed: EVERYONE, ok: 400 }],
  "POST /admin/v1/auth/mfa/enroll/verify": [
    { path: "/auth/mfa/enroll/verify", body: { enrollment_token: "plinth_ac_x", factor_id: NOBODY, code: "123456" }, allowed: EVERYONE, ok: 400 },
  ],
  // One's own factor: a key (service_role) has no account, so its own answer is 400; invalid bodies keep it harmless.
  "GET /admin/v1/account/mfa": [{ path: "/account/mfa", allowed: SIGNED_IN, ok: (c) => (c === "service_role" ? 400 : 200) }],
  "POST /admin/v1/account/mfa/enroll": [{ path: "/account/mfa/enroll", body: { bogus: 1 }, allowed: SIGNED_IN, ok: 400 }],
  "POST /admin/v1/account/mfa/verify": [{ path: "/account/mfa/verify", body: {}, allowed: SIGNED_IN, ok: 400 }],
  "DELETE /admin/v1/account/mfa": [{ path: "/account/mfa", body: {}, allowed: SIGNED_IN, ok: 400 }],
  "POST /admin/v1/auth/emergency": [{ path: "/auth/emergency", body: { code: "plinth_ae_x" }, allowed: EVERYONE, ok: 400 }],
  "GET /admin/v1/auth/session": [{ path: "/auth/session", allowed: SIGNED_IN, ok: 200 }],
  "POST /admin/v1/auth/logout": [{ path: "/auth/logout", allowed: SIGNED_IN, ok: (c) => (c === "service_role" ? 400 : 204), fresh: true }],
  "GET /admin/v1/sessions": [{ path: "/sessions", allowed: SIGNED_IN, ok: 200 }],
  "DELETE /admin/v1/sessions/:id": [{ path: `/sessions/${NOBODY}`, allowed: SIGNED_IN, ok: 404 }],
  "GET /admin/v1/admins": [{ path: "/admins", allowed: WIDE, ok: 200 }],
  "GET /admin/v1/admins/:id": [{ path: `/admins/${NOBODY}`, allowed: WIDE, ok: 404 }],
  "POST /admin/v1/admins": [{ path: "/admins", body: { email: "nobody@example.com", level: "viewer" }, allowed: WIDE, ok: 404 }],
  "PATCH /admin/v1/admins/:id": [{ path: `/admins/${NOBODY}`, body: { level: "viewer" }, allowed: WIDE, ok: 404 }],
  "DELETE /admin/v1/admins/:id": [{ path: `/admins/${NOBODY}`, allowed: WIDE, ok: 404 }],
  "GET /admin/v1/users": [{ path: "/users?limit=1", allowed: USERS_MANAGE, ok: 200 }],
  "GET /admin/v1/users/:id": [{ path: `/users/${NOBODY}`, allowed: USERS_MANAGE, ok: 404 }],
  "POST /admin/v1/users": [{ path: "/users", body: {}, allowed: USERS_ADMIN, ok: 400 }],
  "POST /admin/v1/users/invite": [{ path: "/users/invite", body: {}, allowed: USERS_ADMIN, ok: 400 }],
  "POST /admin/v1/users/:id/ban": [{ path: `/users/${NOBODY}/ban`, body: { duration: "1h" }, allowed: USERS_MANAGE, ok: 404 }],
  "POST /admin/v1/users/:id/unban": [{ path: `/users/${NOBODY}/unban`, body: {}, allowed: USERS_MANAGE, ok: 404 }],
  "POST /admin/v1/users/:id/signout": [{ path: `/users/${NOBODY}/signout`, body: {}, allowed: USERS_MANAGE, ok: 404 }],
  "POST /admin/v1/users/:id/reset-password": [{ path: `/users/${NOBODY}/reset-password`, body: {}, allowed: USERS_MANAGE, ok: 404 }],
  "DELETE /admin/v1/users/:id": [{ path: `/users/${NOBODY}`, allowed: USERS_ADMIN, ok: 404 }],
  "GET /admin/v1/schemas": [{ path: "/schemas", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/functions": [{ path: "/functions?schema=auth", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/extensions": [{ path: "/extensions", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/roles": [{ path: "/roles", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/types": [{ path: "/types", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/tables": [{ path: "/tables", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/tables/:schema/:name": [{ path: "/tables/public/notes", allowed: META_READ, ok: 200 }],
  "POST /admin/v1/tables": [{ path: "/tables", body: { name: "" }, allowed: WIDE, ok: 400 }],
  "PATCH /admin/v1/tables/:schema/:name": [{ path: "/tables/public/no_such_table", body: { comment: "x" }, allowed: WIDE, ok: 404 }],
  "DELETE /admin/v1/tables/:schema/:name": [{ path: "/tables/public/no_such_table", allowed: WIDE, ok: 404 }],
  "GET /admin/v1/tables/:schema/:name/rows": [
    { label: "assigned", path: "/tables/public/notes/rows", allowed: ROWS_READ, ok: 200 },
    { label: "not assigned", path: "/tables/public/secrets/rows", allowed: WIDE, ok: 200, refused: SCOPED_READ },
  ],
  "GET /admin/v1/tables/:schema/:name/rows/:pk": [
    { label: "assigned", path: "/tables/public/notes/rows/999999", allowed: ROWS_READ, ok: 404 },
    { label: "not assigned", path: "/tables/public/secrets/rows/1", allowed: WIDE, ok: 200, refused: SCOPED_READ },
  ],
  "POST /admin/v1/tables/:schema/:name/rows": [
    { label: "assigned", path: "/tables/public/notes/rows", body: { no_such_column: 1 }, allowed: ROWS_WRITE, ok: 400 },
    { label: "not assigned", path: "/tables/public/secrets/rows", body: { no_such_column: 1 }, allowed: WIDE, ok: 400, refused: SCOPED_WRITE },
  ],
  "PATCH /admin/v1/tables/:schema/:name/rows/:pk": [
    { label: "assigned", path: "/tables/public/notes/rows/999999", body: { body: "x" }, allowed: ROWS_WRITE, ok: 404 },
  ],
  "DELETE /admin/v1/tables/:schema/:name/rows/:pk": [{ label: "assigned", path: "/tables/public/notes/rows/999999", allowed: ROWS_WRITE, ok: 404 }],
  "DELETE /admin/v1/tables/:schema/:name/rows": [
    { label: "assigned", path: "/tables/public/notes/rows?filter=id%3Deq.999999", body: {}, allowed: ROWS_WRITE, ok: 200 },
  ],
  "POST /admin/v1/relationships": [{ path: "/relationships", body: {}, allowed: WIDE, ok: 400 }],
  "GET /admin/v1/policies": [{ path: "/policies", allowed: META_READ, ok: 200 }],
  "POST /admin/v1/policies": [{ path: "/policies", body: {}, allowed: WIDE, ok: 400 }],
  "DELETE /admin/v1/policies/:schema/:table/:policy": [{ path: "/policies/public/notes/no_such_policy", allowed: WIDE, ok: 404 }],
  "GET /admin/v1/tables/:schema/:name/security": [{ path: "/tables/public/no_such_table/security", allowed: META_READ, ok: 404 }],
  "PUT /admin/v1/tables/:schema/:name/security": [{ path: "/tables/public/no_such_table/security", body: { template: "admin_only" }, allowed: WIDE, ok: 404 }],
  "POST /admin/v1/security/simulate": [
    { path: "/security/simulate", body: { as: { role: "anon" }, table: "no_such_table", operation: "select" }, allowed: WIDE, ok: 404 },
  ],
  "POST /admin/v1/sql": [{ path: "/sql", body: { query: "select 1" }, allowed: WIDE, ok: 200 }],
  "GET /admin/v1/audit": [{ path: "/audit?limit=1", allowed: AUDIT_OWN, ok: 200 }],
  "GET /admin/v1/audit/verify": [{ path: "/audit/verify", allowed: WIDE, ok: 200 }],
  "GET /admin/v1/audit/export": [{ path: "/audit/export?format=ndjson&since=2999-01-01", allowed: WIDE, ok: 200 }],
  "GET /admin/v1/security/events": [{ path: "/security/events?limit=1", allowed: WIDE, ok: 200 }],
  "GET /admin/v1/security/locks": [{ path: "/security/locks", allowed: WIDE, ok: 200 }],
  "DELETE /admin/v1/security/locks/:identifier": [{ path: "/security/locks/email%3Anobody%40example.com", allowed: WIDE, ok: 404 }],
  "GET /admin/v1/keys/signing": [{ path: "/keys/signing", allowed: WIDE, ok: 200 }],
  "POST /admin/v1/keys/signing": [{ path: "/keys/signing", body: { alg: "none" }, allowed: WIDE, ok: 400 }],
  "POST /admin/v1/keys/signing/rotate": [{ path: "/keys/signing/rotate", body: { kid: "no-such-kid" }, allowed: WIDE, ok: 404 }],
  "POST /admin/v1/keys/signing/:kid/revoke": [{ path: "/keys/signing/no-such-kid/revoke", body: {}, allowed: WIDE, ok: 404 }],
  "GET /admin/v1/keys/api": [{ path: "/keys/api", allowed: WIDE, ok: 200 }],
  "POST /admin/v1/keys/api": [{ path: "/keys/api", body: {}, allowed: WIDE, ok: 400 }],
  "POST /admin/v1/keys/api/:name/rotate": [{ path: "/keys/api/no-such-key/rotate", body: {}, allowed: WIDE, ok: 404 }],
  "POST /admin/v1/keys/api/:name/revoke": [{ path: "/keys/api/no-such-key/revoke", body: {}, allowed: WIDE, ok: 404 }],
  "GET /admin/v1/keys/legacy": [{ path: "/keys/legacy", allowed: WIDE, ok: 200 }],
  "POST /admin/v1/keys/legacy": [{ path: "/keys/legacy", body: {}, allowed: WIDE, ok: 400 }],
  "GET /admin/v1/migrations": [{ path: "/migrations", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/migrations/history": [{ path: "/migrations/history", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/migrations/plan": [{ path: "/migrations/plan", allowed: META_READ, ok: 200 }],
  "GET /admin/v1/migrations/approvals": [{ path: "/migrations/approvals", allowed: META_READ, ok: 200 }],
  "POST /admin/v1/migrations/:version/approve": [{ path: "/migrations/20990101000000/approve", body: {}, allowed: WIDE, ok: 404 }],
  "POST /admin/v1/migrations/apply": [{ path: "/migrations/apply", body: { to: "20990101000000" }, allowed: WIDE, ok: 400 }],
  "POST /admin/v1/migrations/revert": [{ path: "/migrations/revert", body: { steps: 0 }, allowed: WIDE, ok: 400 }],
  "GET /admin/v1/types/typescript": [{ path: "/types/typescript?schema=no_such_schema", allowed: META_READ, ok: 400 }],
  "GET /admin/v1/stats": [{ path: "/stats", allowed: WIDE, ok: 200 }],
  "GET /admin/v1/plugins": [{ path: "/plugins", allowed: WIDE, ok: 200 }],
  "GET /admin/v1/logs": [{ path: "/logs?limit=1", allowed: WIDE, ok: 200 }],
  // Harmless: an invalid body starts nothing; no job has run, and no archive has this name.
  "POST /admin/v1/backups": [{ path: "/backups", body: { gzip: "yes" }, allowed: BACKUPS, ok: 400 }],
  "GET /admin/v1/backups": [{ path: "/backups", allowed: BACKUPS, ok: 200 }],
  "GET /admin/v1/backups/current": [{ path: "/backups/current", allowed: BACKUPS, ok: 404 }],
  "DELETE /admin/v1/backups/current": [{ path: "/backups/current", allowed: BACKUPS, ok: 404 }],
  "GET /admin/v1/backups/:name": [{ path: "/backups/plinth-backup-20990101-000000.tar", allowed: BACKUPS, ok: 404 }],
  "DELETE /admin/v1/backups/:name": [{ path: "/backups/plinth-backup-20990101-000000.tar", allowed: BACKUPS, ok: 404 }],
};

/** The admin service's routes as its route table lists them ("METHOD /path"). */
async function liveRoutes(): Promise<string[]> {
  const config = testConfig();
  const service = await createAdminService({ config, db: t.database.db, log: createLogger("silent"), jwtSecret: TEST_SECRET, dbUrl: t.database.url });
  try {
    return (service.routes.routes as { method: string; path: string }[]).map((r) => `${r.method} ${r.path}`).sort();
  } finally {
    await service.stop?.();
  }
}

const emails: Record<Level, string> = {
  system_admin: "matrix-system@example.com",
  admin: "matrix-admin@example.com",
  moderator: "matrix-moderator@example.com",
  viewer: "matrix-viewer@example.com",
};
const sessions = {} as Record<Level, string>;
const userToken = await tokenFor({ sub: "7d3c1f7e-64f5-4b0e-9a3a-6f0d3f7c2b11", role: "authenticated" });

beforeAll(async () => {
  await t.sql`create table public.notes (id bigint generated by default as identity primary key, body text)`;
  await t.sql`create table public.secrets (id bigint generated by default as identity primary key, body text)`;
  await t.sql`insert into public.notes (body) values ('hello')`;
  await t.sql`insert into public.secrets (id, body) values (1, 'classified')`;
  for (const level of Object.keys(emails) as Level[]) {
    await t.makeAdmin(emails[level], level, level === "moderator" || level === "viewer" ? ["public.notes"] : undefined);
    sessions[level] = await t.login(emails[level]);
  }
});

async function as(caller: Caller, method: string, c: Case) {
  const opts =
    caller === "service_role"
      ? { token: t.keys.service_role, apikey: t.keys.anon }
      : caller === "user"
        ? { token: userToken, apikey: t.keys.anon }
        : caller === "anon"
          ? { apikey: t.keys.anon }
          : caller === "none"
            ? {}
            : { token: c.fresh ? await t.login(emails[caller]) : sessions[caller] };
  return t.call(method, c.path, c.body, opts);
}

describe("the level matrix", () => {
  test("every /admin/v1 route has an entry, and every entry is a route", async () => {
    const live = await liveRoutes();
    expect(live.filter((r) => !(r in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((r) => !live.includes(r))).toEqual([]);
  });

  for (const [route, cases] of Object.entries(MATRIX)) {
    const method = route.split(" ")[0]!;
    for (const c of cases) {
      test(`${route}${c.label ? ` (${c.label})` : ""}`, async () => {
        const got: Record<string, number> = {};
        const want: Record<string, number> = {};
        for (const caller of CALLERS) {
          const r = await as(caller, method, c);
          got[caller] = r.status;
          if (c.allowed.includes(caller)) want[caller] = typeof c.ok === "function" ? c.ok(caller) : c.ok;
          else want[caller] = caller === "anon" || caller === "none" ? 401 : 403;
          if (r.status === 403 && !c.allowed.includes(caller)) {
            expect({ caller, code: r.body?.code }).toEqual({ caller, code: c.refused?.[caller] ?? "forbidden" });
          }
        }
        expect(got).toEqual(want);
      });
    }
  }
});

describe("what the matrix implies", () => {
  test("a moderator's or viewer's session never reaches what it lacks, and the audit names it", async () => {
    const r = await t.call("POST", "/sql", { query: "select 1" }, { token: sessions.viewer });
    expect(r.body.code).toBe("forbidden");
    const audit = await t.call("GET", "/audit?limit=5", undefined, { token: t.keys.service_role });
    const entry = audit.body.find((a: any) => a.action === "sql.run" && a.actor.admin?.email === emails.viewer);
    expect(entry).toMatchObject({ outcome: "denied", status: 403, actor: { kind: "admin_session", level: "viewer", session_id: expect.any(String) } });
  });

  test("a moderator reads only the audit entries it caused", async () => {
    await t.call("GET", "/schemas", undefined, { token: sessions.moderator });
    const r = await t.call("GET", "/audit?limit=1000", undefined, { token: sessions.moderator });
    expect(r.status).toBe(200);
    expect(r.body.length).toBeGreaterThan(0);
    const me = (await t.call("GET", "/auth/session", undefined, { token: sessions.moderator })).body.admin.id;
    expect(r.body.every((a: any) => a.actor.admin?.id === me)).toBe(true);
  });

  test("no key at all on a sign-in endpoint passes the gateway; a broken JWT does not", async () => {
    expect((await t.call("POST", "/auth/login", { email: emails.viewer, password: PASSWORD })).status).toBe(200);
    const broken = await t.call("POST", "/auth/login", { email: emails.viewer, password: PASSWORD }, { token: "not.a.jwt" });
    expect(broken.status).toBe(401);
  });
});
