// `plinth audit verify|export|prune|report` and the audit records of `plinth migrate up/down`, as an
// operator runs them: subprocesses of `bun src/main.ts` on a fresh test database (PLINTH_DB_URL).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { adminApp, uniqueEmail } from "./support/admin.ts";

const MAIN = resolve(import.meta.dir, "../src/main.ts");
setDefaultTimeout(60_000);
const t = await adminApp();
const cwd = mkdtempSync(join(tmpdir(), "plinth-audit-cli-"));
chmodSync(cwd, 0o755);
const dataDir = join(cwd, "data");
const migrationsDir = join(cwd, "migrations");
mkdirSync(migrationsDir);
const me = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();

function plinth(args: string[], extraEnv: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_") && k !== "SUDO_USER"));
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], {
    cwd,
    env: { ...clean, PLINTH_DB_URL: t.database.url, PLINTH_DATA_DIR: dataDir, PLINTH_MIGRATIONS_DIR: migrationsDir, PLINTH_LOG_LEVEL: "warn", ...extraEnv },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

const DAY = 86_400_000;

describe("plinth audit verify", () => {
  test("an intact chain: exit 0 with {ok, checked}; the run is itself on record with the OS user", async () => {
    const r = plinth(["audit", "verify", "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, checked: expect.any(Number) });
    const [row] = await t.sql`select actor_kind, os_user, outcome from plinth.audit_log where action = 'audit.verify' order by id desc limit 1`;
    expect(row).toMatchObject({ actor_kind: "cli", os_user: me, outcome: "ok" });
    const text = plinth(["audit", "verify"]);
    expect(text.out).toMatch(/^audit chain ok: \d+ live rows checked/);
  });

  test("usage errors exit 2", () => {
    expect(plinth(["audit"]).code).toBe(2);
    expect(plinth(["audit", "nonsense"]).code).toBe(2);
    expect(plinth(["audit", "verify", "--bogus"]).code).toBe(2);
    expect(plinth(["audit", "export", "--format", "xml"]).code).toBe(2);
    const since = plinth(["audit", "export", "--since", "last tuesday"]);
    expect(since.code).toBe(2);
    expect(since.err).toMatch(/--since: since must be an ISO 8601/);
    expect(plinth(["audit", "report", "--since", "2026-01-01"]).code).toBe(2);
    expect(plinth(["audit", "prune"]).err).toMatch(/no retention set/);
  });
});

describe("plinth audit export", () => {
  test("NDJSON to stdout and CSV to --out FILE, limited by --since/--until", async () => {
    const tag = `cli${Date.now().toString(36)}`;
    const at = new Date(Date.now() - 5 * DAY);
    for (let i = 0; i < 3; i++) {
      await t.sql`insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms, at)
                  values ('cli', 'cli', ${`${tag}.${i}`}, 'ok', 0, 1, ${new Date(at.getTime() + i * 1000)})`;
    }
    const since = new Date(at.getTime() - 1).toISOString();
    const until = new Date(at.getTime() + 2500).toISOString();
    const nd = plinth(["audit", "export", "--since", since, "--until", until]);
    expect(nd.code).toBe(0);
    const lines = nd.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual([`${tag}.0`, `${tag}.1`, `${tag}.2`]);
    const csv = plinth(["audit", "export", "--format", "csv", "--since", since, "--until", until, "--out", "out/audit.csv"], {});
    expect(csv.code).toBe(1); // the directory does not exist: a clear failure, no partial file
    expect(csv.err).toContain("cannot write");
    mkdirSync(join(cwd, "out"));
    const ok = plinth(["audit", "export", "--format", "csv", "--since", since, "--until", until, "--out", "out/audit.csv"]);
    expect(ok.code).toBe(0);
    expect(ok.err).toContain("exported 3 entries");
    const text = readFileSync(join(cwd, "out/audit.csv"), "utf8");
    expect(text.split("\r\n")[0]).toStartWith("id,seq,at,");
    expect(text.trim().split("\r\n").length).toBe(4);
    expect(existsSync(join(cwd, "out/audit.csv.partial"))).toBe(false);
  });
});

describe("plinth audit prune and report", () => {
  test("prune never cuts a hole: old rows behind newer ones in the chain stay until everything before them is due", async () => {
    // The rows dated 5 days ago (export test) were chained after rows written today, so with a
    // 1-day limit nothing may go: an archive is always a prefix of the chain.
    const r = plinth(["audit", "prune", "--json"], { PLINTH_AUDIT_RETENTION_DAYS: "1" });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ skipped: false, archives: [], removed: 0 });
    expect(JSON.parse(plinth(["audit", "prune", "--days", "1", "--json"]).out).archives).toEqual([]);
  });

  test("prune removes a due prefix; verify --archives checks the file", async () => {
    const fresh = await adminApp();
    const old = new Date(Date.now() - 60 * DAY);
    // A fresh database: its first rows are old.
    const firstSeq = Number((await fresh.sql`select coalesce(max(seq), 0) as s from plinth.audit_log`)[0]!.s);
    expect(firstSeq).toBe(0);
    for (let i = 0; i < 4; i++) {
      await fresh.sql`insert into plinth.audit_log (actor_role, actor_kind, action, outcome, status, duration_ms, at)
                      values ('cli', 'cli', ${`ancient.${i}`}, 'ok', 0, 1, ${new Date(old.getTime() + i)})`;
    }
    const env = { PLINTH_DB_URL: fresh.database.url };
    const r = plinth(["audit", "prune", "--days", "30"], env);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/archived rows 1\.\.4 \(4\) to local:audit-1-4-/);
    expect(readdirSync(join(dataDir, "audit-archive")).some((f) => /^audit-1-4-.*\.ndjson\.gz$/.test(f))).toBe(true);
    const v = plinth(["audit", "verify", "--archives", "--json"], env);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ ok: true, archived: 4 });
  });

  test("report: admin actions by admin, privilege changes, failed sign-ins, emergency access — JSON and text", async () => {
    const email = uniqueEmail("promoted");
    await t.call("POST", "/auth/v1/signup", { email, password: "Report-pass-1" }, { apikey: t.keys.anon });
    expect(plinth(["admin", "promote", email, "--level", "viewer"]).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      await t.call("POST", "/auth/v1/token?grant_type=password", { email, password: `wrong-${i}` }, { apikey: t.keys.anon, ip: "198.51.100.9" });
    }
    expect(plinth(["emergency-access", "--reason", "report test", "--json"]).code).toBe(0);
    const since = new Date(Date.now() - DAY).toISOString().slice(0, 10);
    const until = new Date(Date.now() + DAY).toISOString().slice(0, 10);
    const r = plinth(["audit", "report", "--since", since, "--until", until, "--json"]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.admin_actions.find((a: any) => a.actor === me || a.actor === `cli:${me}`)).toBeTruthy();
    expect(rep.privilege_changes.entries.some((e: any) => e.action.startsWith("admins.") && e.target?.includes(email))).toBe(true);
    expect(rep.failed_signins.total).toBeGreaterThanOrEqual(3);
    expect(rep.failed_signins.by_target).toContainEqual({ target: `email:${email}`, count: 3 });
    expect(rep.failed_signins.by_address).toContainEqual({ address: "198.51.100.9", count: 3 });
    expect(rep.emergency_access.entries.some((e: any) => e.action === "emergency_access.issue" && e.reason === "report test")).toBe(true);
    expect(rep.locked_signins).toMatchObject({ refused_while_locked: expect.any(Number), lockouts: expect.any(Number) });
    const text = plinth(["audit", "report", "--since", since, "--until", until]);
    expect(text.code).toBe(0);
    for (const h of [
      "Admin actions by admin",
      "Privilege changes",
      "Policy and security-setting changes",
      "Failed sign-ins: ",
      "Locked sign-ins",
      "Emergency access",
    ]) {
      expect(text.out).toContain(h);
    }
  });
});

