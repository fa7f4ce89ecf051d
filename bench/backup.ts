// Backup benchmark (issue 13: "`plinth backup` of a 1 GiB database runs at ≥ 50 % of `tar` of the
// same data dir"). Run alone: `bun bench/backup.ts [--quick]` (prints, writes nothing); bench/run.ts
// can call runBackup(ctx) like the others.
//
// It starts an embedded PostgreSQL in a temporary data dir (this process owns it, as `serve` would),
// fills one table with ~1 GiB of rows (generate_series) with a small max_wal_size and no WAL
// recycling, so pg_wal ends up the size of a live server's rather than holding a gigabyte of the
// load's segments (both sides then copy about the same bytes). Then, alternating, with the page
// cache warm for both and a `sync` before each run:
//   - `plinth backup --out X` as a subprocess, attaching to the running server (an online backup:
//     pg_backup_start, the copy with sha256 of every file, pg_backup_stop, the WAL, fsync, rename),
//     and the same with --no-sync;
//   - `tar -cf X -C <dataDir> .` of the same data dir, and the same followed by `sync X`.
// tar does not fsync and plinth backup does by default, so the verdict compares like for like:
// durable against durable and --no-sync against plain tar (elapsed time, the measure); the
// default against plain tar is reported too. Quick mode: 64 MiB, one run.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startEmbedded } from "../src/db/embedded/supervisor.ts";
import { BUN, fmt, median, ROOT } from "./lib.ts";
import { pct, table, verdict, type BenchContext, type Outcome } from "./outcome.ts";

const MiB = 1024 ** 2;
const GOAL = 0.5;

if (import.meta.main) {
  const r = await runBackup({ quick: process.argv.includes("--quick"), progress: (s) => process.stderr.write(`${s}\n`) });
  console.log([r.body, "", ...r.lines, ...r.warnings.map((w) => `warning: ${w}`)].join("\n"));
  if (!r.ok) process.exitCode = 1;
}

interface Timed {
  seconds: number;
  bytes: number;
  /** plinth backup only: the time its own takeBackup reported (without starting bun). */
  inProcess?: number;
}

interface BackupFigures {
  dbBytes: number;
  dataDirBytes: number;
  loadSeconds: number;
  runs: number;
  plinth: Timed[];
  plinthNoSync: Timed[];
  plinthGzip: Timed | null;
  tar: Timed[];
  tarSync: Timed[];
}

export async function runBackup(ctx: BenchContext): Promise<Outcome> {
  const f = await measure(ctx);
  const time = (xs: Timed[]) => median(xs.map((x) => x.seconds));
  const mib = (xs: Timed[]) => median(xs.map((x) => x.bytes)) / MiB;
  // The measure: elapsed time of `tar` over elapsed time of `plinth backup`, same data dir.
  // Like for like: durable against durable, and --no-sync against tar as it is (no fsync).
  const durable = time(f.tarSync) / time(f.plinth);
  const plain = time(f.tar) / time(f.plinthNoSync);
  const strict = time(f.tar) / time(f.plinth);
  const size = `${fmt(f.dbBytes / 1024 ** 3, 2)} GiB`;
  // MiB/s of data dir bytes per second for the gzipped archive, whose own size says little.
  const row = (name: string, xs: Timed[], rate = mib(xs) / time(xs)) => [
    name,
    fmt(time(xs), 2),
    fmt(mib(xs), 0),
    fmt(rate, 0),
    xs[0]?.inProcess === undefined ? "" : fmt(median(xs.map((x) => x.inProcess!)), 2),
  ];
  const rows: string[][] = [
    row("plinth backup (sha256 of every file, fsync)", f.plinth),
    row("tar -cf, then sync FILE", f.tarSync),
    row("plinth backup --no-sync", f.plinthNoSync),
    row("tar -cf", f.tar),
  ];
  if (f.plinthGzip) rows.push(row("plinth backup --gzip (level 1, fsync; MiB/s of the data dir)", [f.plinthGzip], f.dataDirBytes / MiB / f.plinthGzip.seconds));
  const body = [
    `A database of ${size} (pg_database_size; data dir ${fmt(f.dataDirBytes / MiB, 0)} MiB after the load's WAL was dropped), loaded in ${fmt(f.loadSeconds, 1)} s. ` +
      `Median of ${f.runs} alternating runs each, page cache warm, \`sync\` before every run, the server running (the backup attaches to it, as it would to \`plinth serve\`).`,
    "",
    table(["", "seconds", "archive MiB", "MiB/s", "of which takeBackup (s)"], rows),
    "",
    `tar time / plinth time: ${pct(durable)} durable against durable (fsync on both), ${pct(plain)} without fsync on either, ` +
      `${pct(strict)} for the default \`plinth backup\` (fsync) against \`tar -cf\` (none). ` +
      "plinth's time includes starting Bun, attaching to the server, pg_backup_start's checkpoint and pg_backup_stop.",
  ].join("\n");
  const ok = durable >= GOAL && plain >= GOAL;
  return {
    ok: true,
    summary: [
      [
        `Backup: plinth backup of a ${size} database / tar of the same data dir (elapsed, like for like)`,
        `${pct(durable)} with fsync, ${pct(plain)} without (${pct(strict)} fsync vs none)`,
        "≥ 50 %",
        verdict(ok),
      ],
    ],
    body,
    lines: [
      `database ${size}: plinth backup ${fmt(time(f.plinth), 2)} s vs tar+sync ${fmt(time(f.tarSync), 2)} s (${pct(durable)}); ` +
        `--no-sync ${fmt(time(f.plinthNoSync), 2)} s vs tar ${fmt(time(f.tar), 2)} s (${pct(plain)}); fsync vs none ${pct(strict)}`,
      ...(f.plinthGzip ? [`--gzip: ${fmt(f.plinthGzip.seconds, 2)} s, archive ${fmt(f.plinthGzip.bytes / MiB, 0)} MiB`] : []),
    ],
    warnings: ok ? [] : [`plinth backup ran at ${pct(durable)} (fsync) / ${pct(plain)} (no fsync) of tar (goal ≥ 50 %)`],
  };
}

