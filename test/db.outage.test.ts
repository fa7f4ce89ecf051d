// kill -9 of the embedded PostgreSQL's postmaster under a steady write load (REST inserts and
// storage uploads): the supervisor restarts it at once, every request is answered within 5 s —
// acknowledged, or 503 with a code, never a hang and never a 500 — writes are acknowledged again
// within 3 s, and nothing that was acknowledged is lost (rows and stored files).
import { afterAll, expect, test } from "bun:test";
import { chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";
import { apiKeys } from "../src/lib/jwt.ts";
import { createLogger } from "../src/log.ts";
import { serve } from "../src/server.ts";
import { testConfig } from "./support/app.ts";
import { TEST_DATA_DIR } from "./support/db.ts";

const SECRET = "outage-test-secret-outage-test-secret-0123";
const keys = await apiKeys(SECRET);
const AUTH = { apikey: keys.service_role, authorization: `Bearer ${keys.service_role}` };

await mkdir(TEST_DATA_DIR, { recursive: true });
const home = await mkdtemp(join(TEST_DATA_DIR, "outage-"));
await chmod(home, 0o755);
// No db.url: the server supervises its own embedded cluster in <home>/pg, which this test kills.
// The auth reader signs in with a wrong password on a loop: lockout would answer it 429 (correctly)
// long before the outage, which is not what this test watches.
const config = testConfig({ dataDir: home, port: 0, rateLimit: { enabled: false }, auth: { lockout: { enabled: false } } });
const server = await serve({ config, jwtSecret: SECRET, log: createLogger("silent"), banner: () => {} });
afterAll(async () => {
  const t = performance.now();
  await server.stop();
  console.log(`stopped in ${Math.round(performance.now() - t)} ms`);
  await rm(home, { recursive: true, force: true });
}, 30_000);

const owner = postgres(server.database.url, { max: 1, onnotice: () => {} });
await owner.unsafe(`create table public.ledger (id bigint generated always as identity primary key, v text not null);
  grant all on public.ledger to service_role; notify pgrst, 'reload schema'`);
await owner.end();
await fetch(`${server.url}/storage/v1/bucket`, {
  method: "POST",
  headers: { ...AUTH, "content-type": "application/json" },
  body: JSON.stringify({ id: "out", name: "out" }),
});
for (let i = 0; i < 100; i++) {
  if ((await fetch(`${server.url}/rest/v1/ledger?select=id&limit=1`, { headers: AUTH })).status === 200) break;
  await Bun.sleep(50);
}

interface Outcome {
  at: number;
  ms: number;
  status: number;
  code: string | null;
}

test("kill -9 of the postmaster: 503 within 5 s while down, writes again within 3 s, nothing acknowledged lost", async () => {
  const outcomes: Outcome[] = [];
  const ackedRows: string[] = [];
  const ackedFiles = new Map<string, string>();
  let killedAt = 0;
  let stop = false;
  const record = async (fn: () => Promise<Response>, onOk: (res: Response) => Promise<void>) => {
    const t = performance.now();
    let status = 0;
    let code: string | null = null;
    try {
      const res = await fn();
      status = res.status;
      if (status === 200 || status === 201) await onOk(res);
      else {
        const body = (await res.json().catch(() => ({}))) as { code?: string; error_code?: string };
        code = body.error_code ?? body.code ?? null;
      }
    } catch {
      status = -1; // the request itself failed: a hang cut by the signal below, or a reset
    }
    if (killedAt) outcomes.push({ at: t - killedAt, ms: performance.now() - t, status, code });
  };
  let n = 0;
  const restWriter = async () => {
    while (!stop) {
      const v = `row-${n++}`;
      await record(
        () =>
          fetch(`${server.url}/rest/v1/ledger`, {
            method: "POST",
            headers: { ...AUTH, "content-type": "application/json" },
            body: JSON.stringify({ v }),
            signal: AbortSignal.timeout(10_000),
          }),
        async () => void ackedRows.push(v),
      );
      await Bun.sleep(5);
    }
  };
  const storageWriter = async () => {
    while (!stop) {
      const name = `f-${n++}.txt`;
      const body = `contents of ${name}`;
      await record(
        () =>
          fetch(`${server.url}/storage/v1/object/out/${name}`, {
            method: "POST",
            headers: { ...AUTH, "content-type": "text/plain" },
            body,
            signal: AbortSignal.timeout(10_000),
          }),
        async () => void ackedFiles.set(name, body),
      );
      await Bun.sleep(5);
    }
  };
  // Auth reads the database for every sign-in: during the outage it must answer 503 too, not 500.
  const authReader = async () => {
    while (!stop) {
      await record(
        () =>
          fetch(`${server.url}/auth/v1/token?grant_type=password`, {
            method: "POST",
            headers: { apikey: keys.anon, "content-type": "application/json" },
            body: JSON.stringify({ email: "nobody@example.com", password: "wrong-password-1" }),
            signal: AbortSignal.timeout(10_000),
          }),
        async () => {},
      );
      await Bun.sleep(20);
    }
  };
  const writers = [restWriter(), restWriter(), restWriter(), storageWriter(), authReader()];
  await Bun.sleep(500);
  const pid = Number((await readFile(join(home, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
  killedAt = performance.now();
  process.kill(pid, "SIGKILL");
  await Bun.sleep(6_000);
  stop = true;
  await Promise.all(writers);

  const slowest = Math.max(...outcomes.map((o) => o.ms));
  // A failed sign-in (400 invalid_credentials) is the auth reader's normal answer, not a refusal.
  const refused = outcomes.filter((o) => o.status !== 200 && o.status !== 201 && !(o.status === 400 && o.code === "invalid_credentials"));
  // Requests already on their way may still be acknowledged by the dying server's backends; the
  // outage starts with the first refusal, and recovery is the first acknowledgement after it.
  const down = Math.min(...refused.filter((o) => o.at >= 0).map((o) => o.at));
  const firstAckAfter = outcomes.filter((o) => (o.status === 200 || o.status === 201) && o.at > down).sort((a, b) => a.at - b.at)[0];
  console.log(
    `outage: ${refused.length} refused (${[...new Set(refused.map((o) => `${o.status}:${o.code}`))].join(", ")}), slowest answer ${Math.round(slowest)} ms, first refusal ${Math.round(down)} ms and first acknowledged write ${Math.round(firstAckAfter?.at ?? -1)} ms after the kill`,
  );
  expect(slowest).toBeLessThan(5_000);
  for (const o of refused) {
    expect(o.status).toBe(503);
    expect(o.code).toBeTruthy();
  }
  expect(firstAckAfter).toBeDefined();
  expect(firstAckAfter!.at + firstAckAfter!.ms).toBeLessThan(3_000); // answered within 3 s of the kill

  // Nothing acknowledged was lost: every acknowledged row and file is there after the restart.
  const check = postgres(server.database.url, { max: 1, onnotice: () => {} });
  const rows = new Set((await check<{ v: string }[]>`select v from public.ledger`).map((r) => r.v));
  await check.end();
  expect(ackedRows.filter((v) => !rows.has(v))).toEqual([]);
  for (const [name, body] of ackedFiles) {
    const res = await fetch(`${server.url}/storage/v1/object/out/${name}`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
  }
  expect(ackedRows.length).toBeGreaterThan(10);
}, 60_000);
