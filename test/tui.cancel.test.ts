// The console's long operations against a real admin plane: a query cancelled with Esc in the SQL
// editor stops on the server (nothing left running, nothing of its batch committed); migrations
// apply one per request with "applying N of M" progress, and Esc/x (after y) cancels the one
// running — it is rolled back and stays pending, the later ones are not applied; a revert likewise.
// Each cancellation waits until PostgreSQL shows the statement sleeping before pressing the key.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminApp } from "./support/admin.ts";
import { KEY, consoleHarness, sleep } from "./support/tui.tsx";

const dir = mkdtempSync(join(tmpdir(), "plinth-tui-cancel-"));
const file = (name: string, text: string) => writeFileSync(join(dir, name), text);
// The short sleeps keep each step on screen long enough to be drawn (every frame is kept).
file("20260401000000_alpha.up.sql", "create table public.tc_alpha (id int);\nselect pg_sleep(0.05);\n");
file("20260401000000_alpha.down.sql", "drop table public.tc_alpha;\n");
file("20260402000000_beta.up.sql", "create table public.tc_beta (id int);\nselect pg_sleep(0.05);\n");
file("20260402000000_beta.down.sql", "drop table public.tc_beta;\nselect pg_sleep(20);\n");
file("20260403000000_slow.up.sql", "create table public.tc_slow (id int);\nselect pg_sleep(20);\n");
file("20260403000000_slow.down.sql", "drop table public.tc_slow;\n");
file("20260404000000_last.up.sql", "create table public.tc_last (id int);\n");
file("20260404000000_last.down.sql", "drop table public.tc_last;\n");

const t = await adminApp({ migrationsDir: dir, admin: { requireMfa: false } } as never);
const h = await consoleHarness(t);
const opened: { unmount(): void }[] = [];
afterAll(() => {
  opened.forEach((c) => c.unmount());
  rmSync(dir, { recursive: true, force: true });
});
await t.sql`create table public.tc_probe (id int primary key)`;

/** Backends sleeping in pg_sleep for longer than a step's pause (the tests run one after another). */
const sleeping = async () =>
  (
    await t.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
      where state = 'active' and wait_event = 'PgSleep' and pid <> pg_backend_pid() and now() - query_start > interval '150 ms'`
  )[0]!.n;

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

const exists = async (table: string) => (await t.sql<{ r: string | null }[]>`select to_regclass(${table})::text as r`)[0]!.r !== null;
const applied = async () => (await t.sql<{ version: string }[]>`select version from plinth.user_migrations order by version`).map((r) => r.version);

describe("the SQL editor", () => {
  test("Esc cancels a running batch on the server: nothing left running, its insert not committed", async () => {
    const c = await h.open({ screen: "sql" });
    opened.push(c);
    await c.waitFor("F5/Ctrl+R run");
    await c.press("insert into public.tc_probe values (1); select pg_sleep(30)", KEY.f5);
    await c.waitFor(/Running… \d+\.\d s \(Esc cancels it on the server\)/);
    // The time it has been running, live.
    await c.waitFor(/Running… [1-9]\.\d s/, 3000);
    await until(async () => (await sleeping()) === 1, 5000, "the statement to start");
    await c.press(KEY.esc);
    await c.waitFor("Cancelled on the server: dropping the request stops the statement");
    await until(async () => (await sleeping()) === 0, 2000, "the statement to stop on the server");
    expect((await t.sql`select count(*)::int as n from public.tc_probe`)[0]!.n).toBe(0);
    // The editor still works, on clean connections.
    await c.press(KEY.ctrl("l"), "insert into public.tc_probe values (2)", KEY.f5);
    await c.waitFor("INSERT · 1 row(s)");
    expect((await t.sql`select id from public.tc_probe`).map((r) => r.id)).toEqual([2]);
  });
});

describe("migrations", () => {
  test("apply shows progress; Esc (after y) cancels the running one: rolled back, still pending, the last not applied", async () => {
    const c = await h.open({ screen: "migrations", cols: 120, rows: 30 });
    opened.push(c);
    await c.waitFor(/0 applied · 4 pending/);
    await c.press("A");
    await c.waitFor("Apply 4 pending migration(s)?");
    await c.press("y");
    await c.waitFor("applying 3 of 4: 20260403000000 slow… (Esc/x cancels)");
    const frames = c.r.frames.join("\n");
    expect(frames).toContain("applying 1 of 4: 20260401000000 alpha");
    expect(frames).toContain("applying 2 of 4: 20260402000000 beta");
    await until(async () => (await sleeping()) === 1, 5000, "the slow migration to start");
    // x asks first; n keeps the run going.
    await c.press("x");
    await c.waitFor("Cancel the run (applying 3 of 4: 20260403000000 slow)?");
    await c.press("n");
    await c.waitFor("applying 3 of 4: 20260403000000 slow…");
    expect(await sleeping()).toBe(1);
    await c.press(KEY.esc);
    await c.waitFor("y cancel the run");
    await c.press("y");
    await c.waitFor("Cancelled: 20260403000000 slow rolled back on the server, still pending; 2 done, 1 not started");
    await until(async () => (await sleeping()) === 0, 2000, "the migration to stop on the server");
    expect(await applied()).toEqual(["20260401000000", "20260402000000"]);
    expect(await exists("public.tc_slow")).toBe(false);
    expect(await exists("public.tc_last")).toBe(false);
    await c.waitFor(/2 applied · 2 pending/);
  });

  test("revert shows progress and is cancelled likewise: the down file rolled back, the migration still applied", async () => {
    const c = await h.open({ screen: "migrations", cols: 120, rows: 30 });
    opened.push(c);
    await c.waitFor(/2 applied · 2 pending/);
    await c.press("R");
    await c.waitFor("Revert 20260402000000 beta?");
    await c.press("y");
    await c.waitFor("reverting 1 of 1: 20260402000000 beta…");
    await until(async () => (await sleeping()) === 1, 5000, "the down migration to start");
    await c.press(KEY.esc);
    await c.waitFor("y cancel the run");
    await c.press("y");
    await c.waitFor("Cancelled: 20260402000000 beta rolled back on the server, still applied; 0 done, 0 not started");
    await until(async () => (await sleeping()) === 0, 2000, "the down migration to stop on the server");
    expect(await applied()).toEqual(["20260401000000", "20260402000000"]);
    expect(await exists("public.tc_beta")).toBe(true);
  });
});
