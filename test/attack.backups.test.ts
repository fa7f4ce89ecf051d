// Attacks on /admin/v1/backups, where a download is every secret of the deployment: names that try
// to leave the backups directory (encoded separators, dot segments, NUL, absolute paths, the data
// dir's own secrets by name), a symlink planted in the directory, a directory named like an archive,
// a partial archive, a long name; and callers below system_admin. None may read, delete or even
// learn about a file outside the directory.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminApp, uniqueEmail } from "./support/admin.ts";
import { tokenFor } from "./support/app.ts";

const dataDir = await mkdtemp(join(tmpdir(), "plinth-attack-backups-"));
const backupsDir = join(dataDir, "backups");
await mkdir(backupsDir, { recursive: true });
const SECRET = "attack-secret-".padEnd(48, "z");
await writeFile(join(dataDir, "jwt_secret"), SECRET, { mode: 0o600 });
await writeFile(join(dataDir, "outside.tar"), SECRET, { mode: 0o600 });
// Planted in the backups directory: a symlink to the secret, a directory, a partial archive.
await symlink(join(dataDir, "jwt_secret"), join(backupsDir, "planted.tar"));
await mkdir(join(backupsDir, "folder.tar"));
await writeFile(join(backupsDir, "plinth-backup-20990101-000000.tar.partial"), SECRET);
await writeFile(join(backupsDir, "real.tar"), "not really a tar");

const t = await adminApp({ dataDir });
const service = { token: t.keys.service_role, apikey: t.keys.service_role };
afterAll(() => rm(dataDir, { recursive: true, force: true }));

async function raw(method: string, path: string, opts: { token?: string; apikey?: string } = service) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.apikey) headers.apikey = opts.apikey;
  const res = await t.app.fetch(new Request(`http://localhost/admin/v1${path}`, { method, headers }), {
    requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }),
  });
  return { status: res.status, text: await res.text() };
}

describe("backup names", () => {
  const TRAVERSAL = [
    "..%2Fjwt_secret",
    "..%2Foutside.tar",
    "%2E%2E%2Foutside.tar",
    "..%5Coutside.tar",
    "%2Fetc%2Fpasswd",
    "%2F" + encodeURIComponent(join(dataDir, "outside.tar").slice(1)),
    "jwt_secret",
    "pg.json",
    "backups.json",
    ".hidden.tar",
    "..tar",
    "a..%2F..%2Foutside.tar",
    "real.tar%00.gz",
    "real.tar%0A",
    "plinth-backup-20990101-000000.tar.partial",
    `${"a".repeat(300)}.tar`,
    "current.tar%2F..",
  ];

  for (const method of ["GET", "DELETE"]) {
    test(`${method}: every name that is not a plain archive name is refused with invalid_backup_name, and nothing leaks`, async () => {
      for (const name of TRAVERSAL) {
        const r = await raw(method, `/backups/${name}`);
        expect({ name, status: r.status }).toEqual({ name, status: 400 });
        expect(JSON.parse(r.text).code).toBe("invalid_backup_name");
        expect(r.text).not.toContain(SECRET);
      }
      expect(existsSync(join(dataDir, "jwt_secret"))).toBe(true);
      expect(existsSync(join(dataDir, "outside.tar"))).toBe(true);
    });
  }

  test("a literal dot segment never reaches a file outside (the URL is normalised first)", async () => {
    for (const path of ["/backups/../outside.tar", "/backups/../../jwt_secret", "/backups/./../outside.tar"]) {
      const r = await raw("GET", path);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.text).not.toContain(SECRET);
    }
  });

  test("a planted symlink, a directory and a partial archive are not archives: not listed, not served, not deleted", async () => {
    const list = await t.call("GET", "/backups", undefined, service);
    expect(list.status).toBe(200);
    expect(list.body.backups.map((b: any) => b.name)).toEqual(["real.tar"]);
    for (const method of ["GET", "DELETE"]) {
      for (const name of ["planted.tar", "folder.tar"]) {
        const r = await raw(method, `/backups/${name}`);
        expect({ method, name, status: r.status, code: JSON.parse(r.text).code }).toEqual({ method, name, status: 404, code: "backup_not_found" });
        expect(r.text).not.toContain(SECRET);
      }
    }
    expect(existsSync(join(backupsDir, "planted.tar"))).toBe(true);
    expect(existsSync(join(dataDir, "jwt_secret"))).toBe(true);
    // The real one downloads.
    const real = await raw("GET", "/backups/real.tar");
    expect(real).toEqual({ status: 200, text: "not really a tar" });
  });
});

describe("callers", () => {
  test("an admin, a moderator, a viewer, an end user's token and the anon key get nothing", async () => {
    for (const level of ["admin", "moderator", "viewer"] as const) {
      const email = uniqueEmail(`attack-backups-${level}`);
      await t.makeAdmin(email, level);
      const token = await t.login(email);
      for (const [method, path] of [
        ["GET", "/backups/real.tar"],
        ["DELETE", "/backups/real.tar"],
        ["GET", "/backups"],
        ["POST", "/backups"],
      ] as const) {
        const r = await raw(method, path, { token });
        expect({ level, method, path, status: r.status }).toEqual({ level, method, path, status: 403 });
      }
    }
    const userToken = await tokenFor({ sub: "7d3c1f7e-64f5-4b0e-9a3a-6f0d3f7c2b12", role: "authenticated" });
    expect((await raw("GET", "/backups/real.tar", { token: userToken, apikey: t.keys.anon })).status).toBe(403);
    expect((await raw("GET", "/backups/real.tar", { apikey: t.keys.anon })).status).toBe(401);
    expect((await raw("GET", "/backups/real.tar", {})).status).toBe(401); // the gateway's refusal: no key at all
    expect(existsSync(join(backupsDir, "real.tar"))).toBe(true);
    // Every refusal past the gateway is in the audit log, named by the archive it was about.
    const [denied] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from plinth.audit_log where action = 'backups.download' and outcome = 'denied' and target = 'real.tar'`;
    expect(denied!.n).toBeGreaterThanOrEqual(5);
  });
});
