// Migration templates on a real server: each template's up and down applied, reverted and applied
// again (through the same library `plinth migrate` uses), its plan free of security findings, and its
// RLS proven per role through REST with real JWTs: anon, the owner, another signed-in user and
// service_role, each with supabase-js. `plinth migrate templates` and `new --template` as subprocesses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { SupabaseClient } from "@supabase/supabase-js";
import { planFile } from "../src/admin/migrations/plan.ts";
import { renderTemplate, TEMPLATES, TemplateError } from "../src/admin/migrations/templates.ts";
import { checksum } from "../src/db/migrations/system.ts";
import { createMigration, migrateDown, migrateUp } from "../src/db/migrations/user.ts";
import { client, uniqueEmail } from "./support/auth.ts";
import { waitFor } from "./support/rest.ts";
import { startTestServer } from "./support/server.ts";

const MAIN = resolve(import.meta.dir, "../src/main.ts");
const srv = await startTestServer();
const sql = srv.database.db.sql;
const dirs: string[] = [];
const dir = await tmp();

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "plinth-templates-"));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const anon = client(srv.url, srv.keys.anon);
const service = client(srv.url, srv.keys.service_role);
let alice: SupabaseClient;
let bob: SupabaseClient;
let aliceId: string;
let bobId: string;

async function signedIn(): Promise<{ sb: SupabaseClient; id: string }> {
  const email = uniqueEmail("tpl");
  const made = await service.auth.admin.createUser({ email, password: "correct horse 1", email_confirm: true });
  expect(made.error).toBeNull();
  const sb = client(srv.url, srv.keys.anon);
  const { data, error } = await sb.auth.signInWithPassword({ email, password: "correct horse 1" });
  expect(error).toBeNull();
  expect(data.session!.access_token.split(".")).toHaveLength(3); // a real JWT from /auth/v1/token
  return { sb, id: data.user!.id };
}

beforeAll(async () => {
  ({ sb: alice, id: aliceId } = await signedIn());
  ({ sb: bob, id: bobId } = await signedIn());
});

/** REST's schema cache reloads after DDL: wait until it sees (or no longer sees) a table. */
async function restSees(table: string, present = true) {
  await waitFor(async () => {
    const r = await fetch(`${srv.url}/rest/v1/${table}?limit=0`, {
      headers: { apikey: srv.keys.service_role, authorization: `Bearer ${srv.keys.service_role}` },
    });
    return present ? r.status === 200 : r.status === 404;
  });
}

const exists = async (regclass: string) => (await sql`select to_regclass(${regclass}) is not null as e`)[0]!.e as boolean;

/**
 * Creates the migration from the template, plans its up (no security finding may appear), and
 * applies, reverts and re-applies it, checking `probe` (an object the template makes) each time.
 */
async function cycle(template: string, table: string, name: string, probe: string) {
  const content = await renderTemplate(template, { table, sql });
  const m = await createMigration(dir, name, undefined, content);
  const plan = await planFile(
    sql,
    { version: m.version, name, path: m.upFile, text: content.up, checksum: checksum(content.up) },
    { exposedSchemas: ["public"] },
  );
  expect(plan.error).toBeNull();
  expect(plan.findings.filter((f) => f.kind !== "locking")).toEqual([]);
  expect(plan.needsApproval).toBe(false);

  expect((await migrateUp(sql, dir)).applied.map((s) => s.version)).toEqual([m.version]);
  expect(await exists(probe)).toBe(true);
  expect((await migrateDown(sql, dir)).reverted.map((s) => s.version)).toEqual([m.version]);
  expect(await exists(probe)).toBe(false);
  expect((await migrateUp(sql, dir)).applied.map((s) => s.version)).toEqual([m.version]);
  expect(await exists(probe)).toBe(true);
  return m;
}

