// Polled telemetry in the audit log: an open console asks GET /admin/v1/stats every 2 s and /logs
// every second. Successful polls are recorded once per session and minute (the record opening a
// window says how many calls the previous one folded in); refusals are recorded every time, other
// reads and every change still write one record per call.
import { describe, expect, test } from "bun:test";
import { PollWindows } from "../src/admin/audit/poll-window.ts";
import { adminApp, uniqueEmail } from "./support/admin.ts";

const t = await adminApp();
const service = { token: t.keys.service_role, apikey: t.keys.service_role };

async function rows(action: string, email: string) {
  return t.sql<{ outcome: string; details: Record<string, unknown> | null }[]>`
    select outcome, details from plinth.audit_log where action = ${action} and admin_email = ${email} order by id`;
}

describe("polled reads", () => {
  test("30 polls of /stats and of /logs by one session write one record each; a second session opens its own window", async () => {
    const email = uniqueEmail("poller");
    await t.makeAdmin(email, "admin");
    const token = await t.login(email);
    for (let i = 0; i < 30; i++) {
      expect((await t.call("GET", "/stats", undefined, { token })).status).toBe(200);
      expect((await t.call("GET", `/logs?limit=5&after=${i}`, undefined, { token })).status).toBe(200);
    }
    const stats = await rows("stats.read", email);
    expect(stats).toHaveLength(1);
    expect(stats[0]).toEqual({ outcome: "ok", details: { poll_window_s: 60, folded_calls: 0 } });
    expect(await rows("logs.read", email)).toHaveLength(1);

    const second = await t.login(email);
    for (let i = 0; i < 3; i++) await t.call("GET", "/stats", undefined, { token: second });
    expect(await rows("stats.read", email)).toHaveLength(2);
  });

  test("refusals are never folded: a viewer's ten refused polls are ten records", async () => {
    const email = uniqueEmail("poll-viewer");
    await t.makeAdmin(email, "viewer");
    const token = await t.login(email);
    for (let i = 0; i < 10; i++) expect((await t.call("GET", "/stats", undefined, { token })).status).toBe(403);
    const r = await rows("stats.read", email);
    expect(r).toHaveLength(10);
    expect(r.every((x) => x.outcome === "denied" && x.details === null)).toBe(true);
  });

  test("a key polling is one identity per address; other reads and changes still write one record per call", async () => {
    const count = async (action: string) =>
      (await t.sql<{ n: number }[]>`select count(*)::int as n from plinth.audit_log where action = ${action} and actor_kind = 'service_key'`)[0]!.n;
    const before = await count("stats.read");
    for (let i = 0; i < 5; i++) await t.call("GET", "/stats", undefined, { ...service, ip: "198.51.100.1" });
    for (let i = 0; i < 5; i++) await t.call("GET", "/stats", undefined, { ...service, ip: "198.51.100.2" });
    expect((await count("stats.read")) - before).toBe(2);

    const schemas = await count("schemas.list");
    for (let i = 0; i < 4; i++) expect((await t.call("GET", "/schemas", undefined, service)).status).toBe(200);
    expect((await count("schemas.list")) - schemas).toBe(4);
    const made = await count("admins.create");
    for (let i = 0; i < 2; i++) {
      const r = await t.call("POST", "/admins", { email: uniqueEmail("poll-made"), password: "Admin-password-1", level: "viewer" }, service);
      expect(r.status).toBe(201);
    }
    expect((await count("admins.create")) - made).toBe(2);
  });
});

describe("PollWindows", () => {
  test("one record per identity and window; the next window's record counts what the last one folded", () => {
    const w = new PollWindows(60_000);
    const t0 = 1_000_000;
    expect(w.note("a", t0)).toEqual({ record: true, foldedBefore: 0 });
    for (let i = 1; i <= 29; i++) expect(w.note("a", t0 + i * 2000)).toEqual({ record: false });
    expect(w.note("b", t0 + 1000)).toEqual({ record: true, foldedBefore: 0 });
    expect(w.note("a", t0 + 60_000)).toEqual({ record: true, foldedBefore: 29 });
    expect(w.note("a", t0 + 60_001)).toEqual({ record: false });
    // A clock that went backwards opens a new window rather than folding forever.
    expect(w.note("a", t0 - 5000)).toEqual({ record: true, foldedBefore: 1 });
  });

  test("bounded: with the table full of live windows a new identity is recorded, not folded", () => {
    const w = new PollWindows(60_000);
    for (let i = 0; i < 10_000; i++) w.note(`id-${i}`, 5);
    expect(w.note("newcomer", 10)).toEqual({ record: true, foldedBefore: 0 });
    expect(w.note("newcomer", 11)).toEqual({ record: true, foldedBefore: 0 });
    // Once the old windows have closed, a sweep makes room and folding resumes.
    expect(w.note("late", 70_000)).toEqual({ record: true, foldedBefore: 0 });
    expect(w.note("late", 70_001)).toEqual({ record: false });
  });
});
