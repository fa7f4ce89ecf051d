// Attacks on the brute-force protection that must keep failing: one account from many addresses, a
// lock raced on two nodes, credential stuffing from one address, account enumeration through the
// lock's answers or their timing, injection through the admin's lock identifier. Also the cost
// rule: a successful sign-in pays one extra indexed statement, no more.
import { describe, expect, test } from "bun:test";
import { adminApp } from "./support/admin.ts";
import { uniqueEmail } from "./support/auth.ts";
import { checkGate, lockoutDeps } from "../src/auth/lockout.ts";

const OVERRIDES = { auth: { lockout: { maxAttempts: 5, burstThreshold: 12 } }, security: { alerts: { pollInterval: 600 } } } as const;
const a = await adminApp(OVERRIDES);
// A second node on the same database.
const b = await adminApp(OVERRIDES, a.database);
const PW = "Correct-horse-1";
const WRONG = "Wrong-password-1";

type Node = typeof a;
const signIn = (node: Node, body: Record<string, string>, ip = "127.0.0.1", ua?: string) =>
  node.call("POST", "/auth/v1/token?grant_type=password", body, { apikey: node.keys.anon, ip, headers: ua ? { "user-agent": ua } : {} });

async function signUp(email = uniqueEmail("attack")): Promise<{ id: string; email: string }> {
  const r = await a.call("POST", "/auth/v1/signup", { email, password: PW }, { apikey: a.keys.anon });
  expect(r.status).toBe(200);
  return { id: r.body.user.id, email };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

describe("many addresses, two nodes", () => {
  test("the same account attacked from many addresses is locked for every address, on every node", async () => {
    const u = await signUp();
    for (let i = 0; i < 5; i++) expect((await signIn(i % 2 ? a : b, { email: u.email, password: WRONG }, `203.0.113.${10 + i}`)).status).toBe(400);
    for (const [node, ip] of [
      [a, "203.0.113.99"],
      [b, "198.51.100.1"],
      [a, "2001:db8::1"],
    ] as const) {
      const r = await signIn(node, { email: u.email, password: PW }, ip);
      expect(r.status).toBe(429);
      expect(r.body.error_code).toBe("user_locked");
    }
    // Each address counted once: none of them alone looks like a burst.
    const rows =
      await a.sql`select key, failures from plinth.auth_lockouts where key = any(${[10, 11, 12, 13, 14].map((n) => `address:203.0.113.${n}`)}::text[])`;
    expect(rows.map((r) => r.failures)).toEqual([1, 1, 1, 1, 1]);
  });

  test("a lock raced on two nodes: concurrent failures take exactly one lock, and both nodes refuse the right password", async () => {
    const u = await signUp();
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => signIn(i % 2 ? a : b, { email: u.email, password: WRONG }, `192.0.2.${i + 1}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 400 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 400).length).toBeGreaterThanOrEqual(5);
    const events = await a.sql`select * from plinth.security_events where kind = 'lockout' and user_id = ${u.id}`;
    expect(events.length).toBe(1);
    const [row] = await a.sql`select locks, failures, locked_until > now() as locked from plinth.auth_lockouts where key = ${`email:${u.email}`}`;
    expect(row).toMatchObject({ locks: 1, failures: 0, locked: true });
    expect((await signIn(a, { email: u.email, password: PW })).status).toBe(429);
    expect((await signIn(b, { email: u.email, password: PW })).status).toBe(429);
    // An admin clearing it on one node clears it for both.
    expect((await b.call("DELETE", `/security/locks/email:${encodeURIComponent(u.email)}`, undefined, { token: b.keys.service_role })).status).toBe(204);
    expect((await signIn(a, { email: u.email, password: PW })).status).toBe(200);
  });

  test("credential stuffing from one address: one failure_burst event per window, and no identifier locked by it", async () => {
    const ip = "203.0.113.250";
    for (let i = 0; i < 20; i++) expect((await signIn(i % 2 ? a : b, { email: uniqueEmail("stuffed"), password: WRONG }, ip)).status).toBe(400);
    const bursts = await a.sql`select * from plinth.security_events where kind = 'failure_burst' and address = ${ip}`;
    expect(bursts.length).toBe(1);
    expect(bursts[0]).toMatchObject({ severity: "high" });
    expect(bursts[0]!.details).toMatchObject({ failures: 12, flow: "password" });
    // A real user behind the same address (a NAT) still signs in.
    const u = await signUp();
    expect((await signIn(a, { email: u.email, password: PW }, ip)).status).toBe(200);
  });
});

describe("no enumeration", () => {
  test("locked and failing answers are the same for an existing and an invented identifier", async () => {
    const u = await signUp();
    const ghost = uniqueEmail("ghost");
    const answers = async (email: string) => {
      const out: { status: number; body: unknown; retry: boolean }[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await signIn(a, { email, password: WRONG });
        out.push({ status: r.status, body: r.body, retry: r.headers.has("retry-after") });
      }
      return out;
    };
    const real = await answers(u.email);
    const fake = await answers(ghost);
    expect(real).toEqual(fake);
    expect(real.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 429, 429]);
    // A malformed identifier is counted too (it is no way around the lock), under its raw form.
    for (let i = 0; i < 5; i++) await signIn(a, { email: "not an email", password: WRONG });
    expect((await signIn(a, { email: "NOT AN EMAIL ", password: WRONG })).status).toBe(429);
  });

  test("the timing shape of locked answers does not tell existing from invented identifiers", async () => {
    const u = await signUp();
    const ghost = uniqueEmail("ghost");
    for (const email of [u.email, ghost]) for (let i = 0; i < 5; i++) await signIn(a, { email, password: WRONG });
    const time = async (email: string, password: string) => {
      const t0 = performance.now();
      const r = await signIn(a, { email, password });
      expect(r.status).toBe(429);
      return performance.now() - t0;
    };
    const real: number[] = [];
    const fake: number[] = [];
    for (let i = 0; i < 8; i++) {
      // Interleaved, and the real account with its right password: the lock must not short-cut it.
      real.push(await time(u.email, PW));
      fake.push(await time(ghost, PW));
    }
    const ratio = median(real) / median(fake);
    console.log(`locked answers: existing ${median(real).toFixed(1)} ms, invented ${median(fake).toFixed(1)} ms (ratio ${ratio.toFixed(2)})`);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe("the admin's lock identifier", () => {
  test("injection and odd identifiers clear nothing else and never 500", async () => {
    const u = await signUp();
    for (let i = 0; i < 5; i++) await signIn(a, { email: u.email, password: WRONG });
    const before = (await a.sql`select count(*)::int as n from plinth.auth_lockouts`)[0]!.n;
    for (const id of [
      "email:' or 1=1 --",
      "%",
      "email:%",
      "address:*",
      "x".repeat(500),
      "email:%25",
      "user:not-a-uuid",
      "'; drop table plinth.auth_lockouts; --",
    ]) {
      const r = await a.call("DELETE", `/security/locks/${encodeURIComponent(id)}`, undefined, { token: a.keys.service_role });
      expect([400, 404]).toContain(r.status);
      expect(typeof r.body.code).toBe("string");
    }
    expect((await a.sql`select count(*)::int as n from plinth.auth_lockouts`)[0]!.n).toBe(before);
    // Without a key or with the anon key: refused before anything happens.
    expect((await a.call("DELETE", `/security/locks/${encodeURIComponent(`email:${u.email}`)}`, undefined, { apikey: a.keys.anon })).status).toBe(401);
    expect((await signIn(a, { email: u.email, password: PW })).status).toBe(429);
  });
});

describe("cost on the hot path", () => {
  test("a successful sign-in runs one extra statement, and it is an index lookup", async () => {
    // A node whose pool records every statement it is given (tagged templates and unsafe text).
    const seen: { text: string; values: unknown[] }[] = [];
    const sql = a.database.db.sql;
    const counting = new Proxy(sql, {
      apply(target, self, args) {
        const first = args[0] as TemplateStringsArray | undefined;
        if (Array.isArray(first) && "raw" in first) seen.push({ text: first.map((s, i) => (i ? `$${i}${s}` : s)).join(""), values: args.slice(1) });
        return Reflect.apply(target as never, self, args);
      },
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (prop === "unsafe") {
          return (text: string, values?: unknown[]) => {
            seen.push({ text, values: values ?? [] });
            return (v as (t: string, p?: unknown[]) => unknown).call(target, text, values);
          };
        }
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const node = await adminApp(OVERRIDES, { ...a.database, db: { ...a.database.db, sql: counting as typeof sql } });
    const u = await signUp();
    // The first sign-in from this device records it; the ones after are ordinary.
    expect((await signIn(node, { email: u.email, password: PW }, "127.0.0.1", "bench/1")).status).toBe(200);
    seen.length = 0;
    expect((await signIn(node, { email: u.email, password: PW }, "127.0.0.1", "bench/1")).status).toBe(200);
    const ours = seen.filter((s) => /plinth\.(auth_lockouts|auth_known_devices|lockout_record|security_)/.test(s.text));
    console.log(`successful password sign-in: ${seen.length} statements, ${ours.length} of them for lockout/new-device`);
    expect(ours.length).toBe(1);
    // The rest are the sign-in's own (findUser, startSession, the user for the token, and whatever
    // else other features record): none of them reads or writes lockout state.
    console.log(seen.map((s) => `  ${s.text.replace(/\s+/g, " ").slice(0, 100)}`).join("\n"));

    // With many rows in the tables, the plan is index lookups only.
    await a.sql`insert into plinth.auth_lockouts (key, failures) select 'email:filler' || g || '@example.com', 1 from generate_series(1, 5000) g`;
    await a.sql`analyze plinth.auth_lockouts`;
    await a.sql`analyze plinth.auth_known_devices`;
    const gate = ours[0]!;
    const plan = await a.sql.unsafe(`explain ${gate.text}`, gate.values as never[]);
    const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).not.toMatch(/Seq Scan on auth_lockouts/);
    expect(text).toMatch(/Index (Only )?Scan using auth_lockouts_pkey/);

    // Its own time, measured: the gate statement alone, on this machine.
    const N = 300;
    const t0 = performance.now();
    const deps = lockoutDeps(a.sql, a.config);
    const device = { userId: u.id, client: { ip: "127.0.0.1", userAgent: "bench/1" } };
    for (let i = 0; i < N; i++) await checkGate(deps, `email:${u.email}`, device);
    const perCall = ((performance.now() - t0) / N) * 1000;
    const b0 = performance.now();
    for (let i = 0; i < N; i++) await a.sql`select 1`;
    const baseline = ((performance.now() - b0) / N) * 1000;
    const [analyzed] = await a.sql.unsafe(`explain (analyze, format json) ${gate.text}`, gate.values as never[]);
    const execMs = (analyzed!["QUERY PLAN"] as { "Execution Time": number }[])[0]!["Execution Time"];
    console.log(
      `gate statement: server execution ${(execMs * 1000).toFixed(0)} µs; round trip ${perCall.toFixed(0)} µs vs ${baseline.toFixed(0)} µs for select 1`,
    );
    const s0 = performance.now();
    const M = 10;
    for (let i = 0; i < M; i++) expect((await signIn(node, { email: u.email, password: PW }, "127.0.0.1", "bench/1")).status).toBe(200);
    const perSignIn = (performance.now() - s0) / M;
    console.log(`lockout gate statement: ${perCall.toFixed(0)} µs per call (${N} calls); a whole password sign-in: ${perSignIn.toFixed(1)} ms (${M} sign-ins)`);
    await a.sql`delete from plinth.auth_lockouts where key like 'email:filler%'`;
  });
});