describe("owner-table", () => {
  test("up/down/up; each user reads and changes only their own rows; anon nothing; service_role everything", async () => {
    await cycle("owner-table", "notes", "notes", "public.notes");
    await restSees("notes");

    const a = await alice.from("notes").insert({ body: "alice's" }).select().single();
    expect(a.error).toBeNull();
    expect(a.data!.owner_id).toBe(aliceId);
    const b = await bob.from("notes").insert({ body: "bob's" }).select().single();
    expect(b.data!.owner_id).toBe(bobId);

    expect((await alice.from("notes").select("body")).data).toEqual([{ body: "alice's" }]);
    expect((await bob.from("notes").select("body")).data).toEqual([{ body: "bob's" }]);
    expect((await anon.from("notes").select("body")).data).toEqual([]);
    expect((await service.from("notes").select("body").order("id")).data).toEqual([{ body: "alice's" }, { body: "bob's" }]);

    // Another user's row: invisible to update and delete; no writing rows in someone else's name.
    const upd = await alice.from("notes").update({ body: "hijacked" }).eq("id", b.data!.id).select();
    expect(upd.data).toEqual([]);
    const del = await alice.from("notes").delete().eq("id", b.data!.id).select();
    expect(del.data).toEqual([]);
    const forged = await alice.from("notes").insert({ body: "as bob", owner_id: bobId });
    expect(forged.error?.code).toBe("42501");
    const anonInsert = await anon.from("notes").insert({ body: "anon" });
    expect(anonInsert.error).not.toBeNull();
    expect((await service.from("notes").select("body").eq("id", b.data!.id).single()).data).toEqual({ body: "bob's" });
    // The owner changes their own.
    expect((await alice.from("notes").update({ body: "edited" }).eq("id", a.data!.id).select("body")).data).toEqual([{ body: "edited" }]);
  });
});

describe("soft-delete", () => {
  test("up/down/up on notes; a soft-deleted row disappears for its owner and everyone, not for service_role", async () => {
    await cycle("soft-delete", "notes", "notes_soft_delete", "public.notes_live_idx");
    await restSees("notes");
    await waitFor(async () => !(await service.from("notes").select("deleted_at").limit(1)).error);

    const row = (await alice.from("notes").insert({ body: "to delete" }).select("id").single()).data!;
    expect((await alice.from("notes").select("id").eq("id", row.id)).data).toHaveLength(1);
    // Bob may not delete alice's row (the owner-table DELETE policy), so nothing happens to it.
    await bob.from("notes").delete().eq("id", row.id);
    expect((await service.from("notes").select("deleted_at").eq("id", row.id).single()).data).toEqual({ deleted_at: null });
    // A client cannot set deleted_at itself (the hiding policy checks UPDATE's new row too)…
    const direct = await alice.from("notes").update({ deleted_at: new Date().toISOString() }).eq("id", row.id);
    expect(direct.error?.code).toBe("42501");
    // …it deletes, and the row is kept with deleted_at set.
    const gone = await alice.from("notes").delete().eq("id", row.id);
    expect(gone.error).toBeNull();
    expect((await alice.from("notes").select("id").eq("id", row.id)).data).toEqual([]);
    expect((await bob.from("notes").select("id").eq("id", row.id)).data).toEqual([]);
    expect((await anon.from("notes").select("id").eq("id", row.id)).data).toEqual([]);
    const kept = await service.from("notes").select("id, deleted_at").eq("id", row.id).single();
    expect(kept.data!.deleted_at).not.toBeNull();
    // Other rows of the owner stay visible.
    expect((await alice.from("notes").select("body")).data).toEqual([{ body: "edited" }]);
  });
});

