// Keys benchmark (issue 16): what identifying a request costs the gateway — resolvePrincipal (the
// gateway's step from headers to Principal, src/http/principal.ts) plus, for a scoped key, the scope
// check (src/lib/scopes.ts) — with the node's real key ring (src/keys/ring.ts) loaded from an
// embedded PostgreSQL. Goal: under 0.05 ms per request once cached; the uncached cost is reported.
//   bun bench/keys.ts [--quick]          (prints; `npm run bench -- keys` writes RESULTS.md)
// Cases, each timed over many calls in this process (no HTTP, no database on the path):
//   ES256 cached:    the same session token again (one map lookup; the verdict cached by generation)
//   ES256 uncached:  a different token every call (jose ECDSA P-256 verify through WebCrypto)
//   HS256 cached / uncached: the legacy secret, for comparison (uncached: through the ring, and
//                    verifyJwt alone as signed-URL tokens use it; both jose with the HMAC key imported once)
//   scoped key:      an sb_scoped_… key (sha256 of the key, a map lookup, the usage counter) + its scopes
//   publishable key: an sb_publishable_… key
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configSchema } from "../src/config/schema.ts";
import { startEmbedded } from "../src/db/embedded/supervisor.ts";
import { applySystemMigrations } from "../src/db/migrations/system.ts";
import { connect } from "../src/db/pool.ts";
import { resolvePrincipal } from "../src/http/principal.ts";
import { createApiKey } from "../src/keys/api-keys.ts";
import { keyRingFor } from "../src/keys/ring.ts";
import { signJwt, verifyJwt } from "../src/lib/jwt.ts";
import { scopeDenial } from "../src/lib/scopes.ts";
import { silentLogger } from "../src/log.ts";
import { fmt, machineInfo } from "./lib.ts";
import { goalRow, table, type BenchContext, type Outcome, type Row } from "./outcome.ts";

const SECRET = "bench-keys-secret-bench-keys-secret-0123456789";
const GOAL_MS = 0.05;

interface Case {
  name: string;
  ms: number;
}

async function timeIt(n: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(n, 2000); i++) {
    const r = fn(i);
    if (r instanceof Promise) await r;
  }
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const r = fn(i);
    if (r instanceof Promise) await r;
  }
  return (performance.now() - started) / n;
}

export async function runKeys(ctx: BenchContext): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), "plinth-bench-keys-"));
  const embedded = await startEmbedded({ dataDir: dir });
  const db = connect(embedded.url, { max: 4 });
  try {
    await applySystemMigrations(db.sql);
    const config = configSchema.parse({ dataDir: dir, auth: { signingAlg: "ES256", keysMasterSecret: "bench-master-secret-bench-master-secret-01" } });
    const ring = keyRingFor(db, { config, jwtSecret: SECRET, log: silentLogger });
    await ring.ready();
    const scoped = await createApiKey(db.sql, {
      name: "bench-scoped",
      kind: "scoped",
      scopes: ["rest:read:public.notes", "storage:read:avatars"],
      role: "anon",
    });
    const pub = await createApiKey(db.sql, { name: "bench-pub", kind: "publishable" });
    await ring.reload();
    const quick = ctx.quick;
    const hot = quick ? 20_000 : 200_000;
    const cold = quick ? 500 : 3_000;
    const now = Math.floor(Date.now() / 1000);
    const claims = (i: number) => ({ role: "authenticated", sub: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, iat: now, exp: now + 3600 });
    ctx.progress("keys: signing tokens");
    const es = await Promise.all(Array.from({ length: cold }, (_, i) => ring.sign(claims(i))));
    const hs = await Promise.all(Array.from({ length: cold }, (_, i) => signJwt(claims(i), SECRET)));
    const url = new URL("http://localhost/rest/v1/notes?select=id,body");
    const request = (apikey: string, bearer?: string) =>
      new Request(url, { headers: { apikey, authorization: `Bearer ${bearer ?? apikey}`, "accept-profile": "public" } });
    const esReq = request(pub.key, es[0]);
    const hsReq = request(pub.key, hs[0]);
    const scopedReq = request(scoped.key);
    const pubReq = request(pub.key);
    const cases: Case[] = [];
    const resolve = (r: Request) => resolvePrincipal(r, url, ring);
    ctx.progress("keys: cached");
    cases.push({ name: "ES256 session token, cached (+ publishable apikey)", ms: await timeIt(hot, () => resolve(esReq)) });
    cases.push({ name: "HS256 legacy token, cached (+ publishable apikey)", ms: await timeIt(hot, () => resolve(hsReq)) });
    cases.push({
      name: "scoped API key + scope check",
      ms: await timeIt(hot, () => {
        const r = resolve(scopedReq);
        if (r instanceof Promise || !r.ok || !r.grant?.scopes) throw new Error("scoped key did not resolve synchronously");
        if (scopeDenial(r.grant.scopes, { area: "rest", method: "GET", url, headers: scopedReq.headers, defaultSchema: "public" })) throw new Error("denied");
      }),
    });
    cases.push({ name: "publishable API key alone", ms: await timeIt(hot, () => resolve(pubReq)) });
    ctx.progress("keys: uncached");
    // Every call a token the node has not seen: the generation bump voids the cache between rounds.
    cases.push({ name: "ES256 session token, uncached (ECDSA P-256 verify)", ms: await timeIt(cold, (i) => ring.verify(es[i % cold]!)) });
    // The whole gateway step with the cache voided before every call (as after a key change).
    cases.push({ name: "ES256 uncached through resolvePrincipal (+ publishable apikey)", ms: await timeIt(cold, () => (ring.generation++, resolve(esReq))) });
    cases.push({ name: "HS256 legacy token, uncached (HMAC, jose)", ms: await timeIt(cold, (i) => ring.verify(hs[i % cold]!)) });
    // The same check without the ring (signed-URL tokens, nodes without a key ring): src/lib/jwt.ts alone.
    cases.push({ name: "HS256 verifyJwt, uncached (HMAC, jose; signed URLs)", ms: await timeIt(cold, (i) => verifyJwt(hs[i % cold]!, SECRET)) });
    await ring.stop();

    const worstCached = Math.max(...cases.slice(0, 4).map((c) => c.ms));
    const ok = worstCached < GOAL_MS;
    const summary: Row[] = [goalRow("keysCachedMs", `${fmt(worstCached * 1000, 1)} µs`, ok)];
    const m = machineInfo();
    const body = [
      `Conditions: ${m.nproc} CPUs (${m.cpuModel}) shared with other work, Bun ${m.bunVersion}, load average ${m.loadavg} at the end; one Bun process, in-process calls of \`resolvePrincipal\` (the gateway's key step) with the node's key ring loaded from an embedded PostgreSQL (no database access on the path); ${fmt(hot, 0)} calls per cached case, ${fmt(cold, 0)} distinct tokens per uncached case${quick ? " (quick mode)" : ""}. Uncached: \`ring.verify\` on a token not seen before (jose), and the whole resolvePrincipal step with the verified-token cache voided before each call.`,
      "",
      table(
        ["Case", "µs per request"],
        cases.map((c) => [c.name, fmt(c.ms * 1000, 2)]),
      ),
    ].join("\n");
    return { ok: true, summary, body, lines: cases.map((c) => `${c.name}: ${fmt(c.ms * 1000, 2)} µs`), warnings: [] };
  } finally {
    await db.close(1);
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const out = await runKeys({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(`${s}\n`) });
  process.stdout.write(`${out.lines.join("\n")}\n\n${out.body}\n`);
}
