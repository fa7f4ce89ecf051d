// Storage benchmark: run by bench/run.ts (`npm run bench -- storage`), or alone (prints, writes
// nothing): `bun bench/storage.ts [--quick]`. Starts Plinth in a child process with its
// own embedded PostgreSQL and local storage under a temporary directory, then measures:
//   1. a 1 GiB upload and a 1 GiB download through /storage/v1, against `dd` on the same disk
//      (dd with fdatasync writing, dd reading the same file back), and the server's peak RSS
//      growth during each transfer (VmHWM after the transfer minus VmRSS before it; the peak is
//      reset through /proc/<pid>/clear_refs first);
//   2. 4 KiB uploads per second as an authenticated user, with RLS policies on storage.objects.
// Everything it creates (including the 1 GiB files) is removed at the end. Quick mode moves 64 MiB.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signJwt } from "../src/lib/jwt.ts";
import { BUN, fmt, freePort, procStatus, ROOT, sleep } from "./lib.ts";
import { GOALS, goalRow, pct, table, type BenchContext, type Outcome } from "./outcome.ts";

const SECRET = "bench-storage-secret-at-least-32-characters";
const POLICIES = `
  create policy "user folder insert" on storage.objects for insert to authenticated
    with check (bucket_id = 'small' and (storage.foldername(name))[1] = auth.uid()::text and owner_id = auth.uid()::text);
  create policy "user folder select" on storage.objects for select to authenticated
    using (bucket_id = 'small' and (storage.foldername(name))[1] = auth.uid()::text);`;
const MiB = 1024 ** 2;

if (import.meta.main && process.argv[2] === "--server") {
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
} else if (import.meta.main) {
  const r = await runStorage({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(s + "\n") });
  console.log([...r.lines, ...r.warnings.map((w) => `warning: ${w}`)].join("\n"));
}

function mb(kb: string | undefined): number {
  return Number(/^(\d+)/.exec(kb ?? "")?.[1] ?? NaN) / 1024;
}

interface StorageFigures {
  mib: number;
  upload: { mibPerS: number; rssGrowthMb: number };
  download: { mibPerS: number; rssGrowthMb: number };
  dd: { write: number; readDirect: number; readCached: number };
  small: { perSecond: number; done: number; refused: number; clients: number; seconds: number };
}

export async function runStorage(ctx: BenchContext): Promise<Outcome> {
  const f = await measure(ctx);
  const size = f.mib >= 1024 ? `${f.mib / 1024} GiB` : `${f.mib} MiB`;
  const up = f.upload.mibPerS / f.dd.write;
  const down = f.download.mibPerS / f.dd.readDirect;
  const growth = Math.max(f.upload.rssGrowthMb, f.download.rssGrowthMb);
  const l = GOALS.storageRssGrowthMb.limit;
  return {
    ok: true,
    summary: [
      goalRow(
        "storageUploadShare",
        `${fmt(f.upload.mibPerS)} vs ${fmt(f.dd.write)} MiB/s (${pct(up)})`,
        up >= GOALS.storageUploadShare.limit,
        `Storage: ${size} upload / dd write + fdatasync`,
      ),
      goalRow(
        "storageDownloadShare",
        `${fmt(f.download.mibPerS)} vs ${fmt(f.dd.readDirect)} MiB/s (${pct(down)})`,
        down >= GOALS.storageDownloadShare.limit,
        `Storage: ${size} download / dd read (O_DIRECT)`,
      ),
      goalRow(
        "storageRssGrowthMb",
        `${fmt(f.upload.rssGrowthMb)} MB / ${fmt(f.download.rssGrowthMb)} MB`,
        growth < l,
        `Storage: peak RSS growth during the ${size} upload / download`,
      ),
      ["Storage: 4 KiB uploads per second, authenticated user, RLS policies", `${fmt(f.small.perSecond, 0)}/s`, "report", "info"],
    ],
    body: render(f, size),
    lines: [
      `${size} upload ${fmt(f.upload.mibPerS)} MiB/s (dd ${fmt(f.dd.write)}), download ${fmt(f.download.mibPerS)} MiB/s (dd O_DIRECT ${fmt(f.dd.readDirect)}); RSS growth ${fmt(f.upload.rssGrowthMb)} / ${fmt(f.download.rssGrowthMb)} MB`,
      `4 KiB uploads ${fmt(f.small.perSecond, 0)}/s (${f.small.refused} refused)`,
    ],
    warnings: f.small.refused ? [`${f.small.refused} small uploads were refused`] : [],
  };
}

