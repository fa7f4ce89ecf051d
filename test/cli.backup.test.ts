// `plinth backup` and `plinth restore` as subprocesses, against a real `plinth serve` with its own
// embedded PostgreSQL: a backup taken while the server runs and writes continue, the data dir and
// the configuration file wiped, a restore, and the restarted server compared with what was written
// (rows, stored files, and the API keys, which come from the restored jwt_secret). Also: a damaged
// archive is refused before anything is touched, a non-empty data dir needs --force, wrong usage
// exits 2, --json's shape, and PLINTH_DB_URL leaves the database to the operator. Last, the running
// server takes one through the admin API (/admin/v1/backups) and cancels a running one at shutdown.
import { afterAll, expect, test } from "bun:test";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { readArchive } from "../src/backup/archive-reader.ts";
import { silentProgress } from "../src/backup/progress.ts";
import { apiKeys } from "../src/lib/jwt.ts";
import { TEST_DATA_DIR } from "./support/db.ts";
import { cleanEnv, MAIN, startServe, type ServeProcess } from "./support/serve-process.ts";

const MiB = 1024 * 1024;
const BUCKET = "keep";
const MARKER = "plinth-backup-test-marker:";

await mkdir(TEST_DATA_DIR, { recursive: true });
const home = await mkdtemp(join(TEST_DATA_DIR, "backup-"));
await chmod(home, 0o755);
const dataDir = join(home, "data");
const configFile = join(home, "plinth.yaml");
// A configuration file the backup carries and the restore puts back (with the data dir it names).
const CONFIG_TEXT = `dataDir: ./data\nlog:\n  level: warn\nauth:\n  siteUrl: http://restored.example\n`;
await writeFile(configFile, CONFIG_TEXT, { mode: 0o600 });
const clean = cleanEnv();

