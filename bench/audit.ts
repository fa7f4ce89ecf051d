// Audit log benchmark (issue 14): what the hash chain costs an insert, alone and with concurrent
// writers, and how fast verification walks a chain. Alone (prints, writes nothing):
//   bun bench/audit.ts [--quick]
// Uses its own embedded PostgreSQL in a temporary directory (removed at the end).
//
// Per writer count W (1, 4, 16; each writer its own connection, like W server nodes), for D seconds:
//   chained: recordAudit() into plinth.audit_log (BEFORE INSERT trigger: head row lock, canonical
//            text, sha256, head update) — the real path;
//   plain:   the same INSERT into a copy of the table without the chain trigger (the cost before
//            issue 14), for the ratio.
// Reports inserts/s, mean latency per insert, and that the chain verifies afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { cliActor } from "../src/admin/authorize.ts";
import { actorColumns, recordAudit } from "../src/admin/audit/log.ts";
import { verifyAuditChain } from "../src/admin/audit/verify.ts";
import { startEmbedded } from "../src/db/embedded/supervisor.ts";
import { applySystemMigrations } from "../src/db/migrations/system.ts";

const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const DURATION_MS = quick ? 1000 : 5000;
const WRITERS = [1, 4, 16];

const dir = mkdtempSync(join(tmpdir(), "plinth-bench-audit-"));
const embedded = await startEmbedded({ dataDir: dir });
try {
  const admin = postgres(embedded.url, { max: 1, onnotice: () => {} });
  await applySystemMigrations(admin);
  // The pre-chain table: same columns and defaults, no triggers, no chain columns required.
  await admin.unsafe(`create table public.audit_plain (like plinth.audit_log including defaults including identity)`);
  await admin.unsafe(`alter table public.audit_plain alter column seq drop not null, alter column prev_hash drop not null, alter column hash drop not null`);
  await admin.end();
  const entry = {
    ...actorColumns(cliActor("bench")),
    target: "bench:1",
    statement: null,
    outcome: "ok" as const,
    status: 200,
    errorCode: null,
    durationMs: 1.25,
    rowCount: null,
    requestId: "r",
    clientIp: "127.0.0.1",
  };

  const rows: string[] = [];
  for (const w of WRITERS) {
    const result: Record<string, { perSec: number; latencyMs: number }> = {};
    for (const kind of ["plain", "chained"] as const) {
      const conns = Array.from({ length: w }, () => postgres(embedded.url, { max: 1, onnotice: () => {} }));
      await Promise.all(conns.map((c) => c`select 1`));
      let n = 0;
      let latency = 0;
      const until = performance.now() + DURATION_MS;
      const started = performance.now();
      await Promise.all(
        conns.map(async (c) => {
          while (performance.now() < until) {
            const t0 = performance.now();
            if (kind === "chained") await recordAudit(c, { ...entry, action: "bench.insert" });
            else
              await c`insert into public.audit_plain (actor_role, actor_kind, actor_sub, action, target, outcome, status, duration_ms, request_id, client_ip)
                      values (${entry.actorRole}, ${entry.actorKind}, ${entry.actorSub}, 'bench.insert', ${entry.target}, 'ok', 200, 1.25, 'r', '127.0.0.1')`;
            latency += performance.now() - t0;
            n++;
          }
        }),
      );
      const secs = (performance.now() - started) / 1000;
      result[kind] = { perSec: n / secs, latencyMs: latency / n };
      await Promise.all(conns.map((c) => c.end()));
    }
    const p = result.plain!;
    const c = result.chained!;
    rows.push(
      `| ${w} | ${Math.round(p.perSec)} | ${Math.round(c.perSec)} | ${(c.perSec / p.perSec).toFixed(2)} | ${p.latencyMs.toFixed(2)} | ${c.latencyMs.toFixed(2)} | ${(c.latencyMs - p.latencyMs).toFixed(2)} |`,
    );
  }
  const sql = postgres(embedded.url, { max: 2, onnotice: () => {} });
  const [{ n }] = (await sql`select count(*)::int as n from plinth.audit_log`) as unknown as [{ n: number }];
  const v0 = performance.now();
  const v = await verifyAuditChain(sql);
  const vs = (performance.now() - v0) / 1000;
  await sql.end();
  console.log(`Audit insert cost (${DURATION_MS / 1000} s per cell; each writer its own connection)\n`);
  console.log("| writers | plain inserts/s | chained inserts/s | ratio | plain ms/insert | chained ms/insert | added ms |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log(`\nverify: ${v.ok ? "ok" : `BROKEN ${JSON.stringify(v)}`}, ${n} rows in ${vs.toFixed(2)} s = ${Math.round(n / vs)} rows/s`);
  if (!v.ok) process.exitCode = 1;
} finally {
  await embedded.stop();
  rmSync(dir, { recursive: true, force: true });
}
