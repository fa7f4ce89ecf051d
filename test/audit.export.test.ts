// Querying, exporting and retaining the audit log: filters and cursor paging on GET /admin/v1/audit
// (bad filters are 400 invalid_audit_filter), the streamed export (a 100k-row range streams in
// bounded memory), and retention — archive (local dir and S3) then remove, with verification still
// passing across the archive boundary and a tampered archive found.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
// @ts-expect-error -- s3rver ships no types
import S3rver from "s3rver";
import { createArchiveStore, localArchiveDir } from "../src/admin/audit/archive-store.ts";
import { pruneAudit } from "../src/admin/audit/retention.ts";
import { startAuditRetention } from "../src/admin/audit/retention-job.ts";
import { verifyAuditChain } from "../src/admin/audit/verify.ts";
import { createLogger } from "../src/log.ts";
import type { Sql } from "../src/db/pool.ts";
import { adminApp } from "./support/admin.ts";
import { testConfig } from "./support/app.ts";
import { freshDatabase, TEST_DATA_DIR } from "./support/db.ts";

const t = await adminApp();
const svc = { token: t.keys.service_role };
const get = (path: string) => t.call("GET", path, undefined, svc);

/** Rows through the chain trigger, with the given time and fields. */
async function row(sql: Sql, f: { action: string; at?: Date; actor_sub?: string; target?: string; outcome?: string; admin_email?: string }) {
  await sql`insert into plinth.audit_log (actor_role, actor_kind, actor_sub, action, target, outcome, status, duration_ms, at, admin_email)
            values ('service_role', 'service_key', ${f.actor_sub ?? null}, ${f.action}, ${f.target ?? null}, ${f.outcome ?? "ok"}, 200, 1,
                    ${f.at ?? new Date()}, ${f.admin_email ?? null})`;
}

const DAY = 86_400_000;