afterAll(() => rm(home, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `bun src/main.ts …` with a clean PLINTH_* environment plus `env`, from `cwd`. */
async function plinth(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: opts.cwd ?? home,
    env: { ...clean, ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

type Server = ServeProcess;

const startServer = (): Promise<Server> => startServe({ cwd: home, env: clean });

async function stopServer(s: Server): Promise<void> {
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
}

/** The embedded cluster's superuser, from the data dir's pg.json (as `serve` wrote it). */
async function superuser(): Promise<postgres.Sql> {
  const { port, password } = JSON.parse(await readFile(join(dataDir, "pg.json"), "utf8")) as { port: number; password: string };
  return postgres(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`, { max: 1, onnotice: () => {} });
}

/** Deterministic bytes (a corrupted or truncated copy cannot pass) that start with a findable marker. */
function content(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >>> 11)) & 0xff;
  const marker = new TextEncoder().encode(`${MARKER}${seed}:`);
  out.set(marker.subarray(0, size), 0);
  return out;
}

const sha = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

let keys: Awaited<ReturnType<typeof apiKeys>>;
const auth = () => ({ apikey: keys.service_role, authorization: `Bearer ${keys.service_role}` });
const preRows = new Map<number, string>();
const preFiles = new Map<string, string>(); // name → sha256
const uploaded = new Map<string, string>(); // every upload attempted during the backup: name → sha256
const attemptedIds = new Set<number>();
let archive = "";

async function upload(base: string, name: string, bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const res = await fetch(`${base}/storage/v1/object/${BUCKET}/${name}`, {
    method: "POST",
    headers: { ...auth(), "content-type": "application/octet-stream" },
    body: bytes,
  });
  await res.arrayBuffer();
  return res.status;
}

async function download(base: string, name: string): Promise<{ status: number; sha: string }> {
  const res = await fetch(`${base}/storage/v1/object/${BUCKET}/${name}`, { headers: auth() });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, sha: sha(body) };
}

test("backup while serving and writing, wipe, restore, restart: rows, files and keys are back", async () => {
  const first = await startServer();
  keys = await apiKeys((await readFile(join(dataDir, "jwt_secret"), "utf8")).trim());

  // Rows (a few MiB of them) and stored files before the backup.
  const su = await superuser();
  await su.unsafe(`create table public.items (id bigint primary key, body text not null);
    grant all on public.items to service_role; notify pgrst, 'reload schema'`);
  await su`insert into public.items select g, repeat(md5(g::text), 8) from generate_series(1, 20000) g`;
  for (const r of await su<{ id: string; body: string }[]>`select id, body from public.items`) preRows.set(Number(r.id), r.body);
  await su.end();
  const bucket = await fetch(`${first.base}/storage/v1/bucket`, {
    method: "POST",
    headers: { ...auth(), "content-type": "application/json" },
    body: JSON.stringify({ id: BUCKET, name: BUCKET }),
  });
  expect(bucket.status).toBe(200);
  for (const [i, size] of [
    [1, 3 * MiB + 17],
    [2, 100_000],
    [3, 0],
    [4, 5000],
  ] as const) {
    const bytes = content(size, i);
    expect(await upload(first.base, `pre/${i}.bin`, bytes)).toBe(200);
    preFiles.set(`pre/${i}.bin`, sha(bytes));
  }
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${first.base}/rest/v1/items?select=id&limit=1`, { headers: auth() })).status === 200) break;
    await Bun.sleep(50);
  }

  // Writes go on while the backup runs: REST inserts and uploads.
  let writing = true;
  let acked = 0;
  const writer = (async () => {
    for (let n = 0; writing; n++) {
      const id = 100_000 + n;
      attemptedIds.add(id);
      const res = await fetch(`${first.base}/rest/v1/items`, {
        method: "POST",
        headers: { ...auth(), "content-type": "application/json" },
        body: JSON.stringify({ id, body: `during-${id}` }),
      });
      if (res.status === 201) acked++;
      await res.arrayBuffer();
      if (n % 5 === 0) {
        const bytes = content(20_000 + n, 1000 + n);
        uploaded.set(`during/${n}.bin`, sha(bytes));
        await upload(first.base, `during/${n}.bin`, bytes);
      }
    }
  })();
  while (acked < 20) await Bun.sleep(10);

  const backup = await plinth(["backup", "--out", "snap.tar", "--json"]);
  expect(backup.stderr).toBe("");
  expect(backup.code).toBe(0);
  const result = JSON.parse(backup.stdout) as Record<string, unknown>;
  expect(Object.keys(result).sort()).toEqual(["bytes", "database", "duration_ms", "file", "files", "storage"]);
  expect(result).toMatchObject({ file: join(home, "snap.tar"), database: "embedded", storage: "local" });
  archive = result.file as string;
  expect(result.bytes).toBe((await stat(archive)).size);
  expect(result.files as number).toBeGreaterThan(500);
  // Recorded where `plinth doctor` looks for the last backup (backup_age).
  const record = JSON.parse(await readFile(join(dataDir, "backups.json"), "utf8")) as { file: string; created_at: string }[];
  expect(record.at(-1)!.file).toBe(archive);
  expect(Date.now() - Date.parse(record.at(-1)!.created_at)).toBeLessThan(120_000);
  const ackedDuringBackup = acked;
  writing = false;
  await writer;
  expect(ackedDuringBackup).toBeGreaterThan(20);
  await stopServer(first);

  // Wipe: the data dir and the configuration file.
  await rm(dataDir, { recursive: true, force: true });
  await rm(configFile);
  const restore = await plinth(["restore", archive, "--json"]);
  expect(restore.code).toBe(0);
  const restored = JSON.parse(restore.stdout) as Record<string, unknown>;
  expect(restored).toMatchObject({ file: archive, data_dir: dataDir, database: "embedded", storage: "local", files: result.files });
  expect(await readFile(configFile, "utf8")).toBe(CONFIG_TEXT);
  expect((await stat(configFile)).mode & 0o777).toBe(0o600);
  expect(existsSync(join(dataDir, "pg", "backup_label"))).toBe(false); // recovery ran (it is renamed .old)

  // The restarted server: same keys (jwt_secret restored), the rows, the files.
  const second = await startServer();
  const su2 = await superuser();
  const rows = new Map((await su2<{ id: string; body: string }[]>`select id, body from public.items`).map((r) => [Number(r.id), r.body]));
  const objects = (await su2<{ name: string }[]>`select name from storage.objects where bucket_id = ${BUCKET}`).map((o) => o.name);
  await su2.end();
  for (const [id, body] of preRows) expect(rows.get(id)).toBe(body);
  const during = [...rows.keys()].filter((id) => id >= 100_000);
  expect(during.length).toBeGreaterThan(0); // some writes during the backup made it in…
  for (const id of during) expect(attemptedIds.has(id)).toBe(true); // …and nothing else did
  expect(rows.size).toBe(preRows.size + during.length);

  const viaRest = await fetch(`${second.base}/rest/v1/items?select=id&id=lte.3&order=id`, { headers: auth() });
  expect(viaRest.status).toBe(200);
  expect(await viaRest.json()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  for (const [name, digest] of preFiles) expect(await download(second.base, name)).toEqual({ status: 200, sha: digest });
  // Every object the restored database lists has its bytes (consistency of files and rows).
  for (const name of objects.filter((n) => n.startsWith("during/"))) {
    expect(await download(second.base, name)).toEqual({ status: 200, sha: uploaded.get(name)! });
  }
  await stopServer(second);
}, 90_000);

test("a damaged archive is refused, and the data dir stays as it was", async () => {
  const bytes = new Uint8Array(await readFile(archive));
  const at = Buffer.from(bytes.buffer).indexOf(`${MARKER}1:`); // inside pre/1.bin's content
  expect(at).toBeGreaterThan(0);
  bytes[at + 1000]! ^= 0x01;
  const damaged = join(home, "damaged.tar");
  await writeFile(damaged, bytes);
  const before = await snapshot(dataDir);

  const run = await plinth(["restore", damaged, "--force"]);
  expect(run.code).toBe(1);
  expect(run.stderr.trim().split("\n")).toHaveLength(1);
  expect(run.stderr).toContain("storage/objects/");
  expect(run.stderr).toContain("checksum");
  expect(await snapshot(dataDir)).toEqual(before);
  expect((await readdir(home)).filter((n) => n.includes(".restore-"))).toEqual([]);

  // A truncated archive (no manifest) too, into a fresh data dir that is then not left behind.
  const other = join(home, "other");
  await mkdir(other);
  await writeFile(join(other, "cut.tar"), bytes.subarray(0, Math.floor(bytes.length / 2)));
  const cut = await plinth(["restore", "cut.tar"], { cwd: other, env: { PLINTH_DATA_DIR: join(other, "data") } });
  expect(cut.code).toBe(1);
  expect(cut.stderr.trim().split("\n")).toHaveLength(1);
  expect(existsSync(join(other, "data"))).toBe(false);
  expect(await readdir(other)).toEqual(["cut.tar"]);
}, 30_000);

test("restore refuses a non-empty data dir without --force", async () => {
  const before = await snapshot(dataDir);
  const run = await plinth(["restore", archive]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain("--force");
  expect(run.stderr.trim().split("\n")).toHaveLength(1);
  expect(await snapshot(dataDir)).toEqual(before);
}, 30_000);

test("wrong usage exits 2 with a reason", async () => {
  for (const args of [
    ["backup", "extra"],
    ["backup", "--bogus"],
    ["backup", "--out"],
    ["restore"],
    ["restore", "a.tar", "b.tar"],
    ["restore", "a.tar", "--out", "x"],
  ]) {
    const run = await plinth(args);
    expect({ args, code: run.code }).toEqual({ args, code: 2 });
    expect(run.stderr).toStartWith("plinth: ");
    expect(run.stdout).toBe("");
  }
  const missing = await plinth(["restore", "no-such.tar"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("no such file");
}, 30_000);

test("with PLINTH_DB_URL the database is the operator's: stored files and configuration only (gzipped)", async () => {
  const run = await plinth(["backup", "--gzip", "--no-sync", "--out", "ext.tar.gz", "--json"], {
    env: { PLINTH_DB_URL: "postgres://nobody@127.0.0.1:1/none" },
  });
  expect(run.code).toBe(0);
  expect(run.stderr).toContain("operator's");
  expect(run.stderr.trim().split("\n")).toHaveLength(1);
  const r = JSON.parse(run.stdout) as { database: string; files: number; file: string };
  expect(r.database).toBe("external");
  expect([...(await readFile(r.file)).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
  const listing = new TextDecoder()
    .decode(Bun.spawnSync(["tar", "-tzf", r.file]).stdout)
    .trim()
    .split("\n");
  expect(listing.some((n) => n.startsWith("pg/"))).toBe(false);
  expect(listing).toContain("config/plinth.yaml");
  expect(listing).toContain("data/jwt_secret");
  expect(listing.filter((n) => n.startsWith("storage/objects/") && !n.endsWith("/")).length).toBeGreaterThanOrEqual(preFiles.size);
  expect(listing.at(-1)).toBe("manifest.json");

  // Restored elsewhere, still with PLINTH_DB_URL: the archived plinth.yaml becomes the one in use
  // (its dataDir, ./data, now under the new directory) and the stored files are back.
  const elsewhere = join(home, "elsewhere");
  await mkdir(elsewhere);
  const back = await plinth(["restore", r.file], { cwd: elsewhere, env: { PLINTH_DB_URL: "postgres://nobody@127.0.0.1:1/none" } });
  expect(back.code).toBe(0);
  expect(back.stderr).toContain("operator's");
  expect(await readFile(join(elsewhere, "plinth.yaml"), "utf8")).toBe(CONFIG_TEXT);
  expect(await readFile(join(elsewhere, "data", "jwt_secret"), "utf8")).toBe(await readFile(join(dataDir, "jwt_secret"), "utf8"));
  const objects = await readdir(join(elsewhere, "data", "storage", "objects"), { recursive: true });
  expect(objects.length).toBeGreaterThanOrEqual(preFiles.size);
  expect(existsSync(join(elsewhere, "data", "pg"))).toBe(false);
}, 30_000);

test("a running `plinth serve` takes one through the admin API (the config file it read included), and cancels one at shutdown", async () => {
  const server = await startServer();
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${server.base}/admin/v1${path}`, {
      method,
      headers: { ...auth(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const job = async () => (await (await call("GET", "/backups/current")).json()) as { state: string; file: string; phase: string; bytes_total: number };
  const started = await call("POST", "/backups", {});
  expect(started.status).toBe(202);
  const { file } = (await started.json()) as { file: string };
  let state = await job();
  for (const end = Date.now() + 60_000; state.state === "running" && Date.now() < end; state = await job()) await Bun.sleep(50);
  expect(state.state).toBe("done");
  // The serving process attached to the embedded server it owns: a whole base backup, and the
  // configuration file `serve` read, as `plinth backup` takes them.
  const { manifest, memory } = await readArchive(join(dataDir, "backups", file), async () => ({ to: "memory" }), silentProgress);
  expect(manifest.database).toBe("embedded");
  expect(manifest.files.some((f) => f.path === "pg/backup_label")).toBe(true);
  expect(memory.get("config/plinth.yaml")?.toString()).toBe(CONFIG_TEXT);

  // A paced backup still running when the server is told to stop: cancelled, nothing left behind.
  expect((await call("POST", "/backups", { max_rate: 32 * 1024 })).status).toBe(202);
  for (let s = await job(); !(s.phase === "database" && s.bytes_total > 1_000_000); s = await job()) await Bun.sleep(20); // mid-copy
  await stopServer(server);
  expect((await readdir(join(dataDir, "backups"))).filter((n) => n !== file)).toEqual([]);
}, 90_000);

/** Every path under `dir` with its size and mtime: equal snapshots mean nothing was touched. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = await stat(p);
      out.push(`${rel}${e.name} ${e.isDirectory() ? "dir" : st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) await walk(p, `${rel}${e.name}/`);
    }
  };
  await walk(dir, "");
  return out.sort();
}
