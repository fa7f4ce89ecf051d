// A real `plinth serve` process killed with SIGKILL in the middle of a streamed upload: no row, no
// visible object, the same name still free after a restart, and the temporary bytes left behind
// are removed by the sweeper (and only once they are older than its grace period).
import { afterAll, expect, test } from "bun:test";
import { chmod, mkdir, mkdtemp, readdir, rm, stat, utimes } from "node:fs/promises";
import { join, resolve } from "node:path";
import { apiKeys } from "../src/lib/jwt.ts";
import { createLogger } from "../src/log.ts";
import { createLocalBackend } from "../src/storage/backends/local.ts";
import { sweep } from "../src/storage/sweeper.ts";
import { freshDatabase, TEST_DATA_DIR } from "./support/db.ts";
import { cleanEnv, liveServers, startServe, type ServeProcess } from "./support/serve-process.ts";

const SECRET = "crash-test-secret-crash-test-secret-0123";
const KEYS = await apiKeys(SECRET);
const AUTH = { apikey: KEYS.service_role, authorization: `Bearer ${KEYS.service_role}` };
const BUCKET = "crash";
const NAME = "big.bin";
const MiB = 1024 * 1024;

const tdb = await freshDatabase();
await mkdir(TEST_DATA_DIR, { recursive: true });
const home = await mkdtemp(join(TEST_DATA_DIR, "crash-"));
await chmod(home, 0o755);
const dataDir = join(home, "data");
await mkdir(dataDir, { mode: 0o755 });
const storageRoot = join(dataDir, "storage"); // the local backend's default: <dataDir>/storage
const clean = cleanEnv();

afterAll(() => rm(home, { recursive: true, force: true }));

/** `plinth serve` as a child process on the shared data dir and database, once /health says 200. */
const startServer = (): Promise<ServeProcess> =>
  startServe({
    cwd: home, // no plinth.yaml, .env or bunfig here
    env: { ...clean, PLINTH_DB_URL: tdb.url, PLINTH_DATA_DIR: dataDir, PLINTH_JWT_SECRET: SECRET, PLINTH_LOG_LEVEL: "warn" },
    timeoutMs: 10_000,
  });

/** Complete objects (<root>/objects/<fan>/<version>) and temporaries (<root>/tmp/<uuid>) on disk. */
async function files(): Promise<{ objects: string[]; tmp: string[] }> {
  const objects: string[] = [];
  for (const fan of await readdir(join(storageRoot, "objects")).catch(() => [] as string[])) {
    for (const f of await readdir(join(storageRoot, "objects", fan))) objects.push(join("objects", fan, f));
  }
  return { objects, tmp: await readdir(join(storageRoot, "tmp")).catch(() => [] as string[]) };
}

const rowsNamed = async (name: string) =>
  (await tdb.db.sql<{ name: string }[]>`select name from storage.objects where bucket_id = ${BUCKET} and name = ${name}`).length;

/** Deterministic bytes so a corrupted or truncated read-back cannot pass. */
function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed + (i >>> 12)) & 0xff;
  return out;
}

