// Storage benchmark (standalone: `bun bench/storage.ts`). Starts Plinth in a child process with its
// own embedded PostgreSQL and local storage under a temporary directory, then measures:
//   1. a 1 GiB upload and a 1 GiB download through /storage/v1, against `dd` on the same disk
//      (dd with fdatasync writing, dd reading the same file back), and the server's peak RSS
//      growth during each transfer (VmHWM after the transfer minus VmRSS before it; the peak is
//      reset through /proc/<pid>/clear_refs first);
//   2. 4 KiB uploads per second as an authenticated user, with RLS policies on storage.objects.
// Everything it creates (including the 1 GiB files) is removed at the end.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signJwt } from "../src/auth/jwt.ts";
import { BUN, fmt, freePort, procStatus, ROOT, sleep } from "./lib.ts";

const SECRET = "bench-storage-secret-at-least-32-characters";
const POLICIES = `
  create policy "user folder insert" on storage.objects for insert to authenticated
    with check (bucket_id = 'small' and (storage.foldername(name))[1] = auth.uid()::text and owner_id = auth.uid()::text);
  create policy "user folder select" on storage.objects for select to authenticated
    using (bucket_id = 'small' and (storage.foldername(name))[1] = auth.uid()::text);`;
const GiB = 1024 ** 3;

if (process.argv[2] === "--server") {
  // Child: the real server, as `plinth serve` assembles it.
  const [, , , portArg, dataDir] = process.argv;
  const { configSchema } = await import("../src/config/schema.ts");
  const { serve } = await import("../src/server.ts");
  const { createLogger } = await import("../src/log.ts");
  const config = configSchema.parse({ port: Number(portArg), host: "127.0.0.1", dataDir, rateLimit: { enabled: false }, log: { level: "warn" } });
  const server = await serve({ config, jwtSecret: SECRET, log: createLogger("warn"), banner: () => {} });
  // The policies of the small-upload run (Supabase's "own folder" pattern), then tell the parent.
  await server.database.db.sql.unsafe(POLICIES);
  writeFileSync(join(dataDir!, "ready"), "");
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  await main();
}

function mb(kb: string | undefined): number {
  return Number(/^(\d+)/.exec(kb ?? "")?.[1] ?? NaN) / 1024;
}

