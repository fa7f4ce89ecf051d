// What the audit entry costs a password sign-in (issue 14: sign-in throughput with audit on must
// stay ≥ 0.9 of it off). Alone (prints, writes nothing):  bun bench/audit-signin.ts [--quick]
// In-process, alternating rounds, 4 concurrent clients, the same user and password:
//   with audit:  POST /auth/v1/token?grant_type=password through createApp(...).fetch — gateway,
//                route, passwordGrant and its one audit INSERT (src/auth/audit.ts);
//   without:     passwordGrant(...) called directly — the same flow with no route and no audit,
//                so the ratio also charges the gateway and route to the audit (a lower bound).
// Uses its own embedded PostgreSQL in a temporary directory (removed at the end).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app.ts";
import { createAuthService } from "../src/auth/service.ts";
import { passwordGrant } from "../src/auth/signin.ts";
import { configSchema } from "../src/config/schema.ts";
import { startEmbedded } from "../src/db/embedded/supervisor.ts";
import { applySystemMigrations } from "../src/db/migrations/system.ts";
import { connect } from "../src/db/pool.ts";
import { apiKeys } from "../src/lib/jwt.ts";
import { silentLogger } from "../src/log.ts";

const SECRET = "bench-audit-secret-bench-audit-secret-012345";
const quick = process.argv.includes("--quick");
const ROUND_MS = quick ? 1000 : 4000;
const ROUNDS = quick ? 1 : 3;
const CONCURRENCY = 4;
const dir = mkdtempSync(join(tmpdir(), "plinth-bench-audit-signin-"));
const embedded = await startEmbedded({ dataDir: dir });
try {
  const db = connect(embedded.url, { max: 10 });
  await applySystemMigrations(db.sql);
  const config = configSchema.parse({
    dataDir: dir,
    db: { url: embedded.url },
    rateLimit: { enabled: false },
    log: { level: "silent" },
    auth: { autoconfirm: true },
  });
  const auth = await createAuthService({ config, db, log: silentLogger, jwtSecret: SECRET, dbUrl: embedded.url });
  const app = createApp({ config, db, log: silentLogger, jwtSecret: SECRET, services: [auth], databaseLabel: "bench" });
  const anon = (await apiKeys(SECRET)).anon;
  const email = "bench@example.com";
  const password = "Bench-signin-pass-1";
  const post = (path: string, body: unknown) =>
    app.fetch(
      new Request(`http://localhost${path}`, { method: "POST", headers: { apikey: anon, "content-type": "application/json" }, body: JSON.stringify(body) }),
      {
        requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }),
      } as never,
    );
  const su = await post("/auth/v1/signup", { email, password });
  if (su.status !== 200) throw new Error(`signup ${su.status} ${await su.text()}`);
  const client = { ip: "127.0.0.1", userAgent: null, apiBase: "http://localhost" };
  const ways = {
    withAudit: async () => {
      const r = await post("/auth/v1/token?grant_type=password", { email, password });
      if (r.status !== 200) throw new Error(`sign-in ${r.status}`);
      await r.arrayBuffer();
    },
    withoutAudit: async () => {
      await passwordGrant(auth.context, client, { email, password });
    },
  };
  const rates: Record<keyof typeof ways, number[]> = { withAudit: [], withoutAudit: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ["withoutAudit", "withAudit"] as const) {
      let n = 0;
      const until = performance.now() + ROUND_MS;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < until) {
            await ways[name]();
            n++;
          }
        }),
      );
      rates[name].push(n / ((performance.now() - started) / 1000));
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const a = med(rates.withAudit);
  const b = med(rates.withoutAudit);
  const [{ n }] = (await db.sql`select count(*)::int as n from plinth.audit_log where action = 'end_user.signin.password'`) as unknown as [{ n: number }];
  console.log(`password sign-ins/s, ${CONCURRENCY} concurrent, median of ${ROUNDS} rounds of ${ROUND_MS / 1000} s:`);
  console.log(
    `  with audit (route + 1 INSERT): ${a.toFixed(1)}/s   without (flow only): ${b.toFixed(1)}/s   ratio ${(a / b).toFixed(3)}   (${n} audit rows written)`,
  );
  await app.stop();
  await db.close();
} finally {
  await embedded.stop();
  rmSync(dir, { recursive: true, force: true });
}
