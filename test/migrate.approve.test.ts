// Approvals in production: `plinth migrate up` (a subprocess with PLINTH_ENV=production) refuses a
// migration with destructive or security findings until `plinth migrate approve VERSION --by ADMIN`
// approved that very file; an edited file needs approving again; approvals and applies (and
// refusals) are in the audit log. The same through /admin/v1/migrations in-process, with the levels
// that may and may not approve. Ugly cases: an unknown version, an admin that does not exist or may
// not change the schema, an applied version, a file the parser rejects.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { adminApp, uniqueEmail, type CallOptions } from "./support/admin.ts";

const MAIN = resolve(import.meta.dir, "../src/main.ts");
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "plinth-approve-"));
  dirs.push(dir);
  return dir;
}

const V1 = "20250301000001";
const V2 = "20250301000002";
const SAFE = "create table private.safe_one (id int);\n";
const DESTRUCTIVE = "create table private.kept (id int);\ndrop table public.victim;\n";

// One app (and database) for the file: production, a migrations dir that each test fills.
let dir = await tmp();
const t = await adminApp({ env: "production", admin: { requireMfa: false }, migrationsDir: dir });
const sql = t.sql;
const service: CallOptions = { token: t.keys.service_role, apikey: t.keys.anon };

const adminEmail = uniqueEmail("approver");
const moderatorEmail = uniqueEmail("moderator");
await t.makeAdmin(adminEmail, "admin");
await t.makeAdmin(moderatorEmail, "moderator", ["public.victim"]);

beforeEach(async () => {
  await sql.unsafe(`
    drop schema if exists private cascade; create schema private;
    drop table if exists public.victim; create table public.victim (id int); insert into public.victim select generate_series(1, 42);
    drop table if exists plinth.user_migrations, plinth.user_migration_log;
    delete from plinth.migration_approvals;
  `);
  // Each test gets a fresh, empty directory at the same path the app was configured with.
  await rm(dir, { recursive: true, force: true });
  const { mkdir } = await import("node:fs/promises");
  await mkdir(dir, { recursive: true });
});

