// The console's backups screen against a real admin plane (in-process, its database the test
// server's, so the archive holds the data dir's files and the stored objects): a backup refused at
// the confirmation starts nothing; one confirmed runs to "done" and appears in the list; a backup
// running on the server (paced with max_rate, so it is still running whatever the machine's speed)
// is shown live with its phase, a bar and bytes that grow, kept when the cancel is refused (Esc, n),
// and cancelled after x and y (no archive or partial file left); d deletes after y; an archive gone
// behind the console's back gives the server's message and code; an admin below system_admin
// cannot open the screen.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminApp } from "./support/admin.ts";
import { consoleHarness, fitsWidth, KEY } from "./support/tui.tsx";

const MiB = 1024 * 1024;
const dataDir = await mkdtemp(join(tmpdir(), "plinth-tui-backups-"));
// A stored object of 4 MiB: at 256 KiB/s a paced backup copies it for 16 s unless cancelled.
const objects = join(dataDir, "storage", "objects", "bucket", "ab");
await mkdir(objects, { recursive: true });
await writeFile(join(objects, "object-1"), Buffer.alloc(4 * MiB, 7));
await writeFile(join(dataDir, "jwt_secret"), "s".repeat(40), { mode: 0o600 });
const backupsDir = join(dataDir, "backups");

const t = await adminApp({ dataDir });
const h = await consoleHarness(t);
const service = { token: t.keys.service_role, apikey: t.keys.service_role };
const opened: { unmount(): void }[] = [];
afterAll(async () => {
  opened.forEach((c) => c.unmount());
  // A paced backup still running would hold the directory: cancel it first (404 when none runs).
  await t.call("DELETE", "/backups/current", undefined, service);
  await rm(dataDir, { recursive: true, force: true });
});

const files = async () => (existsSync(backupsDir) ? (await readdir(backupsDir)).sort() : []);

describe("backups screen", () => {
  test("b then n starts nothing; g then y runs a gzipped backup to done and lists it", async () => {
    const c = await h.open({ screen: "backups", cols: 80, rows: 24 });
    opened.push(c);
    await c.waitFor("0 archive(s)");
    expect(c.frame()).toContain("No backups yet");
    expect(c.frame()).toMatch(/b backup/);
    await c.press("b");
    await c.waitFor("Start a backup?");
    await c.press("n");
    await c.waitFor("0 archive(s)");
    expect(await t.call("GET", "/backups/current", undefined, service)).toMatchObject({ status: 404, body: { code: "backup_job_not_found" } });
    expect(await files()).toEqual([]);

    await c.press("g");
    await c.waitFor("Start a backup (gzipped)?");
    await c.press("y");
    const done = await c.waitFor(/Backup plinth-backup-\S+\.tar\.gz · done/, 30_000);
    await c.waitFor("1 archive(s)");
    expect(fitsWidth(done, 80)).toBe(true);
    const [name] = await files();
    expect(name).toMatch(/^plinth-backup-\d{8}-\d{6}(-\d+)?\.tar\.gz$/);
    expect(c.frame()).toContain(name!);
  });

  test("a running backup: live progress, Esc then n keeps it, x then y cancels it", async () => {
    const before = await files();
    const started = await t.call("POST", "/backups", { max_rate: 256 * 1024 }, service);
    expect(started.status).toBe(202);
    const c = await h.open({ screen: "backups", cols: 100, rows: 30 });
    opened.push(c);
    // The bar, the phase and the bytes, and then the same bar further on: the screen follows it.
    const first = await c.waitFor(/running · objects[\s\S]*\] (\d+) % · /, 10_000);
    expect(c.frame()).toMatch(/x cancel backup/);
    const pct = Number(/\] (\d+) % · /.exec(first)![1]);
    await c.waitFor(new RegExp(`\\] (?!${pct} %)\\d+ % · `), 10_000);

    await c.press(KEY.esc);
    await c.waitFor(`Cancel the backup ${started.body.file}?`);
    await c.press("n");
    await c.waitFor(/running · objects/);
    expect((await t.call("GET", "/backups/current", undefined, service)).body.state).toBe("running");

    await c.press("x");
    await c.waitFor(`Cancel the backup ${started.body.file}?`);
    await c.press("y");
    const ended = await c.waitFor(/· cancelled/, 10_000);
    expect(ended).toContain("backup_cancelled");
    expect((await t.call("GET", "/backups/current", undefined, service)).body.state).toBe("cancelled");
    // Nothing of it is left: no archive, no partial file.
    expect(await files()).toEqual(before);
  });

  test("d then y deletes the selected archive; one gone behind the console's back gives the server's code", async () => {
    const c = await h.open({ screen: "backups", cols: 100, rows: 24 });
    opened.push(c);
    await c.waitFor("1 archive(s)");
    const [name] = (await files()) as [string];
    await c.press("d");
    await c.waitFor(`Delete the backup ${name}?`);
    await c.press("n");
    await c.waitFor("1 archive(s)");
    expect(await files()).toEqual([name]);

    // Removed on the server's disk meanwhile: the console says what the server says.
    await rm(join(backupsDir, name));
    await c.press("d");
    await c.waitFor(`Delete the backup ${name}?`);
    await c.press("y");
    await c.waitFor(/No backup archive named \S+ \(backup_not_found 404\)/);
    await c.waitFor("0 archive(s)");

    // A real delete: take one through the API, refresh, delete it after y.
    const r = await t.call("POST", "/backups", {}, service);
    expect(r.status).toBe(202);
    for (let i = 0; i < 500 && (await t.call("GET", "/backups/current", undefined, service)).body.state === "running"; i++) await Bun.sleep(20);
    await c.press("r");
    await c.waitFor(r.body.file);
    await c.press("d");
    await c.waitFor(`Delete the backup ${r.body.file}?`);
    await c.press("y");
    await c.waitFor(`Deleted ${r.body.file}`);
    await c.waitFor("0 archive(s)");
    expect(await files()).toEqual([]);
  });

  test("an admin below system_admin cannot open it", async () => {
    const c = await h.open({ level: "admin", screen: "overview", cols: 80, rows: 24 });
    opened.push(c);
    await c.waitFor(/req\/s/);
    await c.press(":backups", KEY.enter);
    await c.waitFor("Your level may not open backups (it needs backups:manage)");
  });
});
