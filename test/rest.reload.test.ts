// The schema cache follows DDL: a table created over SQL is queryable within a second, while a
// concurrent request loop sees no failure; `NOTIFY pgrst, 'reload schema'` reloads too.
import { expect, test } from "bun:test";
import { restFetch, startRestServer } from "./support/rest.ts";

const srv = await startRestServer();

async function timeUntilOk(path: string, limitMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const r = await restFetch(srv, path);
    await r.arrayBuffer();
    if (r.status === 200) return performance.now() - started;
    if (performance.now() - started > limitMs) return Infinity;
    await Bun.sleep(10);
  }
}

test("create table is served within 1 s, with no failing request meanwhile", async () => {
  let stop = false;
  const failures: string[] = [];
  let served = 0;
  const loop = (async () => {
    while (!stop) {
      const r = await restFetch(srv, "/books?select=id,authors!author_id(name)&id=eq.1");
      const text = await r.text();
      if (r.status !== 200) failures.push(`${r.status} ${text}`);
      served++;
    }
  })();
  await Bun.sleep(50);
  for (let i = 0; i < 3; i++) {
    await srv.admin.unsafe(`create table public.fresh_${i} (id int primary key, note text); insert into public.fresh_${i} values (1, 'hi');`);
    const ms = await timeUntilOk(`/fresh_${i}?id=eq.1`, 1000);
    expect(ms).toBeLessThan(1000);
  }
  // Columns added later are picked up too.
  await srv.admin.unsafe(`alter table public.fresh_0 add column extra text default 'x'`);
  expect(await timeUntilOk(`/fresh_0?select=extra`, 1000)).toBeLessThan(1000);
  stop = true;
  await loop;
  expect(failures).toEqual([]);
  expect(served).toBeGreaterThan(10);
});

test("NOTIFY pgrst, 'reload schema' reloads", async () => {
  // Without the event trigger (as on a managed database without superuser), only NOTIFY tells us.
  await srv.admin.unsafe(`alter event trigger plinth_schema_ddl disable; alter event trigger plinth_schema_drop disable`);
  try {
    await srv.admin.unsafe(`create table public.quiet (id int primary key)`);
    await Bun.sleep(300);
    expect((await restFetch(srv, "/quiet")).status).toBe(404);
    await srv.admin.unsafe(`notify pgrst, 'reload schema'`);
    expect(await timeUntilOk("/quiet", 1000)).toBeLessThan(1000);
  } finally {
    await srv.admin.unsafe(`alter event trigger plinth_schema_ddl enable; alter event trigger plinth_schema_drop enable`);
  }
});