async function measure(ctx: BenchContext): Promise<BackupFigures> {
  const home = mkdtempSync(join(tmpdir(), "plinth-bench-backup-"));
  chmodSync(home, 0o755); // the embedded server's OS user must reach the cluster when we are root
  const dataDir = join(home, "data");
  const out = join(home, "out");
  const server = await startEmbedded({ dataDir, supervise: false });
  try {
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    const targetBytes = (ctx.quick ? 64 : 1024) * MiB;
    ctx.progress(`backup: loading ${fmt(targetBytes / MiB, 0)} MiB into a fresh cluster…`);
    const t0 = performance.now();
    // Frequent checkpoints that remove old WAL rather than recycle it: pg_wal stays the size of a
    // live server's instead of keeping a gigabyte of the load's segments, so both sides copy about
    // the same bytes and elapsed time compares like throughput.
    await sql`alter system set max_wal_size = '96MB'`;
    await sql`alter system set wal_recycle = off`;
    await sql`select pg_reload_conf()`;
    await sql`set synchronous_commit = off`;
    await sql`create table filler (id bigint, pad text)`;
    // ~1 KB rows, 8 per page: 1 GiB is about 1.05 million rows. In steps, so the size can be watched.
    const step = 100_000;
    for (let from = 1; ; from += step) {
      await sql`insert into filler select g, repeat(md5(g::text), 30) from generate_series(${from}::bigint, ${from + step - 1}::bigint) g`;
      const [row] = await sql<{ size: string }[]>`select pg_database_size(current_database())::text as size`;
      if (Number(row!.size) >= targetBytes) break;
    }
    await sql`checkpoint`;
    const [row] = await sql<{ size: string }[]>`select pg_database_size(current_database())::text as size`;
    const size = row!.size;
    await sql.end();
    const loadSeconds = (performance.now() - t0) / 1000;
    const dataDirBytes = duBytes(dataDir);
    ctx.progress(`backup: database ${fmt(Number(size) / MiB, 0)} MiB, data dir ${fmt(dataDirBytes / MiB, 0)} MiB (loaded in ${fmt(loadSeconds, 1)} s)`);

    // Warm the page cache for both sides alike. Through a pipe: GNU tar skips reading the files
    // when its archive is /dev/null.
    spawnSync("sh", ["-c", 'tar -cf - -C "$0" . | cat > /dev/null', dataDir]);
    const env = { ...cleanEnv(), PLINTH_DATA_DIR: dataDir };
    const runs = ctx.quick ? 1 : 3;
    const figures: BackupFigures = {
      dbBytes: Number(size),
      dataDirBytes,
      loadSeconds,
      runs,
      plinth: [],
      plinthNoSync: [],
      plinthGzip: null,
      tar: [],
      tarSync: [],
    };
    const backup = (args: string[], file: string): Timed => {
      let inProcess = 0;
      const t = timed(() => {
        inProcess = (JSON.parse(run([BUN, join(ROOT, "src", "main.ts"), "backup", "--json", ...args, "--out", file], env)) as { duration_ms: number })
          .duration_ms;
      }, file);
      return { ...t, inProcess: inProcess / 1000 };
    };
    const tarRun = (sync: boolean): Timed =>
      timed(() => {
        run(["tar", "-cf", `${out}.tar`, "-C", dataDir, "."], env, [0, 1]);
        if (sync) run(["sync", `${out}.tar`], env);
      }, `${out}.tar`);
    for (let i = 0; i < runs; i++) {
      figures.plinth.push(backup([], `${out}.tar`));
      figures.tarSync.push(tarRun(true));
      figures.plinthNoSync.push(backup(["--no-sync"], `${out}.tar`));
      figures.tar.push(tarRun(false));
      const s = (x: Timed[]) => `${fmt(x.at(-1)!.seconds, 2)} s`;
      ctx.progress(
        `backup: run ${i + 1}/${runs}: plinth ${s(figures.plinth)}, tar+sync ${s(figures.tarSync)}, plinth --no-sync ${s(figures.plinthNoSync)}, tar ${s(figures.tar)}`,
      );
    }
    if (!ctx.quick) {
      figures.plinthGzip = backup(["--gzip"], `${out}.tar.gz`);
    }
    return figures;
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Runs `fn` after a `sync` (no writeback of the previous run in this one), returns seconds and the file's size, then removes it. */
function timed(fn: () => void, file: string): Timed {
  spawnSync("sync");
  const t = performance.now();
  fn();
  const seconds = (performance.now() - t) / 1000;
  const bytes = statSync(file).size;
  rmSync(file, { force: true });
  spawnSync("sync");
  return { seconds, bytes };
}

function run(argv: string[], env: Record<string, string>, okCodes = [0]): string {
  // tar exits 1 when a file changed while it read it: expected of a live cluster.
  const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`${argv.slice(0, 3).join(" ")} failed (${r.status}): ${r.stderr?.toString().trim()}`);
  return r.stdout.toString();
}

function duBytes(dir: string): number {
  const r = spawnSync("du", ["-sb", dir]);
  return Number(r.stdout.toString().split(/\s/)[0]);
}

function cleanEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => !e[0].startsWith("PLINTH_") && e[1] !== undefined));
}