describe("filters and paging", () => {
  const tag = `q${Date.now().toString(36)}`;
  test("actor, action prefix, target, outcome and time range narrow the listing", async () => {
    await row(t.sql, { action: `${tag}.alpha.one`, actor_sub: "u-1", target: "user:1", at: new Date(Date.now() - 3 * DAY) });
    await row(t.sql, { action: `${tag}.alpha.two`, actor_sub: "u-2", target: "user:2", outcome: "denied", at: new Date(Date.now() - DAY) });
    await row(t.sql, { action: `${tag}.beta`, actor_sub: "u-1", target: "user:2", outcome: "error" });
    await row(t.sql, { action: `${tag}.beta`, admin_email: "boss@example.com", target: "user:3" });
    const actions = async (q: string) => ((await get(`/audit?action=${tag}&${q}`)).body as any[]).map((r) => r.action).sort();
    expect(await actions("")).toEqual([`${tag}.alpha.one`, `${tag}.alpha.two`, `${tag}.beta`, `${tag}.beta`]);
    expect(await actions(`action=${tag}.alpha`)).toEqual([`${tag}.alpha.one`, `${tag}.alpha.two`]);
    expect((await get(`/audit?action=${tag}.alpha&actor=u-1`)).body.map((r: any) => r.action)).toEqual([`${tag}.alpha.one`]);
    expect((await get(`/audit?action=${tag}&actor=boss@example.com`)).body.length).toBe(1);
    expect((await get(`/audit?action=${tag}&target=user:2`)).body.length).toBe(2);
    expect((await get(`/audit?action=${tag}&outcome=denied`)).body.map((r: any) => r.action)).toEqual([`${tag}.alpha.two`]);
    const since = new Date(Date.now() - 2 * DAY).toISOString();
    const until = new Date(Date.now() - DAY / 2).toISOString();
    expect((await get(`/audit?action=${tag}&since=${since}&until=${until}`)).body.map((r: any) => r.action)).toEqual([`${tag}.alpha.two`]);
    // The record carries its place in the chain.
    const [one] = (await get(`/audit?action=${tag}.alpha.one`)).body;
    expect(one).toMatchObject({ seq: expect.any(Number), prev_hash: expect.stringMatching(/^[0-9a-f]{64}$/), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  test("LIKE wildcards in the action prefix are literal; quotes in values are just values", async () => {
    await row(t.sql, { action: "x%y.literal" });
    expect((await get("/audit?action=%25")).body.length).toBe(0);
    expect((await get("/audit?action=x%25y")).body.map((r: any) => r.action)).toEqual(["x%y.literal"]);
    expect((await get("/audit?action=x_y")).body.length).toBe(0);
    expect((await get(`/audit?target=${encodeURIComponent("' or 1=1 --")}`)).body).toEqual([]);
  });

  test("cursor paging walks every entry once; x-next-cursor points at the next page", async () => {
    for (let i = 0; i < 7; i++) await row(t.sql, { action: `${tag}.page.${i}` });
    const seen: number[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const r = await get(`/audit?action=${tag}.page&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.map((e: any) => e.id));
      cursor = r.headers.get("x-next-cursor");
      if (!cursor) break;
    }
    expect(seen.length).toBe(7);
    expect(new Set(seen).size).toBe(7);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen); // newest first
    // `before` (the original parameter) still works.
    expect((await get(`/audit?action=${tag}.page&before=${seen[2]}`)).body.length).toBe(4);
  });

  test("bad filters are 400 invalid_audit_filter naming the parameter, never a 500", async () => {
    const cases: [string, string][] = [
      ["outcome=maybe", "outcome"],
      ["since=yesterday", "since"],
      ["until=2026-13-45", "until"],
      ["since=2026-12-02&until=2026-12-01", "until"],
      ["limit=-1", "limit"],
      ["limit=1.5", "limit"],
      ["cursor=abc", "cursor"],
      ["before=0", "before"],
      [`action=${"a".repeat(600)}`, "action"],
      ["actor=a%00b", "actor"],
    ];
    for (const [q, param] of cases) {
      const r = await get(`/audit?${q}`);
      expect({ q, status: r.status, code: r.body.code, param: r.body.details?.param }).toEqual({ q, status: 400, code: "invalid_audit_filter", param });
    }
    const fmt = await get("/audit/export?format=xml");
    expect(fmt).toMatchObject({ status: 400, body: { code: "invalid_audit_filter", details: { param: "format" } } });
    expect((await get("/audit/export?since=nope")).body.code).toBe("invalid_audit_filter");
    expect((await get("/audit/verify?archives=maybe")).body.code).toBe("invalid_audit_filter");
  });

  test("export and verify need the whole log (audit:read): anon and end users are refused", async () => {
    expect((await t.call("GET", "/audit/export", undefined, { token: t.keys.anon })).status).toBe(401);
    expect((await t.call("GET", "/audit/verify", undefined, { token: t.keys.anon })).status).toBe(401);
  });
});

describe("export", () => {
  test("NDJSON and CSV carry every field, oldest first, within since/until", async () => {
    const tag = `e${Date.now().toString(36)}`;
    const at = new Date(Date.now() - 10 * DAY);
    await row(t.sql, { action: `${tag}.one`, target: 'has "quotes", commas\nand a newline', at });
    await row(t.sql, { action: `${tag}.two`, target: '=HYPERLINK("http://evil")', at: new Date(at.getTime() + 1000) });
    const since = new Date(at.getTime() - 1).toISOString();
    const until = new Date(at.getTime() + 2000).toISOString();
    const nd = await t.app.fetch(
      new Request(`http://localhost/admin/v1/audit/export?format=ndjson&since=${since}&until=${until}`, {
        headers: { authorization: `Bearer ${t.keys.service_role}` },
      }),
    );
    expect(nd.status).toBe(200);
    expect(nd.headers.get("content-type")).toContain("application/x-ndjson");
    const lines = (await nd.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual([`${tag}.one`, `${tag}.two`]);
    expect(lines[0]).toMatchObject({ target: 'has "quotes", commas\nand a newline', seq: expect.any(Number), hash: expect.any(String) });
    const csv = await t.app.fetch(
      new Request(`http://localhost/admin/v1/audit/export?format=csv&since=${since}&until=${until}`, {
        headers: { authorization: `Bearer ${t.keys.service_role}` },
      }),
    );
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(csv.headers.get("content-disposition")).toMatch(/attachment; filename="plinth-audit-.*\.csv"/);
    const text = await csv.text();
    const [head] = text.split("\r\n");
    expect(head!.split(",")).toContain("prev_hash");
    expect(text).toContain('"has ""quotes"", commas\nand a newline"');
    // A formula-looking value is neutralised for spreadsheets.
    expect(text).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(text.trim().split("\r\n").length).toBe(3);
  });

  test(
    "100k rows stream: first bytes before the end, memory bounded, rows/s reported",
    async () => {
      const fresh = await freshDatabase();
      const sql = fresh.db.sql;
      const N = 100_000;
      // Seeded behind the chain's back for speed (the export does not check the chain); 1 KiB each,
      // so the export (~130 MB) is far larger than the memory the test allows.
      await sql.begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`insert into plinth.audit_log (actor_role, actor_kind, action, target, statement, outcome, status, duration_ms, seq, prev_hash, hash)
                 select 'service_role', 'service_key', 'bulk.row', 'row:' || g, repeat('x', 1024), 'ok', 200, 1, g, repeat('0', 64), repeat('0', 64)
                 from generate_series(1, ${N}) g`;
      });
      const node = await adminApp({}, fresh);
      Bun.gc(true);
      const baseRss = process.memoryUsage().rss;
      let peak = 0;
      const started = performance.now();
      const res = await node.app.fetch(
        new Request("http://localhost/admin/v1/audit/export?format=ndjson", { headers: { authorization: `Bearer ${node.keys.service_role}` } }),
      );
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let bytes = 0;
      let newlines = 0;
      let firstAt = 0;
      let chunks = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!firstAt) firstAt = performance.now() - started;
        bytes += value.byteLength;
        for (let i = 0; i < value.length; i++) if (value[i] === 10) newlines++;
        if (++chunks % 20 === 0) {
          Bun.gc(true);
          peak = Math.max(peak, process.memoryUsage().rss - baseRss);
        }
      }
      const secs = (performance.now() - started) / 1000;
      expect(newlines).toBe(N);
      expect(bytes).toBeGreaterThan(N * 1024);
      expect(firstAt).toBeLessThan(secs * 1000 * 0.25);
      // Bounded: the export is >100 MB; the process grows by a small fraction of it.
      expect(peak).toBeLessThan(64 * 1024 * 1024);
      console.log(
        `audit export: ${N} rows, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(1)} s = ${Math.round(N / secs)} rows/s; first bytes after ${firstAt.toFixed(0)} ms; peak RSS growth ${(peak / 1e6).toFixed(1)} MB`,
      );
    },
    { timeout: 240_000 },
  );
});