async function cli(env: Record<string, string>, ...args: string[]) {
  const proc = Bun.spawn([process.execPath, MAIN, "migrate", ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PLINTH_DB_URL: t.database.url, PLINTH_MIGRATIONS_DIR: dir, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { out, err, code };
}
const prod = (...args: string[]) => cli({ PLINTH_ENV: "production" }, ...args);
const dev = (...args: string[]) => cli({}, ...args);

const applied = async () => (await sql<{ version: string }[]>`select version from plinth.user_migrations order by 1`.catch(() => [])).map((r) => r.version);
const victimExists = async () => (await sql`select to_regclass('public.victim') as t`)[0]!.t !== null;
const audits = (action: string) =>
  sql<{ target: string; outcome: string; error_code: string | null; reason: string | null; os_user: string | null; admin_id: string | null }[]>`
    select target, outcome, error_code, reason, os_user, admin_id::text from plinth.audit_log where action = ${action} order by id`;

describe("plinth migrate in production (subprocess)", () => {
  test("refuses an unapproved destructive migration (and everything in the run), applies once approved; audited", async () => {
    await writeFile(join(dir, `${V1}_safe.up.sql`), SAFE);
    await writeFile(join(dir, `${V2}_drop_victim.up.sql`), DESTRUCTIVE);
    const before = (await audits("migrations.apply")).length;

    const refused = await prod("up");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`${V2}_drop_victim needs approval in production`);
    expect(refused.err).toContain(`plinth migrate approve ${V2} --by ADMIN`);
    expect(refused.out).toContain("drop table public.victim"); // the plan was shown
    expect(await applied()).toEqual([]); // not even the safe one before it
    expect(await victimExists()).toBe(true);
    const refusal = (await audits("migrations.apply")).slice(before);
    expect(refusal).toMatchObject([{ target: `migration:${V2}`, outcome: "refused", error_code: "approval_required" }]);

    const ok = await prod("approve", V2, "--by", adminEmail, "--note", "victim is obsolete (ticket 12)");
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`approved ${V2}_drop_victim by ${adminEmail}`);
    const [approval] = await sql`select * from plinth.migration_approvals`;
    expect(approval).toMatchObject({ version: V2, approved_by: adminEmail, note: "victim is obsolete (ticket 12)" });
    expect(approval!.verdict).toMatch(/^needs approval: 1 destructive/);
    const approveAudit = (await audits("migrations.approve")).at(-1)!;
    expect(approveAudit).toMatchObject({ target: `migration:${V2}`, outcome: "ok", reason: "victim is obsolete (ticket 12)" });
    expect(approveAudit.os_user).toBeTruthy();
    expect(approveAudit.admin_id).toBeTruthy();

    const up = await prod("up");
    expect(up.code).toBe(0);
    expect(up.out).toContain(`approved by ${adminEmail}`);
    expect(await applied()).toEqual([V1, V2]);
    expect(await victimExists()).toBe(false);
    const applies = (await audits("migrations.apply")).slice(before + 1);
    expect(applies).toMatchObject([
      { target: `migration:${V1}`, outcome: "ok" },
      { target: `migration:${V2}`, outcome: "ok" },
    ]);
  });

  test("a file edited after approval needs approving again", async () => {
    await writeFile(join(dir, `${V2}_drop_victim.up.sql`), DESTRUCTIVE);
    expect((await prod("approve", V2, "--by", adminEmail)).code).toBe(0);
    // The approved file becomes a different one: one more destructive statement slipped in.
    await writeFile(join(dir, `${V2}_drop_victim.up.sql`), `${DESTRUCTIVE}truncate plinth.audit_log;\n`);
    const refused = await prod("up");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("was approved, but the file changed since (checksum differs): approve it again");
    expect(await victimExists()).toBe(true);
    // Even an edit back to the same meaning but different bytes counts as a new file.
    await writeFile(join(dir, `${V2}_drop_victim.up.sql`), `${DESTRUCTIVE}-- reviewed\n`);
    expect((await prod("up")).code).toBe(1);
    expect((await prod("approve", V2, "--by", adminEmail)).code).toBe(0);
    expect((await prod("up")).code).toBe(0);
    expect(await victimExists()).toBe(false);
  });

  test("approvals for an unknown version, an applied one, by a non-admin or a moderator are refused", async () => {
    await writeFile(join(dir, `${V1}_safe.up.sql`), SAFE);
    const unknown = await prod("approve", "20990101000000", "--by", adminEmail);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("unknown version 20990101000000");
    const nobody = await prod("approve", V1, "--by", "nobody@example.com");
    expect(nobody.code).toBe(1);
    expect(nobody.err).toContain("is not an admin account that may change the schema");
    const moderator = await prod("approve", V1, "--by", moderatorEmail);
    expect(moderator.code).toBe(1);
    expect(moderator.err).toContain("is not an admin account");
    expect((await sql`select count(*)::int as n from plinth.migration_approvals`)[0]!.n).toBe(0);
    const refusedAudits = (await audits("migrations.approve")).filter((a) => a.outcome !== "ok").slice(-3);
    expect(refusedAudits.map((a) => a.error_code)).toEqual(["unknown_version", "not_an_approver", "not_an_approver"]);

    expect((await prod("up")).code).toBe(0); // safe: no approval needed
    const done = await prod("approve", V1, "--by", adminEmail);
    expect(done.code).toBe(1);
    expect(done.err).toContain("already applied");
  });

  test("usage: approve needs a 14-digit VERSION and --by", async () => {
    for (const args of [["approve"], ["approve", "123", "--by", "x"], ["approve", V1], ["approve", V1, "--by"], ["approve", V1, "--by", "a", "--wat", "b"]]) {
      const r = await prod(...args);
      expect(r.code).toBe(2);
    }
  });

  test("a file the parser rejects is refused in production unless approved (and then PostgreSQL refuses it)", async () => {
    await writeFile(join(dir, `${V1}_broken.up.sql`), "create tabel nope (id int);\n");
    const r = await prod("up");
    expect(r.code).toBe(1);
    expect(r.out).toContain("cannot be planned");
    expect(r.err).toContain("needs approval in production");
    expect((await prod("approve", V1, "--by", adminEmail)).code).toBe(0);
    const run = await prod("up");
    expect(run.code).toBe(1);
    expect(run.err).toContain("failed and was rolled back completely");
    expect((await audits("migrations.apply")).at(-1)).toMatchObject({ target: `migration:${V1}`, outcome: "error" });
  });

  test("development applies destructive migrations with the plan printed, no approval needed", async () => {
    await writeFile(join(dir, `${V2}_drop_victim.up.sql`), DESTRUCTIVE);
    const r = await dev("up");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${V2}_drop_victim: needs approval: 1 destructive`);
    expect(r.out).toContain("destructive (danger), line 2: DROP TABLE public.victim removes it with all rows (42 rows)".slice(0, 40));
    expect(r.out).toContain(`applied  ${V2}_drop_victim`);
    expect(await victimExists()).toBe(false);
  });
});

describe("/admin/v1/migrations (in-process, production)", () => {
  test("status, plan, refused apply with the plans, approve by a signed-in admin, apply, history, revert; all audited", async () => {
    await writeFile(join(dir, `${V1}_safe.up.sql`), SAFE);
    await writeFile(join(dir, `${V2}_drop_victim.up.sql`), DESTRUCTIVE);
    await writeFile(join(dir, `${V2}_drop_victim.down.sql`), "create table public.victim (id int);\n");
    await writeFile(join(dir, `${V1}_safe.down.sql`), "drop table private.safe_one;\n");
    const admin: CallOptions = { token: await t.login(adminEmail) };
    const moderator: CallOptions = { token: await t.login(moderatorEmail) };

    const status = await t.call("GET", "/migrations", undefined, moderator);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ applied: 0, pending: 2, production: true });
    expect(status.body.migrations.map((m: { version: string }) => m.version)).toEqual([V1, V2]);

    const plan = await t.call("GET", "/migrations/plan", undefined, moderator);
    expect(plan.status).toBe(200);
    expect(plan.body.migrations[1]).toMatchObject({ version: V2, name: "drop_victim", needs_approval: true, approved: null });
    expect(plan.body.migrations[1].findings[0]).toMatchObject({ kind: "destructive", severity: "danger", statement: "drop table public.victim" });

    const refused = await t.call("POST", "/migrations/apply", {}, admin);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("approval_required");
    expect(refused.body.details.migrations.map((m: { version: string }) => m.version)).toEqual([V2]);

    expect((await t.call("POST", `/migrations/${V2}/approve`, { note: "ok" }, moderator)).status).toBe(403);
    expect((await t.call("POST", `/migrations/20990101000000/approve`, {}, admin)).body.code).toBe("unknown_version");
    expect((await t.call("POST", `/migrations/abc/approve`, {}, admin)).status).toBe(400);
    expect((await t.call("POST", `/migrations/${V2}/approve`, { note: 5 }, admin)).status).toBe(400);
    const approved = await t.call("POST", `/migrations/${V2}/approve`, { note: "reviewed" }, admin);
    expect(approved.status).toBe(200);
    expect(approved.body.approval).toMatchObject({ version: V2, approved_by: adminEmail, note: "reviewed" });
    expect(approved.body.plan.approved).toMatchObject({ by: adminEmail });

    const listed = await t.call("GET", `/migrations/approvals?version=${V2}`, undefined, moderator);
    expect(listed.body.approvals).toHaveLength(1);

    const up = await t.call("POST", "/migrations/apply", undefined, admin);
    expect(up.status).toBe(200);
    expect(up.body.applied.map((s: { version: string }) => s.version)).toEqual([V1, V2]);
    expect(await victimExists()).toBe(false);

    const history = await t.call("GET", "/migrations/history", undefined, moderator);
    expect(history.body.history.map((h: { direction: string }) => h.direction)).toEqual(["up", "up"]);

    expect((await t.call("POST", "/migrations/revert", { steps: 0 }, admin)).status).toBe(400);
    const down = await t.call("POST", "/migrations/revert", { steps: 1 }, service);
    expect(down.status).toBe(200);
    expect(down.body.reverted).toMatchObject([{ version: V2, direction: "down" }]);
    expect(await victimExists()).toBe(true);

    const rows = await sql<{ action: string; outcome: string; target: string | null; security: boolean }[]>`
      select action, outcome, target, security from plinth.audit_log where action in ('migrations.apply', 'migrations.approve', 'migrations.revert')
      and actor_kind <> 'cli' order by id`;
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([
      ["migrations.apply", "error"],
      ["migrations.approve", "denied"],
      ["migrations.approve", "error"],
      ["migrations.approve", "error"],
      ["migrations.approve", "error"],
      ["migrations.approve", "ok"],
      ["migrations.apply", "ok"],
      ["migrations.revert", "error"],
      ["migrations.revert", "ok"],
    ]);
    expect(rows.find((r) => r.action === "migrations.apply" && r.outcome === "ok")).toMatchObject({ target: `migration:${V1},${V2}`, security: true });
  });

  test("anon and end users get nothing", async () => {
    expect((await t.call("GET", "/migrations/plan", undefined, { apikey: t.keys.anon })).status).toBe(401);
    expect((await t.call("POST", "/migrations/apply", {}, { apikey: t.keys.anon })).status).toBe(401);
  });
});