describe("audit-trigger", () => {
  test("up/down/up on notes; each change recorded with its actor; the audit table is out of every client's reach", async () => {
    await cycle("audit-trigger", "notes", "notes_audit", "audit.notes_changes");
    await restSees("notes");
    const row = (await alice.from("notes").insert({ body: "audited" }).select("id").single()).data!;
    await alice.from("notes").update({ body: "audited twice" }).eq("id", row.id);
    // service_role's DELETE is a soft delete too (the soft-delete template's trigger): an UPDATE.
    await service.from("notes").delete().eq("id", row.id);
    // Removed for real by the owner with the soft-delete trigger off: a DELETE.
    await sql.begin(async (tx) => {
      await tx`alter table public.notes disable trigger notes_soft_delete`;
      await tx`delete from public.notes where id = ${row.id}`;
      await tx`alter table public.notes enable trigger notes_soft_delete`;
    });
    const log = await sql<{ operation: string; actor: string | null; old_row: Record<string, unknown> | null; new_row: Record<string, unknown> | null }[]>`
      select operation, actor::text, old_row, new_row from audit.notes_changes order by id`;
    expect(log.map((l) => [l.operation, l.actor])).toEqual([
      ["INSERT", aliceId],
      ["UPDATE", aliceId],
      ["UPDATE", null],
      ["DELETE", null],
    ]);
    expect(log[1]!.old_row!.body).toBe("audited");
    expect(log[1]!.new_row!.body).toBe("audited twice");
    expect(log[2]!.new_row!.deleted_at).not.toBeNull();
    expect(log[3]!.new_row).toBeNull();

    // Not exposed: no role reaches it through REST (the schema is not an API schema).
    for (const sb of [anon, alice, bob, service]) {
      const r = await sb.schema("audit").from("notes_changes").select("*");
      expect(r.error).not.toBeNull();
      expect(r.data).toBeNull();
    }
    // Nor directly as the API roles (no grant; RLS on).
    for (const role of ["anon", "authenticated"]) {
      const denied = await sql
        .begin(async (tx) => {
          await tx.unsafe(`set local role ${role}`);
          await tx`select count(*) from audit.notes_changes`;
          return "read";
        })
        .catch((e) => (e as { code?: string }).code);
      expect(denied).toBe("42501");
    }
  });
});

describe("team", () => {
  test("up/down/up; members read their team, owners manage it, others and anon see nothing", async () => {
    await cycle("team", "teams", "teams", "public.teams_members");
    await restSees("teams_members");

    const team = await alice.from("teams").insert({ name: "A-team" }).select().single();
    expect(team.error).toBeNull();
    const teamId = team.data!.id as string;
    expect((await alice.from("teams_members").select("user_id, role")).data).toEqual([{ user_id: aliceId, role: "owner" }]);

    expect((await bob.from("teams").select("id")).data).toEqual([]);
    expect((await anon.from("teams").select("id")).data).toEqual([]);
    expect((await anon.from("teams_members").select("user_id")).data).toEqual([]);
    // A non-member cannot join on their own, nor rename.
    expect((await bob.from("teams_members").insert({ team_id: teamId, user_id: bobId })).error?.code).toBe("42501");
    expect((await bob.from("teams").update({ name: "mine" }).eq("id", teamId).select()).data).toEqual([]);

    // The owner adds bob as a member: bob now reads the team and its members, but may not manage it.
    expect((await alice.from("teams_members").insert({ team_id: teamId, user_id: bobId })).error).toBeNull();
    expect((await bob.from("teams").select("name")).data).toEqual([{ name: "A-team" }]);
    expect((await bob.from("teams_members").select("user_id")).data).toHaveLength(2);
    expect((await bob.from("teams").update({ name: "mine" }).eq("id", teamId).select()).data).toEqual([]);
    expect((await bob.from("teams_members").update({ role: "owner" }).eq("user_id", bobId).select()).data).toEqual([]);
    expect((await bob.from("teams").delete().eq("id", teamId).select()).data).toEqual([]);
    // A member may leave.
    expect((await bob.from("teams_members").delete().eq("user_id", bobId).select("user_id")).data).toEqual([{ user_id: bobId }]);
    expect((await bob.from("teams").select("id")).data).toEqual([]);
    expect((await service.from("teams").select("name")).data).toEqual([{ name: "A-team" }]);
    // Helpers are not callable by anon.
    const rpc = await anon.rpc("teams_is_member", { team: teamId });
    expect(rpc.error).not.toBeNull();
  });
});

