// Plugin hooks on storage events and data changes, against a real server with plugins loaded from a
// plugins directory: storage.after_upload sees POST, upsert and copy uploads; storage.before_delete
// vetoes a delete (the object stays, the client gets storage's wire shape) for single and bulk
// deletes; a before_delete hook that throws is contained ("continue": the delete goes on) and one
// that times out under "reject" refuses with 503 plugin_hook_failed; data.change sees INSERT, UPDATE
// and DELETE from the realtime change stream with no realtime subscriber connected.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import { startTestServer } from "./support/server.ts";

const scratch = mkdtempSync(join(tmpdir(), "plinth-plugin-events-"));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const dir = join(scratch, "plugins");
mkdirSync(dir);
writeFileSync(
  join(dir, "watcher.ts"),
  `const seen = (globalThis.__seen ??= { uploads: [], deletes: [], changes: [], bus: [] });
  export default { name: "watcher", version: "1.2.3",
    init(ctx) { ctx.events.on("storage.after_upload", (p) => { seen.bus.push(p.name); }); },
    hooks: {
      "storage.after_upload": (p) => { seen.uploads.push(p); },
      "storage.before_delete": (p) => {
        seen.deletes.push(p);
        if (p.names.some((n) => n.startsWith("keep/"))) return { reject: "Objects under keep/ are retained" };
        if (p.names.some((n) => n.startsWith("boom/"))) throw new Error("kaboom");
      },
      "data.change": (p) => { seen.changes.push(p); },
    } };`,
);
writeFileSync(
  join(dir, "strict.ts"),
  `export default { name: "strict", version: "0.1.0",
    hooks: {
      "storage.before_delete": { policy: "reject", timeout: 100, handler: async (p) => { if (p.names.some((n) => n.startsWith("slow/"))) await Bun.sleep(1000); } },
      // Slow and throwing data.change hooks: the change stream must not wait for them.
      "data.change": { policy: "reject", timeout: 100, handler: async (p) => {
        if (p.table === "slow_rows") await Bun.sleep(1000);
        if (p.table === "boom_rows") throw new Error("data hook kaboom");
      } },
    } };`,
);
const seen = () => (globalThis as any).__seen as { uploads: any[]; deletes: any[]; changes: any[]; bus: string[] };

const srv = await startTestServer({ auth: { autoconfirm: true }, plugins: { dir } });
const sb = createClient(srv.url, srv.keys.service_role, { auth: { persistSession: false, autoRefreshToken: false } });
await sb.storage.createBucket("files", { public: false });
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
};
const exists = async (name: string) => (await sb.storage.from("files").download(name)).error === null;

describe("storage.after_upload", () => {
  test("sees a POST upload, an upsert that replaces, and a copy; bus listeners hear it too", async () => {
    expect((await sb.storage.from("files").upload("a/one.txt", new Blob(["hello"], { type: "text/plain" }))).error).toBeNull();
    await until(() => seen().uploads.some((u) => u.name === "a/one.txt"), "upload");
    const up = seen().uploads.find((u) => u.name === "a/one.txt");
    expect(up).toMatchObject({ bucket: "files", size: 5, replaced: false, caller: { role: "service_role", sub: null } });
    expect(up.mimetype).toStartWith("text/plain");
    expect(up.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await sb.storage.from("files").upload("a/one.txt", new Blob(["hello again"]), { upsert: true })).error).toBeNull();
    await until(() => seen().uploads.filter((u) => u.name === "a/one.txt").length === 2, "upsert");
    expect(seen().uploads.filter((u) => u.name === "a/one.txt")[1]).toMatchObject({ size: 11, replaced: true });
    expect((await sb.storage.from("files").copy("a/one.txt", "a/two.txt")).error).toBeNull();
    await until(() => seen().uploads.some((u) => u.name === "a/two.txt"), "copy");
    await until(() => seen().bus.includes("a/two.txt"), "bus listener");
  });
});

