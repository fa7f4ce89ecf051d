// The per-node admin session cache (src/admin/sessions/cache.ts) on a real database: what it
// serves without asking PostgreSQL, what makes it ask again (invalidation from any node, the
// session's expiry and idle timeout on a moved clock, a lost listener), that a lookup racing an
// invalidation is never cached, and that settle() returns only once every live node has dropped
// what a committed change invalidated — or once a silent node's lease has run out.
import { afterAll, describe, expect, test } from "bun:test";
import { adminActor } from "../src/admin/authorize.ts";
import { CHANNEL, LEASE_MS, SessionCache, type ResolvedSession } from "../src/admin/sessions/cache.ts";
import { silentLogger } from "../src/log.ts";
import { freshDatabase } from "./support/db.ts";

const database = await freshDatabase();
const sql = database.db.sql;
const caches: SessionCache[] = [];
afterAll(async () => {
  for (const c of caches) await c.stop();
});

const IDLE_MS = 30 * 60_000;
const TOUCH_MS = 15_000;

function node(clock = { now: Date.now() }) {
  const touches: string[] = [];
  const cache = new SessionCache({
    sql,
    log: silentLogger,
    idleMs: () => IDLE_MS,
    touchMs: () => TOUCH_MS,
    touch: async (token) => void touches.push(token),
    now: () => clock.now,
  });
  caches.push(cache);
  return { cache, touches, clock };
}

function loader(clock: { now: number }, expiresInMs = 3600_000) {
  const calls = { n: 0 };
  const session: ResolvedSession = {
    actor: adminActor({ id: crypto.randomUUID(), email: "a@example.com", level: "admin", tables: [] }, "admin_session", crypto.randomUUID()),
    expiresAt: clock.now + expiresInMs,
    lastSeenAt: clock.now,
  };
  const load = async () => {
    calls.n++;
    return session;
  };
  return { load, calls, session };
}

/** Waits until the listener has heard everything notified before now (a notification to ourselves). */
async function heard(cache: SessionCache): Promise<void> {
  await cache.settle();
}

describe("serving from the cache", () => {
  test("before the node holds a lease nothing is cached; once started, the second check asks nobody", async () => {
    const { cache, clock } = node();
    const { load, calls } = loader(clock);
    await cache.resolve("t1", load);
    await cache.resolve("t1", load);
    expect(calls.n).toBe(2); // not started: no lease
    await cache.start();
    expect(cache.leased).toBe(true);
    const a = await cache.resolve("t1", load);
    const b = await cache.resolve("t1", load);
    expect(calls.n).toBe(3);
    expect(b).toBe(a!);
  });

  test("a refused token is never cached", async () => {
    const { cache } = node();
    await cache.start();
    let n = 0;
    const none = async () => {
      n++;
      return null;
    };
    expect(await cache.resolve("dead", none)).toBeNull();
    expect(await cache.resolve("dead", none)).toBeNull();
    expect(n).toBe(2);
  });

  test("entries are asked again after a minute, and past the session's absolute end (the node's clock)", async () => {
    const { cache, clock } = node();
    await cache.start();
    const { load, calls } = loader(clock);
    await cache.resolve("t", load);
    clock.now += 59_000;
    await cache.resolve("t", load);
    expect(calls.n).toBe(1);
    clock.now += 2000;
    await cache.resolve("t", load);
    expect(calls.n).toBe(2);
    const short = loader(clock, 5000);
    await cache.resolve("s", short.load);
    clock.now += 6000;
    await cache.resolve("s", short.load);
    expect(short.calls.n).toBe(2);
  });

  test("last_seen_at is recorded off the request path, at most every touch interval", async () => {
    const { cache, clock, touches } = node();
    await cache.start();
    const { load } = loader(clock);
    await cache.resolve("u", load);
    await cache.resolve("u", load);
    expect(touches).toEqual([]);
    clock.now += TOUCH_MS;
    await cache.resolve("u", load);
    await cache.resolve("u", load);
    expect(touches).toEqual(["u"]);
  });
});