describe("retention", () => {
  async function retentionSetup(overrides: Parameters<typeof testConfig>[0] = {}) {
    const { db } = await freshDatabase();
    const dataDir = await mkdtemp(join(TEST_DATA_DIR, "audit-retention-"));
    afterAll(() => rm(dataDir, { recursive: true, force: true }));
    const config = testConfig({ dataDir, ...overrides });
    const old = new Date(Date.now() - 40 * DAY);
    for (let i = 0; i < 7; i++) await row(db.sql, { action: `old.${i}`, at: new Date(old.getTime() + i * 1000) });
    for (let i = 0; i < 3; i++) await row(db.sql, { action: `new.${i}` });
    return { sql: db.sql, config, dataDir };
  }

  test("rows past the limit are archived (gzip NDJSON with hashes) then removed; verify passes across the boundary", async () => {
    const { sql, config } = await retentionSetup();
    const store = await createArchiveStore(config);
    const r = await pruneAudit(sql, store, { retentionDays: 30, maxRows: 3 });
    expect(r.removed).toBe(7);
    expect(r.archives.map((a) => [a.first_seq, a.last_seq])).toEqual([
      [1, 3],
      [4, 6],
      [7, 7],
    ]);
    const left = await sql`select action from plinth.audit_log order by seq`;
    expect(left.map((x) => x.action)).toEqual(["new.0", "new.1", "new.2"]);
    const files = readdirSync(localArchiveDir(config)).filter((f) => f.endsWith(".ndjson.gz"));
    expect(files.length).toBe(3);
    const lines = gunzipSync(readFileSync(join(localArchiveDir(config), files.sort()[0]!)))
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ seq: "1", action: "old.0", prev_hash: "0".repeat(64), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true, checked: 3, archived: 7 });
    expect(await verifyAuditChain(sql, { archives: store })).toMatchObject({ ok: true, checked: 3, archived: 7 });
    // New rows keep chaining after the prune.
    await row(sql, { action: "after" });
    expect(await verifyAuditChain(sql, { archives: store })).toMatchObject({ ok: true, checked: 4 });
    // Nothing is due a second time.
    expect((await pruneAudit(sql, store, { retentionDays: 30 })).archives).toEqual([]);
  });

  test("a tampered archive file is found by verify with archives", async () => {
    const { sql, config } = await retentionSetup();
    const store = await createArchiveStore(config);
    await pruneAudit(sql, store, { retentionDays: 30 });
    const dir = localArchiveDir(config);
    const [file] = readdirSync(dir).filter((f) => f.endsWith(".gz"));
    const text = gunzipSync(readFileSync(join(dir, file!)))
      .toString()
      .replace('"action":"old.3"', '"action":"old.x"');
    writeFileSync(join(dir, file!), gzipSync(text));
    const r = await verifyAuditChain(sql, { archives: store });
    expect(r).toMatchObject({ ok: false, reason: "archive_mismatch" });
    // Without reading the files the database's own record still joins the chain.
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true });
  });

  test("a broken chain is never archived or removed: prune refuses and raises the event", async () => {
    const { sql, config } = await retentionSetup();
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update plinth.audit_log set target = 'rewritten' where seq = 2`;
    });
    await expect(pruneAudit(sql, await createArchiveStore(config), { retentionDays: 30 })).rejects.toThrow(/prune refused/);
    expect(Number((await sql`select count(*) from plinth.audit_log`)[0]!.count)).toBe(10);
    expect(readdirSync(localArchiveDir(config)).filter((f) => f.endsWith(".gz"))).toEqual([]);
    expect((await sql`select count(*)::int as n from plinth.security_events where kind = 'audit_chain_broken'`)[0]!.n).toBe(1);
  });

  test("two nodes pruning at once: one does it, the other skips; the chain stays valid", async () => {
    const { sql, config } = await retentionSetup();
    const store = await createArchiveStore(config);
    const [a, b] = await Promise.all([pruneAudit(sql, store, { retentionDays: 30 }), pruneAudit(sql, store, { retentionDays: 30 })]);
    expect(a.removed + b.removed).toBe(7);
    expect(await verifyAuditChain(sql, { archives: store })).toMatchObject({ ok: true, checked: 3, archived: 7 });
  });

  test("the periodic job prunes when audit.retentionDays is set", async () => {
    const { sql, config } = await retentionSetup({ audit: { retentionDays: 30 } });
    const job = startAuditRetention({ sql, config, log: createLogger("silent") }, { firstMs: 10, everyMs: 60_000 });
    for (let i = 0; i < 100 && Number((await sql`select count(*) from plinth.audit_log`)[0]!.count) !== 3; i++) await Bun.sleep(50);
    await job.stop();
    expect(Number((await sql`select count(*) from plinth.audit_log`)[0]!.count)).toBe(3);
    expect(await verifyAuditChain(sql)).toMatchObject({ ok: true, archived: 7 });
  });

  test("with storage.backend s3, archives go to the bucket under audit-archive/ and verify from there", async () => {
    mkdirSync(TEST_DATA_DIR, { recursive: true });
    const s3dir = await mkdtemp(join(TEST_DATA_DIR, "s3rver-audit-"));
    const s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: "plinth" }] });
    const { port } = (await s3.run()) as { port: number };
    try {
      const s3opts = {
        endpoint: `http://127.0.0.1:${port}`,
        bucket: "plinth",
        region: "us-east-1",
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
        forcePathStyle: true,
      };
      const { sql, config } = await retentionSetup({ storage: { backend: "s3", s3: s3opts } });
      const store = await createArchiveStore(config);
      const r = await pruneAudit(sql, store, { retentionDays: 30 });
      expect(r.archives[0]!.location).toMatch(/^s3:audit-archive\/audit-1-7-\d{8}T\d{6}Z\.ndjson\.gz$/);
      const client = new Bun.S3Client({ ...s3opts, virtualHostedStyle: false });
      expect(await client.file(r.archives[0]!.location.slice(3)).exists()).toBe(true);
      expect(readdirSync(localArchiveDir(config)).filter((f) => f.endsWith(".gz"))).toEqual([]);
      expect(await verifyAuditChain(sql, { archives: store })).toMatchObject({ ok: true, checked: 3, archived: 7 });
    } finally {
      await s3.close();
      await rm(s3dir, { recursive: true, force: true });
    }
  });

  test("archive locations outside the archive store are refused", async () => {
    const { config } = await retentionSetup();
    const store = await createArchiveStore(config);
    await expect(store.open("local:../../etc/passwd")).rejects.toThrow(/not an archive location/);
    await expect(store.open("local:audit-1-2-20260101T000000Z.ndjson.gz/../../x")).rejects.toThrow(/not an archive location/);
  });
});
