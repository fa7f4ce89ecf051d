// The single executable: built once per run, copied into a directory with no node_modules, and run
// the way an operator would: --version, keys, migrate, serve with its embedded PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compiledBinary } from "./support/binary.ts";
import { freshDatabase } from "./support/db.ts";

const ROOT = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "plinth-bin-"));
chmodSync(dir, 0o755);
let bin = "";
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));

beforeAll(async () => {
  bin = await compiledBinary();
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([bin, ...args], { cwd: dir, env: { ...clean, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** Polls /health every 50 ms, up to `tries` times, until it answers 200; the last status seen (0: no answer). */
async function healthStatus(port: number, tries: number): Promise<number> {
  let status = 0;
  for (let i = 0; i < tries && status !== 200; i++) {
    status = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status !== 200) await Bun.sleep(50);
  }
  return status;
}

/** Pids of postgres processes whose command line names this test's directory. */
function postgresUnder(path: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("dist/plinth without node_modules", () => {
  test("has no node_modules beside it", () => {
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
  });

  test("--version and keys --json", () => {
    expect(run(["--version"]).out).toMatch(/^plinth /);
    const keys = JSON.parse(run(["keys", "--json"], { PLINTH_JWT_SECRET: "binary-test-secret-binary-test-secret" }).out);
    expect(Object.keys(keys).sort()).toEqual(["anon", "service_role"]);
  });

  test("migrate new/up/status against a database URL", async () => {
    const { url } = await freshDatabase();
    const migrations = join(dir, "migrations");
    const env = { PLINTH_DB_URL: url, PLINTH_MIGRATIONS_DIR: migrations };
    expect(run(["migrate", "new", "create_things"], env).code).toBe(0);
    const up = readdirSync(migrations).find((f) => f.endsWith(".up.sql"))!;
    writeFileSync(join(migrations, up), "create table things (id int primary key);\n");
    const applied = run(["migrate", "up"], env);
    expect(applied.code).toBe(0);
    const status = JSON.parse(run(["migrate", "status", "--json"], env).out) as Array<{ applied: boolean }>;
    expect(status).toHaveLength(1);
    expect(status[0]!.applied).toBe(true);
  });

  test("serve runs the SQL guard: libpg-query's wasm is embedded", async () => {
    // Without the build plugin the bundle would read the wasm from this checkout's node_modules by
    // absolute path: it works here and nowhere else. So the bytes must be inside the binary.
    const wasm = readFileSync(join(ROOT, "node_modules", "libpg-query", "wasm", "libpg-query.wasm"));
    expect(readFileSync(bin).includes(wasm.subarray(1000, 5000))).toBe(true);
    const { url } = await freshDatabase();
    const secret = "binary-test-secret-binary-test-secret";
    const keys = JSON.parse(run(["keys", "--json"], { PLINTH_JWT_SECRET: secret }).out) as { service_role: string };
    const port = 20000 + Math.floor(Math.random() * 20000);
    const proc = Bun.spawn([bin, "serve"], {
      cwd: dir,
      env: { ...clean, PLINTH_DB_URL: url, PLINTH_JWT_SECRET: secret, PLINTH_PORT: String(port), PLINTH_LOG_LEVEL: "warn" },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const status = await healthStatus(port, 400);
      expect(status).toBe(200);
      const sql = (query: string) =>
        fetch(`http://127.0.0.1:${port}/admin/v1/sql`, {
          method: "POST",
          headers: { apikey: keys.service_role, "content-type": "application/json" },
          body: JSON.stringify({ query }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { code?: string; results?: { rows: unknown[] }[] } }));
      const refused = await sql("select 1; /* hidden */ drop table if exists nothing");
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe("dangerous_statement");
      const ok = await sql("select 1 as one");
      expect(ok.status).toBe(200);
      expect(ok.body.results![0]!.rows).toEqual([{ one: 1 }]);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 60_000);

  test("operator commands: init, admin, emergency-access, doctor, backup; the first admin signs in through serve", async () => {
    const { url } = await freshDatabase();
    const home = mkdtempSync(join(tmpdir(), "plinth-ops-"));
    chmodSync(home, 0o755);
    const at = (args: string[], env: Record<string, string> = {}, stdin?: string) => {
      const p = Bun.spawnSync([bin, ...args], {
        cwd: home,
        env: { ...clean, PLINTH_DB_URL: url, ...env },
        stdin: stdin ? Buffer.from(stdin) : undefined,
        stdout: "pipe",
        stderr: "pipe",
      });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    };
    try {
      expect(at(["init", "--json"]).code).toBe(0); // plinth.yaml with a fresh secret, in home
      const created = at(["admin", "create-system-admin", "--email", "root@example.com", "--password-stdin"], {}, "Binary-test-password-1\n");
      expect(created.err).toBe("");
      expect(created.code).toBe(0);
      const list = JSON.parse(at(["admin", "list", "--json"]).out) as { email: string; level: string }[];
      expect(list).toEqual([expect.objectContaining({ email: "root@example.com", level: "system_admin" })]);
      const code = JSON.parse(at(["emergency-access", "--reason", "binary test", "--json"]).out) as { code: string; expires_at: string };
      expect(code.code.length).toBeGreaterThan(10);
      const doctor = JSON.parse(at(["doctor", "--json"]).out) as { checks: { name: string; status: string }[] };
      expect(doctor.checks.find((c) => c.name === "database")?.status).toBe("ok");
      const backup = at(["backup", "--out", "b.tar", "--json"]);
      expect(backup.code).toBe(0);
      expect(JSON.parse(backup.out)).toMatchObject({ database: "external" });

      const port = 20000 + Math.floor(Math.random() * 20000);
      const proc = Bun.spawn([bin, "serve"], {
        cwd: home,
        env: { ...clean, PLINTH_DB_URL: url, PLINTH_PORT: String(port), PLINTH_LOG_LEVEL: "warn" },
        stdout: "pipe",
        stderr: "pipe",
      });
      try {
        const status = await healthStatus(port, 400);
        expect(status).toBe(200);
        const login = await fetch(`http://127.0.0.1:${port}/admin/v1/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: "root@example.com", password: "Binary-test-password-1" }),
        });
        expect(login.status).toBe(200);
        const session = (await login.json()) as { session_token: string; admin: { level: string } };
        expect(session.admin.level).toBe("system_admin");
        const me = await fetch(`http://127.0.0.1:${port}/admin/v1/auth/session`, { headers: { authorization: `Bearer ${session.session_token}` } });
        expect(me.status).toBe(200);
      } finally {
        proc.kill("SIGTERM");
        await proc.exited;
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 90_000);

  test("the security suite from the binary: lockout, events, audit chain verify, table security, REST's permission errors", async () => {
    const { url } = await freshDatabase();
    const secret = "binary-security-secret-binary-security-secret";
    const keys = JSON.parse(run(["keys", "--json"], { PLINTH_JWT_SECRET: secret }).out) as { anon: string; service_role: string };
    const env = { ...clean, PLINTH_DB_URL: url, PLINTH_JWT_SECRET: secret, PLINTH_LOG_LEVEL: "warn", PLINTH_AUTH_AUTOCONFIRM: "true" };
    const port = 20000 + Math.floor(Math.random() * 20000);
    const proc = Bun.spawn([bin, "serve"], { cwd: dir, env: { ...env, PLINTH_PORT: String(port) }, stdout: "pipe", stderr: "pipe" });
    const base = `http://127.0.0.1:${port}`;
    const call = (path: string, init: { method?: string; key?: string; body?: unknown } = {}) =>
      fetch(`${base}${path}`, {
        method: init.method ?? "GET",
        headers: { apikey: init.key ?? keys.service_role, authorization: `Bearer ${init.key ?? keys.service_role}`, "content-type": "application/json" },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json().catch(() => null)) as any }));
    try {
      expect(await healthStatus(port, 400)).toBe(200);
      const email = "locked@example.com";
      expect((await call("/auth/v1/signup", { method: "POST", key: keys.anon, body: { email, password: "Right-password-1" } })).status).toBe(200);
      for (let i = 0; i < 5; i++) {
        const wrong = await call("/auth/v1/token?grant_type=password", { method: "POST", key: keys.anon, body: { email, password: "wrong-password" } });
        expect(wrong.status).toBe(400);
      }
      const locked = await call("/auth/v1/token?grant_type=password", { method: "POST", key: keys.anon, body: { email, password: "Right-password-1" } });
      expect(locked.status).toBe(429);
      expect(locked.body.error_code).toBe("user_locked");
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
      const events = await call("/admin/v1/security/events?kind=lockout");
      expect(events.status).toBe(200);
      expect(JSON.stringify(events.body)).toContain("lockout");
      // The chain verifies, from the API and from the CLI.
      expect((await call("/admin/v1/audit/verify")).body).toMatchObject({ ok: true });
      const verify = run(["audit", "verify", "--json"], env);
      expect(verify.code).toBe(0);
      expect(JSON.parse(verify.out)).toMatchObject({ ok: true });
      // Table security: a dry run of owner_only; REST answers a permission error as 401/403, not 500.
      const made = await call("/admin/v1/sql", {
        method: "POST",
        body: { query: "create table public.notes (id bigint primary key, owner_id uuid, body text)" },
      });
      expect(made.status).toBe(200);
      const dry = await call("/admin/v1/tables/public/notes/security?dry_run=true", {
        method: "PUT",
        body: { template: "owner_only", owner_column: "owner_id" },
      });
      expect(dry.status).toBe(200);
      expect(JSON.stringify(dry.body.up)).toContain("ENABLE ROW LEVEL SECURITY");
      await call("/admin/v1/sql", { method: "POST", body: { query: "revoke all on public.notes from anon" } });
      // The schema cache learns of the new table asynchronously (its event trigger's notification).
      for (let i = 0; i < 100 && (await call("/rest/v1/notes")).status === 404; i++) await Bun.sleep(50);
      const denied = await call("/rest/v1/notes", { key: keys.anon });
      expect([401, 403]).toContain(denied.status);
      expect(denied.body.code).toBe("42501");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 90_000);

  test("schema changes from the binary: templates, a planned migration refused in production until approved, generated types", async () => {
    const { url } = await freshDatabase();
    const home = mkdtempSync(join(tmpdir(), "plinth-migrate-"));
    chmodSync(home, 0o755);
    const env = { ...clean, PLINTH_DB_URL: url, PLINTH_JWT_SECRET: "binary-migrate-secret-binary-migrate-secret" } as Record<string, string>;
    const at = (args: string[], extra: Record<string, string> = {}) => {
      const p = Bun.spawnSync([bin, ...args], { cwd: home, env: { ...env, ...extra }, stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    };
    try {
      const templates = at(["migrate", "templates"]);
      expect(templates.code).toBe(0);
      for (const t of ["owner-table", "soft-delete", "audit-trigger", "team", "security-indexes", "table"]) expect(templates.out).toContain(t);
      expect(at(["migrate", "new", "notes", "--template", "owner-table", "--table", "notes"]).code).toBe(0);
      expect(at(["migrate", "up"]).code).toBe(0);
      // A destructive migration: planned, refused in production without an approval.
      expect(at(["migrate", "new", "drop_notes"]).code).toBe(0);
      const dir = join(home, "plinth_migrations");
      const up = readdirSync(dir).find((f) => f.includes("drop_notes") && f.endsWith(".up.sql"))!;
      writeFileSync(join(dir, up), "drop table public.notes;\n");
      const plan = JSON.parse(at(["migrate", "plan", "--json"]).out) as { migrations: { version: string; findings: { kind: string }[] }[] };
      expect(plan.migrations).toHaveLength(1);
      expect(plan.migrations[0]!.findings.map((f) => f.kind)).toContain("destructive");
      const refused = at(["migrate", "up"], { PLINTH_ENV: "production" });
      expect(refused.code).not.toBe(0);
      const types = at(["gen", "types", "typescript"]);
      expect(types.code).toBe(0);
      expect(types.out).toContain("export type Database");
      expect(types.out).toContain(`"notes": {`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 90_000);

  test("serve starts its bundled PostgreSQL, answers /health, and stops leaving nothing behind", async () => {
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { mode: 0o755 });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const proc = Bun.spawn([bin, "serve"], {
      cwd: dir,
      env: { ...clean, PLINTH_DATA_DIR: dataDir, PLINTH_PORT: String(port), PLINTH_LOG_LEVEL: "warn" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const status = await healthStatus(port, 600);
    expect(status).toBe(200);
    expect(postgresUnder(dataDir).length).toBeGreaterThan(0);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await Bun.sleep(200);
    expect(postgresUnder(dataDir)).toEqual([]);
  }, 60_000);

  test("runs as an ordinary user: its own PostgreSQL, no user switching, nothing left behind", async () => {
    // As root, drop to `nobody` (present on every Debian/Ubuntu); as an ordinary user, run as is.
    const home = mkdtempSync(join(tmpdir(), "plinth-user-"));
    chmodSync(home, 0o755);
    const userBin = join(home, "plinth");
    copyFileSync(bin, userBin);
    chmodSync(userBin, 0o755);
    const root = process.getuid?.() === 0;
    if (root) Bun.spawnSync(["chown", "-R", "nobody:nogroup", home]);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const argv = root ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", userBin, "serve"] : [userBin, "serve"];
    const proc = Bun.spawn(argv, {
      cwd: home,
      env: { ...clean, HOME: home, TMPDIR: home, PLINTH_PORT: String(port), PLINTH_LOG_LEVEL: "warn" },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const status = await healthStatus(port, 600);
      expect(status).toBe(200);
      const pids = postgresUnder(home);
      expect(pids.length).toBeGreaterThan(0);
      if (root) {
        // PostgreSQL runs as the invoking user, not as a switched-to system user.
        const uid = readFileSync(`/proc/${pids[0]}/status`, "utf8").match(/^Uid:\s+(\d+)/m)?.[1];
        expect(uid).toBe("65534");
      }
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
    await Bun.sleep(200);
    expect(postgresUnder(home)).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  }, 60_000);
});
