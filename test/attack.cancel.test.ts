// Attacks on cancellation (a dropped request cancels its statement on the server): a caller who
// drops requests at every possible moment must not leave a console connection inside a transaction
// or with its session state, must not leave the migration lock held, and must not get half a batch
// committed. The drops land at random points (before the database, mid-batch, during clean-up);
// whatever happened, afterwards every batch is all or nothing and the next requests work normally.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { USER_MIGRATION_LOCK } from "../src/db/migrations/user.ts";
import { adminApp } from "./support/admin.ts";

const dir = mkdtempSync(join(tmpdir(), "plinth-attack-cancel-"));
writeFileSync(
  join(dir, "20260501000000_pair.up.sql"),
  "create table public.ac_pair (id int);\nselect pg_sleep(0.03);\ninsert into public.ac_pair values (1);\n",
);
writeFileSync(join(dir, "20260501000000_pair.down.sql"), "drop table public.ac_pair;\nselect pg_sleep(0.03);\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const t = await adminApp({ migrationsDir: dir });
const headers = { "content-type": "application/json", apikey: t.keys.service_role, authorization: `Bearer ${t.keys.service_role}` };
const peer = { requestIP: () => ({ address: "127.0.0.1", family: "IPv4" as const, port: 1 }) };
await t.sql`create table public.ac_rows (batch int not null, part int not null)`;

/** Sends `body` to `path` and drops it after `dropAfterMs` (0: already dropped). The answer, if any. */
async function dropped(path: string, body: unknown, dropAfterMs: number): Promise<number> {
  const ctrl = new AbortController();
  if (dropAfterMs === 0) ctrl.abort();
  else setTimeout(() => ctrl.abort(), dropAfterMs);
  const res = await t.app.fetch(
    new Request(`http://localhost/admin/v1${path}`, { method: "POST", headers, body: JSON.stringify(body), signal: ctrl.signal }),
    peer,
  );
  return res.status;
}

describe("dropping SQL requests at random moments", () => {
  test("every batch is all or nothing; no console connection is left in a transaction or with session state", async () => {
    const statuses: number[] = [];
    for (let batch = 0; batch < 24; batch++) {
      // Two inserts around a short sleep, with session state the clean-up must wipe.
      const query = `set search_path = pg_catalog; insert into public.ac_rows values (${batch}, 1); select pg_sleep(0.01); insert into public.ac_rows values (${batch}, 2)`;
      statuses.push(await dropped("/sql", { query }, batch % 6 === 0 ? 0 : 1 + ((batch * 7) % 25)));
    }
    // Each answer is a success or PostgreSQL's cancellation, never an internal error.
    for (const s of statuses) expect([200, 400]).toContain(s);
    expect(statuses).toContain(400);
    // All or nothing per batch.
    const parts = await t.sql<{ batch: number; n: number }[]>`select batch, count(*)::int as n from public.ac_rows group by batch`;
    for (const p of parts) expect(p.n).toBe(2);
    // No console connection left inside a transaction.
    expect((await t.sql`select count(*)::int as n from pg_stat_activity where usename = 'plinth_console' and state like 'idle in transaction%'`)[0]!.n).toBe(0);
    // Both pooled connections (max 2) work and carry no state from the dropped batches.
    const runs = await Promise.all(
      [0, 1].map(() =>
        t.call("POST", "/sql", { query: "select current_setting('search_path') as path, pg_sleep(0.05)::text as s" }, { token: t.keys.service_role }),
      ),
    );
    for (const r of runs) {
      expect(r.status).toBe(200);
      expect(r.body.results[0].rows[0].path).not.toBe("pg_catalog");
    }
  });
});

describe("dropping migration requests at random moments", () => {
  test("the migration lock is never left held and the migration is applied whole or not at all", async () => {
    // Drops from "before the database" to "after the work": some land mid-migration, some too late.
    const seen = { apply: [] as number[], revert: [] as number[] };
    expect((await t.call("GET", "/migrations", undefined, { token: t.keys.service_role })).status).toBe(200); // makes the bookkeeping tables
    for (const after of [0, 5, 15, 30, 60, 120, 250, 500, 1000]) {
      for (const kind of ["apply", "revert"] as const) {
        const before = (await t.sql`select count(*)::int as n from plinth.user_migrations`)[0]!.n;
        const status = await dropped(`/migrations/${kind}`, kind === "revert" ? { steps: 1 } : {}, after);
        expect([200, 409, 400]).toContain(status);
        // The table and the bookkeeping agree: applied means the table with its row, pending means no table.
        const applied = (await t.sql`select count(*)::int as n from plinth.user_migrations`)[0]!.n;
        // A cancelled run changed nothing; a finished one did what it was asked (when there was something to do).
        if (status === 409) expect(applied).toBe(before);
        if (applied !== before) seen[kind].push(status);
        else if (status === 409) seen[kind].push(409);
        const table = (await t.sql`select to_regclass('public.ac_pair')::text as r`)[0]!.r;
        if (applied) expect((await t.sql`select count(*)::int as n from public.ac_pair`)[0]!.n).toBe(1);
        else expect(table).toBeNull();
        // Nobody holds the lock once the request is over (taken and given back on one session).
        const conn = await t.sql.reserve();
        try {
          const [lock] = await conn`select pg_try_advisory_lock(${USER_MIGRATION_LOCK}) as ok`;
          expect(lock!.ok).toBe(true);
          await conn`select pg_advisory_unlock(${USER_MIGRATION_LOCK})`;
        } finally {
          conn.release();
        }
      }
    }
    // Both outcomes happened: cancelled mid-way (409), and finished before the drop (200, with an effect).
    expect(seen.apply).toContain(409);
    expect(seen.apply).toContain(200);
    // And a normal apply still works.
    const r = await t.call("POST", "/migrations/apply", {}, { token: t.keys.service_role });
    expect(r.status).toBe(200);
  });
});