describe("migrations are on record", () => {
  test("plinth migrate up and down: one audit entry per version, naming the OS user", async () => {
    const version = "20261204120000";
    writeFileSync(join(migrationsDir, `${version}_audit_probe.up.sql`), "create table public.audit_probe (id int);\n");
    writeFileSync(join(migrationsDir, `${version}_audit_probe.down.sql`), "drop table public.audit_probe;\n");
    expect(plinth(["migrate", "up"]).code).toBe(0);
    expect(plinth(["migrate", "down"]).code).toBe(0);
    const rows = await t.sql`select action, outcome, os_user from plinth.audit_log where target = ${`migration:${version}`} order by id`;
    expect(rows.map((r) => r.action)).toEqual(["migrations.apply", "migrations.revert"]);
    expect(rows.every((r) => r.outcome === "ok" && r.os_user === me)).toBe(true);
  });
});

describe("a broken chain", () => {
  test("verify exits 1 and names the row; the security event is raised", async () => {
    const [victim] = await t.sql`select id from plinth.audit_log order by seq limit 1 offset 2`;
    await t.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update plinth.audit_log set outcome = 'ok', action = action || '!' where id = ${victim!.id}`;
    });
    const r = plinth(["audit", "verify", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, first_bad_id: Number(victim!.id), reason: "hash_mismatch" });
    const text = plinth(["audit", "verify"]);
    expect(text.out).toContain(`BROKEN at id ${victim!.id}`);
    const [ev] = await t.sql`select severity from plinth.security_events where kind = 'audit_chain_broken' order by id desc limit 1`;
    expect(ev!.severity).toBe("critical");
  });
});