describe("security-indexes", () => {
  test("indexes the columns the policies filter on that no index leads with; up/down/up; access unchanged", async () => {
    // notes: owner_id and deleted_at are already indexed by their templates.
    const none = renderTemplate("security-indexes", { table: "notes", sql });
    await expect(none).rejects.toBeInstanceOf(TemplateError);
    await expect(none).rejects.toMatchObject({ code: "nothing_to_index" });
    await expect(renderTemplate("security-indexes", { table: "no_such_table", sql })).rejects.toMatchObject({ code: "table_not_found" });

    const content = await renderTemplate("security-indexes", { table: "teams", sql });
    expect(content.up).toContain('create index "teams_created_by_policy_idx" on public."teams" ("created_by")');
    await cycle("security-indexes", "teams", "teams_indexes", "public.teams_created_by_policy_idx");
    // The index serves the policy's filter.
    const plan = await sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`; // a two-row table would be scanned anyway
      return (await tx`explain (format json) select * from public.teams where created_by = ${aliceId}::uuid`)[0];
    });
    expect(JSON.stringify(plan)).toContain("teams_created_by_policy_idx");
    expect((await alice.from("teams").select("name")).data).toEqual([{ name: "A-team" }]);
    expect((await bob.from("teams").select("name")).data).toEqual([]);
    expect((await anon.from("teams").select("name")).data).toEqual([]);
  });
});

describe("table", () => {
  test("up/down/up; RLS on with no policy: only service_role reads and writes", async () => {
    await cycle("table", "plain", "plain", "public.plain");
    await restSees("plain");
    expect((await service.from("plain").insert({}).select("id")).data).toHaveLength(1);
    for (const sb of [anon, alice, bob]) {
      expect((await sb.from("plain").select("id")).data).toEqual([]);
      expect((await sb.from("plain").insert({})).error).not.toBeNull();
    }
    expect((await service.from("plain").select("id")).data).toHaveLength(1);
  });
});

describe("CLI", () => {
  async function cli(cwd: string, ...args: string[]) {
    const proc = Bun.spawn([process.execPath, MAIN, "migrate", ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PLINTH_DB_URL: srv.database.url, PLINTH_MIGRATIONS_DIR: cwd },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { out, err, code };
  }

  test("templates lists every template; new --template writes its up and down; bad names and templates are refused", async () => {
    const cwd = await tmp();
    const list = await cli(cwd, "templates");
    expect(list.code).toBe(0);
    for (const t of TEMPLATES) expect(list.out).toContain(t.name);
    expect(TEMPLATES.map((t) => t.name).sort()).toEqual(["audit-trigger", "owner-table", "security-indexes", "soft-delete", "table", "team"]);

    const made = await cli(cwd, "new", "add posts", "--template", "owner-table");
    expect(made.code).toBe(0);
    const files = (await readdir(cwd)).sort();
    expect(files).toHaveLength(2);
    expect(await readFile(join(cwd, files.find((f) => f.endsWith(".up.sql"))!), "utf8")).toContain('create table public."add_posts"');
    const withTable = await cli(cwd, "new", "hide_deleted", "--template=soft-delete", "--table", "posts");
    expect(withTable.code).toBe(0);
    expect(withTable.out).toContain("_hide_deleted.up.sql");

    const bad = await cli(cwd, "new", "x", "--template", "nope");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("unknown template 'nope'");
    const injection = await cli(cwd, "new", "x", "--template", "table", "--table", 'a"; drop table notes; --');
    expect(injection.code).toBe(1);
    expect(injection.err).toContain("must be lower-case letters");
    expect((await cli(cwd, "new", "x", "--table", "t")).code).toBe(2);
    expect((await readdir(cwd)).length).toBe(4); // nothing written by the refused ones
    const idx = await cli(cwd, "new", "idx", "--template", "security-indexes", "--table", "teams");
    expect(idx.code).toBe(1); // already indexed by the test above
    expect(idx.err).toContain("already leads an index");
  });
});
