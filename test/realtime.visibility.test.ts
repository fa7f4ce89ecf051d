// realtime.plinth_visible_tuples (migration 0011), called directly: the per-group verdicts (same /
// changed / invisible), and the wait for the writing transaction, which covers the moment when the
// replication stream has announced a commit that other sessions cannot see yet.
import { describe, expect, test } from "bun:test";
import { freshDatabase } from "./support/db.ts";

const A = "aaaaaaaa-1111-4000-8000-000000000001";
const B = "bbbbbbbb-2222-4000-8000-000000000002";

const { db, url } = await freshDatabase();
const sql = db.sql;
await sql.unsafe(`
  create table public.notes (id bigint primary key, owner uuid not null, title text, secret text, shared boolean not null default false);
  alter table public.notes enable row level security;
  create policy notes_read on public.notes for select to authenticated using (owner = auth.uid() or shared);
  revoke select on public.notes from authenticated;
  grant select (id, owner, title, shared) on public.notes to authenticated;
  insert into public.notes values (1, '${A}', 'mine', 's1', false), (2, '${A}', 'ours', 's2', true);
`);

const claims = (sub: string) => JSON.stringify({ sub, role: "authenticated" });
const readable = JSON.stringify(["id", "owner", "title", "shared"]);

async function check(tuples: unknown[], groups: Array<{ role: string; sub: string; columns?: string }>, xids: number[] = []) {
  const rows = await sql<{ grp: number; same: number[] | null; changed: number[] | null }[]>`
    select grp, same, changed from realtime.plinth_visible_tuples('public.notes'::regclass, ${JSON.stringify(tuples)}::text::jsonb,
      ${groups.map((g) => g.role)}::text[], ${groups.map((g) => claims(g.sub))}::text[],
      ${groups.map((g) => g.columns ?? readable)}::text[], ${xids}::bigint[])`;
  return rows.map((r) => [r.grp, r.same, r.changed]);
}

describe("plinth_visible_tuples", () => {
  test("per group: equal and visible, visible but changed, or not visible at all", async () => {
    const tuples = [
      { id: "1", owner: A, title: "mine", shared: "f" }, // A's private row as it is
      { id: "2", owner: A, title: "ours (old title)", shared: "t" }, // the shared row, since edited
      { id: "2", owner: A, title: "ours", shared: "t", secret: "not compared: B cannot read it" },
    ];
    expect(
      await check(tuples, [
        { role: "authenticated", sub: A },
        { role: "authenticated", sub: B },
      ]),
    ).toEqual([
      [1, [1, 3], [2]],
      [2, [3], [2]],
    ]);
  });

  test("a group asking to compare a column its role may not read gets no answer, not a partial one", async () => {
    const withSecret = JSON.stringify(["id", "owner", "title", "shared", "secret"]);
    expect(await check([{ id: "2", owner: A, title: "ours", shared: "t", secret: "s2" }], [{ role: "authenticated", sub: B, columns: withSecret }])).toEqual([
      [1, null, null],
    ]);
  });

  test("waits for a writing transaction that is not visible yet, and not for one that is", async () => {
    const writer = (await import("postgres")).default(url, { max: 1, onnotice: () => {} });
    try {
      let xid = 0;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const open = writer.begin(async (tx) => {
        await tx`update public.notes set title = 'renamed' where id = 2`;
        const [row] = await tx<{ x: string }[]>`select pg_current_xact_id()::text as x`;
        xid = Number(BigInt(row!.x) % 2n ** 32n);
        await released;
      });
      while (xid === 0) await Bun.sleep(5);
      // In progress: the function waits (about a second) before looking, then sees the old row.
      let t0 = performance.now();
      expect(await check([{ id: "2", owner: A, title: "renamed", shared: "t" }], [{ role: "authenticated", sub: B }], [xid])).toEqual([[1, [], [1]]]);
      expect(performance.now() - t0).toBeGreaterThan(500);
      release();
      await open;
      t0 = performance.now();
      expect(await check([{ id: "2", owner: A, title: "renamed", shared: "t" }], [{ role: "authenticated", sub: B }], [xid])).toEqual([[1, [1], []]]);
      expect(performance.now() - t0).toBeLessThan(300);
    } finally {
      await writer.end();
    }
  });
});