describe("invalidation", () => {
  test("an 'inv' from any connection empties every node's cache; settle() returns after both heard it", async () => {
    const a = node();
    const b = node();
    await a.cache.start();
    await b.cache.start();
    await heard(a.cache); // a knows b (heartbeats) from here on
    const la = loader(a.clock);
    const lb = loader(b.clock);
    await a.cache.resolve("x", la.load);
    await b.cache.resolve("x", lb.load);
    expect(a.cache.size).toBe(1);
    expect(b.cache.size).toBe(1);
    // What the triggers of migration 0021 do in the changing transaction.
    await sql.begin((tx) => tx`select pg_notify(${CHANNEL}, 'inv')`);
    await a.cache.settle();
    expect(b.cache.size).toBe(0);
    expect(a.cache.size).toBe(0);
  });

  test("the triggers: ending a session, changing an admin, banning an admin's user all notify", async () => {
    const heardPayloads: string[] = [];
    const listener = await sql.listen(CHANNEL, (p) => {
      if (p === "inv") heardPayloads.push(p);
    });
    const [u] = await sql`insert into auth.users (email, aud, role) values (${`c${Date.now()}@example.com`}, 'authenticated', 'authenticated') returning id`;
    const waitFor = async (n: number) => {
      for (let i = 0; i < 100 && heardPayloads.length < n; i++) await Bun.sleep(10);
      return heardPayloads.length;
    };
    await sql`insert into plinth.admins (user_id, level, created_via) values (${u!.id}, 'viewer', 'test')`;
    expect(await waitFor(1)).toBe(1);
    await sql`update plinth.admins set level = 'admin' where user_id = ${u!.id}`;
    expect(await waitFor(2)).toBe(2);
    await sql`insert into plinth.admin_sessions (admin_id, token_hash, method, expires_at) values (${u!.id}, '\\x01', 'password', now() + interval '1 hour')`;
    await sql`update plinth.admin_sessions set last_seen_at = now() where admin_id = ${u!.id}`; // no notification
    await sql`update auth.users set banned_until = now() + interval '1 day' where id = ${u!.id}`;
    expect(await waitFor(3)).toBe(3);
    await sql`delete from plinth.admin_sessions where admin_id = ${u!.id}`;
    expect(await waitFor(4)).toBe(4);
    // A user who is not an admin: nothing.
    const [other] =
      await sql`insert into auth.users (email, aud, role) values (${`o${Date.now()}@example.com`}, 'authenticated', 'authenticated') returning id`;
    await sql`update auth.users set banned_until = now() + interval '1 day' where id = ${other!.id}`;
    await Bun.sleep(100);
    expect(heardPayloads.length).toBe(4);
    await listener.unlisten();
  });

  test("a lookup that raced an invalidation is answered but not cached", async () => {
    const { cache, clock } = node();
    await cache.start();
    const { session } = loader(clock);
    let n = 0;
    const racing = async () => {
      n++;
      if (n === 1) {
        await sql`select pg_notify(${CHANNEL}, 'inv')`;
        await cache.settle(); // the invalidation is heard while this lookup is in flight
      }
      return session;
    };
    expect(await cache.resolve("r", racing)).toBe(session.actor);
    expect(cache.size).toBe(0);
    await cache.resolve("r", racing);
    expect(n).toBe(2);
    expect(cache.size).toBe(1);
  });

  test("a listener that lost its connection empties the cache when it listens again", async () => {
    const { cache, clock } = node();
    await cache.start();
    const { load } = loader(clock);
    await cache.resolve("l", load);
    expect(cache.size).toBe(1);
    const pids = await sql`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`;
    expect(pids.length).toBeGreaterThan(0);
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen%'`;
    for (let i = 0; i < 200 && cache.size > 0; i++) await Bun.sleep(10);
    expect(cache.size).toBe(0);
    // ... and the lease comes back with the heartbeats.
    for (let i = 0; i < 300 && !cache.leased; i++) await Bun.sleep(10);
    await cache.resolve("l", load);
    expect(cache.size).toBe(1);
  });

  test("settle() waits for a node that went silent only until its lease must have run out", async () => {
    const a = node();
    const silent = node();
    await a.cache.start();
    await silent.cache.start();
    await heard(a.cache);
    await silent.cache.stop(); // no longer acknowledges; a heard its heartbeats a moment ago
    const started = performance.now();
    await a.cache.settle();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(LEASE_MS);
    expect(waited).toBeLessThan(LEASE_MS + 1500);
    // A live pair settles in milliseconds.
    const b = node();
    await b.cache.start();
    const quick = performance.now();
    await b.cache.settle();
    expect(performance.now() - quick).toBeLessThan(LEASE_MS);
  });
});