function render(f: StorageFigures, size: string): string {
  return [
    `Conditions: Plinth (\`serve()\`, local storage backend, rate limit off) in a child process with its own embedded PostgreSQL and data dir`,
    "under a temporary directory; the client in the benchmark process, on the same machine and disk.",
    `- ${size} upload: one \`POST /storage/v1/object/big/…\` as service_role, raw body sent by Bun from a file; download: one GET, read to the end.`,
    "- The disk's own speed, on the same file system: `dd` writing the same size with `conv=fdatasync`, then reading it back with",
    "  `iflag=direct` (from the disk) and without (from the page cache; a download of a just-written file is served from there too).",
    "- Peak RSS growth: the server's VmHWM after the transfer minus its VmRSS before it, the peak reset through /proc/<pid>/clear_refs.",
    `- Small uploads: ${f.small.clients} concurrent clients for ${fmt(f.small.seconds, 0)} s, 4 KiB each, as an authenticated user into their own folder,`,
    '  with insert and select policies on storage.objects (Supabase\'s "own folder" pattern).',
    "",
    table(
      ["Measurement", "Result", "Goal"],
      [
        [
          `upload ${size}`,
          `${fmt(f.upload.mibPerS)} MiB/s vs \`dd\` write + fdatasync ${fmt(f.dd.write)} MiB/s (**${pct(f.upload.mibPerS / f.dd.write)}**)`,
          GOALS.storageUploadShare.goal,
        ],
        [
          `download ${size}`,
          `${fmt(f.download.mibPerS)} MiB/s vs \`dd\` read (O_DIRECT) ${fmt(f.dd.readDirect)} MiB/s (**${pct(f.download.mibPerS / f.dd.readDirect)}**); vs \`dd\` from the page cache ${fmt(f.dd.readCached)} MiB/s (${pct(f.download.mibPerS / f.dd.readCached)})`,
          GOALS.storageDownloadShare.goal,
        ],
        ["peak RSS growth during upload / download", `${fmt(f.upload.rssGrowthMb)} MB / ${fmt(f.download.rssGrowthMb)} MB`, GOALS.storageRssGrowthMb.goal],
        [
          `4 KiB uploads, ${f.small.clients} concurrent clients, authenticated user, policies on`,
          `${fmt(f.small.perSecond, 0)}/s (${f.small.done.toLocaleString("en-US")} uploads, ${f.small.refused} refused)`,
          "report",
        ],
      ],
    ),
    "",
  ].join("\n");
}

async function measure(ctx: BenchContext): Promise<StorageFigures> {
  const mib = ctx.quick ? 64 : 1024;
  const bytes = mib * MiB;
  const dir = mkdtempSync(join(process.env.PLINTH_BENCH_DIR ?? tmpdir(), "plinth-bench-storage-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(BUN, [join(ROOT, "bench/storage.ts"), "--server", String(port), dir], { stdio: ["ignore", "inherit", "inherit"] });
  const pid = child.pid!;
  const now = Math.floor(Date.now() / 1000);
  const service = await signJwt({ role: "service_role", iat: now, exp: now + 3600 }, SECRET);
  const userId = "44444444-4444-4444-8444-444444444444";
  const user = await signJwt({ role: "authenticated", sub: userId, iat: now, exp: now + 3600 }, SECRET);
  const H = { Authorization: `Bearer ${service}` };
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
    ctx.progress(`storage: dd, then ${mib} MiB up and down through Plinth`);
    const ddWrite = await dd(["if=/dev/zero", `of=${ddFile}`, "bs=1M", `count=${mib}`, "conv=fdatasync"]);
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
    if (got !== bytes) throw new Error(`download returned ${got} bytes`);
    const downPeak = hwm() - rssBeforeDown;

    const thr = (s: number) => mib / s;
    rmSync(ddFile, { force: true });
    await fetch(`${url}/storage/v1/object/big`, {
      method: "DELETE",
      headers: { ...H, "content-type": "application/json" },
      body: JSON.stringify({ prefixes: ["1gib.bin"] }),
    });

    // --- 4 KiB uploads per second, as a user, policies on ---
    const body = new Uint8Array(4096).fill(120);
    const userH = { Authorization: `Bearer ${user}`, "content-type": "application/octet-stream" };
    const concurrency = 8;
    const durationMs = ctx.quick ? 2_000 : 10_000;
    ctx.progress(`storage: 4 KiB uploads for ${durationMs / 1000} s`);
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
    return {
      mib,
      upload: { mibPerS: thr(upSecs), rssGrowthMb: upPeak },
      download: { mibPerS: thr(downSecs), rssGrowthMb: downPeak },
      dd: { write: thr(ddWrite), readDirect: thr(ddReadDirect), readCached: thr(ddRead) },
      small: { perSecond: done / secs, done, refused: failed, clients: concurrency, seconds: secs },
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}