async function main() {
  const dir = mkdtempSync(join(process.env.PLINTH_BENCH_DIR ?? tmpdir(), "plinth-bench-storage-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(BUN, [join(ROOT, "bench/storage.ts"), "--server", String(port), dir], { stdio: ["ignore", "inherit", "inherit"] });
  const pid = child.pid!;
  const now = Math.floor(Date.now() / 1000);
  const service = signJwt({ role: "service_role", iat: now, exp: now + 3600 }, SECRET);
  const userId = "44444444-4444-4444-8444-444444444444";
  const user = signJwt({ role: "authenticated", sub: userId, iat: now, exp: now + 3600 }, SECRET);
  const H = { Authorization: `Bearer ${service}` };
  const results: string[] = [];
  const ddFile = join(dir, "dd.bin");
  try {
    const deadline = Date.now() + 180_000;
    while (!existsSync(join(dir, "ready"))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error("server did not start");
      await sleep(200);
    }
    const post = (path: string, body: unknown, headers: Record<string, string> = H) =>
      fetch(`${url}/storage/v1${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
    await post("/bucket", { id: "big", name: "big", public: false });
    await post("/bucket", { id: "small", name: "small", public: false });

    // --- dd: the disk's own speed ---
    const dd = (args: string[]) =>
      new Promise<number>((resolve, reject) => {
        const t = performance.now();
        const p = spawn("dd", args, { stdio: "ignore" });
        p.on("exit", (code) => (code === 0 ? resolve((performance.now() - t) / 1000) : reject(new Error(`dd exited ${code}`))));
      });
    const ddWrite = await dd(["if=/dev/zero", `of=${ddFile}`, "bs=1M", "count=1024", "conv=fdatasync"]);
    // The disk's read speed (O_DIRECT, bypassing the page cache) and the cached read speed: a
    // download of a just-written file is served from the page cache, as dd's second figure is.
    const ddReadDirect = await dd([`if=${ddFile}`, "of=/dev/null", "bs=1M", "iflag=direct"]);
    const ddRead = await dd([`if=${ddFile}`, "of=/dev/null", "bs=1M"]);

    // --- 1 GiB upload (the body is the dd file, sent by Bun from disk) ---
    const resetPeak = () => writeFileSync(`/proc/${pid}/clear_refs`, "5");
    const rss = () => mb(procStatus(pid)?.VmRSS);
    const hwm = () => mb(procStatus(pid)?.VmHWM);
    resetPeak();
    const rssBeforeUp = rss();
    let t = performance.now();
    const up = await fetch(`${url}/storage/v1/object/big/1gib.bin`, {
      method: "POST",
      headers: { ...H, "content-type": "application/octet-stream" },
      body: Bun.file(ddFile),
    });
    const upSecs = (performance.now() - t) / 1000;
    if (up.status !== 200) throw new Error(`upload failed: ${up.status} ${await up.text()}`);
    const upPeak = hwm() - rssBeforeUp;

    // --- 1 GiB download ---
    resetPeak();
    const rssBeforeDown = rss();
    t = performance.now();
    const down = await fetch(`${url}/storage/v1/object/big/1gib.bin`, { headers: H });
    let got = 0;
    for await (const chunk of down.body!) got += chunk.byteLength;
    const downSecs = (performance.now() - t) / 1000;
    if (got !== GiB) throw new Error(`download returned ${got} bytes`);
    const downPeak = hwm() - rssBeforeDown;

    const thr = (s: number) => GiB / 1024 ** 2 / s;
    results.push(
      `1 GiB upload:   ${fmt(thr(upSecs))} MiB/s (dd write+fdatasync ${fmt(thr(ddWrite))} MiB/s → ${fmt((100 * thr(upSecs)) / thr(ddWrite), 0)}%), peak RSS growth ${fmt(upPeak)} MB`,
      `1 GiB download: ${fmt(thr(downSecs))} MiB/s (dd read from disk, O_DIRECT ${fmt(thr(ddReadDirect))} MiB/s → ${fmt((100 * thr(downSecs)) / thr(ddReadDirect), 0)}%; ` +
        `dd read from page cache ${fmt(thr(ddRead))} MiB/s → ${fmt((100 * thr(downSecs)) / thr(ddRead), 0)}%), peak RSS growth ${fmt(downPeak)} MB`,
    );
    rmSync(ddFile, { force: true });
    await fetch(`${url}/storage/v1/object/big`, { method: "DELETE", headers: { ...H, "content-type": "application/json" }, body: JSON.stringify({ prefixes: ["1gib.bin"] }) });

    // --- 4 KiB uploads per second, as a user, policies on ---
    const body = new Uint8Array(4096).fill(120);
    const userH = { Authorization: `Bearer ${user}`, "content-type": "application/octet-stream" };
    const concurrency = 8;
    const durationMs = 10_000;
    let done = 0;
    let failed = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        for (let i = 0; performance.now() - start < durationMs; i++) {
          const r = await fetch(`${url}/storage/v1/object/small/${userId}/w${w}-${i}.bin`, { method: "POST", headers: userH, body });
          await r.arrayBuffer();
          if (r.status === 200) done++;
          else failed++;
        }
      }),
    );
    const secs = (performance.now() - start) / 1000;
    results.push(`4 KiB uploads:  ${fmt(done / secs, 0)}/s as an authenticated user with RLS policies (insert + select) (${concurrency} concurrent clients, ${done} uploads, ${failed} refused)`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(["", "Storage benchmark (" + new Date().toISOString() + ")", ...results.map((r) => "  " + r), ""].join("\n"));
}