test("SIGKILL mid-upload: no row, no object, name free after restart, temp bytes swept", async () => {
  // --- First server: a bucket, then an upload that sends 4 MiB and stalls. ---
  const first = await startServer();
  const created = await fetch(`${first.base}/storage/v1/bucket`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify({ id: BUCKET, name: BUCKET, public: false }),
  });
  expect(created.status).toBe(200);
  expect(await files()).toEqual({ objects: [], tmp: [] });

  let sent = 0;
  let release!: () => void;
  const stalled = new Promise<void>((r) => (release = r));
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent < 4 * MiB) {
        controller.enqueue(pattern(64 * 1024, sent));
        sent += 64 * 1024;
        return;
      }
      await stalled; // never more bytes: the server is killed while it waits for them
      try {
        controller.close();
      } catch {}
    },
  });
  const upload = fetch(`${first.base}/storage/v1/object/${BUCKET}/${NAME}`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/octet-stream" },
    body,
    duplex: "half",
  } as RequestInit).then(
    (r) => ({ status: r.status }),
    (err: unknown) => ({ error: err }),
  );

  // Wait until the server has written received bytes to a temporary file, then kill it.
  let partial = 0;
  for (let i = 0; i < 200 && partial === 0; i++) {
    const [tmp] = (await files()).tmp;
    if (tmp) partial = (await stat(join(storageRoot, "tmp", tmp)).catch(() => null))?.size ?? 0;
    if (partial === 0) await Bun.sleep(25);
  }
  expect(partial).toBeGreaterThan(0);
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  expect(first.proc.signalCode).toBe("SIGKILL");
  const outcome = await Promise.race([upload, Bun.sleep(5000).then(() => ({ timeout: true }))]);
  release();
  expect(outcome).not.toHaveProperty("status"); // the client saw the connection die, not a reply
  expect(outcome).not.toHaveProperty("timeout");

  // --- After the crash: no row, no complete object; only the partial temporary file. ---
  expect(await rowsNamed(NAME)).toBe(0);
  const crashed = await files();
  expect(crashed.objects).toEqual([]);
  expect(crashed.tmp).toHaveLength(1);
  const leftover = join(storageRoot, "tmp", crashed.tmp[0]!);
  expect((await stat(leftover)).size).toBeLessThan(4 * MiB + 1);

  // --- Restart on the same data dir and database: the object does not exist. ---
  const second = await startServer();
  const api = `${second.base}/storage/v1`;
  const missing = await fetch(`${api}/object/${BUCKET}/${NAME}`, { headers: AUTH });
  expect(missing.status).toBe(400);
  expect(await missing.json()).toMatchObject({ statusCode: "404", code: "NoSuchKey" });
  const listed = await fetch(`${api}/object/list/${BUCKET}`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify({ prefix: "" }),
  });
  expect(listed.status).toBe(200);
  expect(await listed.json()).toEqual([]);

  // The same name uploads again (streamed, larger than the lost one) and reads back intact.
  const data = pattern(5 * MiB + 123, 7);
  let offset = 0;
  const again = await fetch(`${api}/object/${BUCKET}/${NAME}`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/octet-stream" },
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= data.length) return controller.close();
        controller.enqueue(data.subarray(offset, offset + 256 * 1024));
        offset += 256 * 1024;
      },
    }),
    duplex: "half",
  } as RequestInit);
  expect(again.status).toBe(200);
  expect(await rowsNamed(NAME)).toBe(1);
  const afterUpload = await files();
  expect(afterUpload.objects).toHaveLength(1);
  expect(afterUpload.tmp).toEqual(crashed.tmp); // the restart itself removed nothing

  // --- The sweeper, against the same data dir and database. ---
  const ctx = {
    db: tdb.db,
    backend: await createLocalBackend(storageRoot),
    secret: SECRET,
    log: createLogger("silent"),
    globalFileSizeLimit: 1e12,
  };
  // Within the grace period (an upload could still be writing it) the temporary file is kept.
  expect(await sweep(ctx)).toEqual({ orphans: 0, temporary: 0, uploads: 0 });
  expect(
    await stat(leftover).then(
      () => true,
      () => false,
    ),
  ).toBe(true);
  // Once older than the grace period it goes; the committed object, as old, stays.
  const old = new Date(Date.now() - 2 * 3600_000);
  await utimes(leftover, old, old);
  await utimes(join(storageRoot, afterUpload.objects[0]!), old, old);
  expect(await sweep(ctx, 3600_000)).toEqual({ orphans: 0, temporary: 1, uploads: 0 });
  expect(await files()).toEqual({ objects: afterUpload.objects, tmp: [] });

  const read = await fetch(`${api}/object/${BUCKET}/${NAME}`, { headers: AUTH });
  expect(read.status).toBe(200);
  const got = new Uint8Array(await read.arrayBuffer());
  expect(got.length).toBe(data.length);
  expect(Buffer.compare(got, data)).toBe(0);

  // --- A clean stop: SIGTERM, exit 0, nothing left running. ---
  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);
  expect(liveServers()).toBe(0);
  expect(await second.stderr).not.toContain("error");
}, 20_000);