describe("storage.before_delete", () => {
  test("a refusal vetoes single and bulk deletes: the objects stay and the client gets storage's error shape", async () => {
    await sb.storage.from("files").upload("keep/x.txt", new Blob(["x"]));
    await sb.storage.from("files").upload("free/y.txt", new Blob(["y"]));
    const single = await fetch(`${srv.url}/storage/v1/object/files/keep/x.txt`, {
      method: "DELETE",
      headers: { apikey: srv.keys.service_role, authorization: `Bearer ${srv.keys.service_role}` },
    });
    expect(single.status).toBe(400);
    expect(await single.json()).toEqual({ statusCode: "403", code: "plugin_refused", error: "Unauthorized", message: "Objects under keep/ are retained" });
    // A bulk delete with one retained name is refused whole: nothing goes, not even free/y.txt.
    const bulk = await sb.storage.from("files").remove(["free/y.txt", "keep/x.txt"]);
    expect(bulk.error?.message).toBe("Objects under keep/ are retained");
    expect(await exists("keep/x.txt")).toBe(true);
    expect(await exists("free/y.txt")).toBe(true);
    const last = seen().deletes.at(-1);
    expect(last).toMatchObject({ bucket: "files", names: ["free/y.txt", "keep/x.txt"], caller: { role: "service_role" } });
    // Allowed: deleted.
    expect((await sb.storage.from("files").remove(["free/y.txt"])).error).toBeNull();
    expect(await exists("free/y.txt")).toBe(false);
  });

  test("a throwing hook is contained (policy continue: the delete goes on); a timed-out 'reject' hook answers 503", async () => {
    await sb.storage.from("files").upload("boom/z.txt", new Blob(["z"]));
    expect((await sb.storage.from("files").remove(["boom/z.txt"])).error).toBeNull();
    expect(await exists("boom/z.txt")).toBe(false);
    await sb.storage.from("files").upload("slow/s.txt", new Blob(["s"]));
    const started = Date.now();
    const res = await fetch(`${srv.url}/storage/v1/object/files`, {
      method: "DELETE",
      headers: { apikey: srv.keys.service_role, authorization: `Bearer ${srv.keys.service_role}`, "content-type": "application/json" },
      body: JSON.stringify({ prefixes: ["slow/s.txt"] }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ statusCode: "503", code: "plugin_hook_failed" });
    expect(Date.now() - started).toBeLessThan(900);
    expect(await exists("slow/s.txt")).toBe(true);
  });
});

describe("data.change", () => {
  const db = () => srv.database.db.sql;

  test("the stream runs for a listening plugin with no realtime subscriber connected", async () => {
    const slots = await db()`select count(*)::int as n from pg_replication_slots where active and database = current_database()`;
    expect(slots[0]!.n).toBeGreaterThanOrEqual(1);
  });

  test("INSERT, UPDATE and DELETE after commit, with typed records and the old row; a rolled-back write is never seen", async () => {
    await db().unsafe(`
      create table public.notes (id int primary key, body text, tags text[], meta jsonb, done boolean, at timestamptz);
      alter table public.notes replica identity full;
      alter publication supabase_realtime add table public.notes;
    `);
    await db()`insert into public.notes values (1, 'first', '{a,b}', '{"k": 1}', false, '2026-01-02T03:04:05Z')`;
    await db()`update public.notes set body = 'edited', done = true where id = 1`;
    await db()`delete from public.notes where id = 1`;
    await db()
      .begin(async (tx) => {
        await tx`insert into public.notes values (99, 'never')`;
        throw new Error("roll back");
      })
      .catch(() => {});
    await db()`insert into public.notes values (2, 'after the rollback')`;
    const notes = () => seen().changes.filter((c) => c.table === "notes");
    await until(() => notes().some((c) => c.record?.id === 2), "changes on notes");
    const [ins, upd, del, after] = notes();
    expect(ins).toMatchObject({
      schema: "public",
      table: "notes",
      type: "INSERT",
      record: { id: 1, body: "first", tags: ["a", "b"], meta: { k: 1 }, done: false },
      old_record: null,
    });
    expect(Date.parse(ins.record.at)).toBe(Date.parse("2026-01-02T03:04:05Z"));
    expect(Date.parse(ins.commit_timestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(upd).toMatchObject({ type: "UPDATE", record: { id: 1, body: "edited", done: true }, old_record: { id: 1, body: "first", done: false } });
    expect(del).toMatchObject({ type: "DELETE", record: null, old_record: { id: 1, body: "edited" } });
    expect(after).toMatchObject({ type: "INSERT", record: { id: 2, body: "after the rollback" } });
    expect(notes().some((c) => c.record?.id === 99)).toBe(false);
  });

  test("without REPLICA IDENTITY FULL the old row is its key", async () => {
    await db().unsafe(`
      create table public.plain_rows (id int primary key, v text);
      alter publication supabase_realtime add table public.plain_rows;
      insert into public.plain_rows values (7, 'x');
      update public.plain_rows set v = 'y' where id = 7;
    `);
    await until(() => seen().changes.some((c) => c.table === "plain_rows" && c.type === "UPDATE"), "plain update");
    expect(seen().changes.find((c) => c.table === "plain_rows" && c.type === "UPDATE")).toMatchObject({ record: { id: 7, v: "y" }, old_record: { id: 7 } });
  });

  test("slow and throwing hooks are contained and never hold up the realtime stream", async () => {
    await db().unsafe(`
      create table public.slow_rows (id int primary key);
      create table public.boom_rows (id int primary key);
      alter publication supabase_realtime add table public.slow_rows, public.boom_rows;
      grant select on public.slow_rows to service_role;
    `);
    const rt = createClient(srv.url, srv.keys.service_role, { auth: { persistSession: false, autoRefreshToken: false } });
    const got: number[] = [];
    const ch = rt.channel("slow-watch").on("postgres_changes", { event: "INSERT", schema: "public", table: "slow_rows" }, (p) => {
      got.push((p.new as { id: number }).id);
    });
    await new Promise<void>((resolve, reject) =>
      ch.subscribe((st) => (st === "SUBSCRIBED" ? resolve() : st === "CHANNEL_ERROR" ? reject(new Error(st)) : undefined)),
    );
    try {
      await db()`insert into public.boom_rows values (1)`;
      const started = Date.now();
      // 15 changes whose plugin hook takes its whole 100 ms timeout each: 1.5 s for the plugins.
      for (let i = 1; i <= 15; i++) await db()`insert into public.slow_rows values (${i})`;
      await until(() => got.length === 15, "realtime deliveries");
      // The subscriber had them all long before the plugins got through them.
      expect(Date.now() - started).toBeLessThan(1200);
      expect(seen().changes.filter((c) => c.table === "slow_rows").length).toBeLessThan(15);
      // The plugins get every one in commit order, after the thrown and timed-out hooks.
      await until(() => seen().changes.filter((c) => c.table === "slow_rows").length === 15, "plugin deliveries");
      expect(
        seen()
          .changes.filter((c) => c.table === "slow_rows")
          .map((c) => c.record.id),
      ).toEqual([...Array(15)].map((_, i) => i + 1));
      expect(seen().changes.some((c) => c.table === "boom_rows")).toBe(true);
    } finally {
      await rt.removeAllChannels();
    }
  });
});

describe("GET /admin/v1/plugins", () => {
  test("lists the loaded plugins with their hooks, policies and failure counts", async () => {
    const headers = { apikey: srv.keys.service_role, authorization: `Bearer ${srv.keys.service_role}` };
    const res = await fetch(`${srv.url}/admin/v1/plugins`, { headers });
    expect(res.status).toBe(200);
    const body = await res.json();
    const strict = body.plugins.find((p: any) => p.name === "strict");
    expect(strict).toMatchObject({ version: "0.1.0", state: "started", routes: null });
    expect(strict.hooks).toContainEqual({ event: "data.change", policy: "reject", timeout_ms: 100 });
    // The timed-out before_delete and the slow/throwing data.change hooks above were counted.
    expect(strict.hook_failures).toBeGreaterThanOrEqual(2);
    const watcher = body.plugins.find((p: any) => p.name === "watcher");
    expect(watcher).toMatchObject({ version: "1.2.3", state: "started" });
    expect(watcher.hooks.map((h: any) => h.event).sort()).toEqual(["data.change", "storage.after_upload", "storage.before_delete"]);
    expect(body.data_change.delivered).toBeGreaterThan(0);
    expect(body.data_change.dropped).toBe(0);
    // Without a credential: refused in the admin API's shape.
    expect((await fetch(`${srv.url}/admin/v1/plugins`)).status).toBe(401);
  });
});
