// API keys (issue 16) on a whole server, created and managed the way an operator does it — the
// `plinth keys …` CLI as subprocesses against the server's database — and used over HTTP:
// publishable keys act as anon, secret keys as service_role (refused from a browser), scoped keys
// only within their scopes (403 scope_denied before any SQL). Secrets are shown once and stored
// hashed; rotation with an overlap; revocation and the legacy switch reach the running server within
// a second; usage is counted in memory and flushed, never written per request.
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TEST_SECRET } from "./support/app.ts";
import { startTestServer } from "./support/server.ts";

setDefaultTimeout(60_000);
const MASTER = "a-master-secret-for-the-signing-keys-0123456789";
const MAIN = resolve(import.meta.dir, "../src/main.ts");
const s = await startTestServer({ auth: { signingAlg: "ES256", keysMasterSecret: MASTER } });
const sql = s.database.db.sql;
const cwd = mkdtempSync(join(tmpdir(), "plinth-keys-cli-"));
chmodSync(cwd, 0o755);

function plinth(args: string[]) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], {
    cwd,
    env: {
      ...clean,
      PLINTH_DB_URL: s.database.url,
      PLINTH_DATA_DIR: join(cwd, "data"),
      PLINTH_JWT_SECRET: TEST_SECRET,
      PLINTH_KEYS_MASTER_SECRET: MASTER,
      PLINTH_LOG_LEVEL: "warn",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** Creates a key with the CLI and waits until the server has heard of it (NOTIFY, within a second). */
async function createKey(name: string, ...flags: string[]) {
  const r = plinth(["keys", "api", "create", name, ...flags, "--json"]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const k = JSON.parse(r.out) as { id: string; name: string; key: string; kind: string; role: string; prefix: string; scopes: string[] };
  expect(await until(async () => (await req("/auth/v1/health", k.key)).code !== "invalid_api_key", 1000)).toBeLessThan(1000);
  return k;
}

async function req(path: string, key: string | null, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (key) {
    headers.apikey = key;
    headers.authorization ??= `Bearer ${key}`;
  }
  const res = await fetch(`${s.url}${path}`, { ...init, headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, code: body?.code ?? body?.error_code ?? body?.error };
}

async function until(fn: () => Promise<boolean>, ms = 1500): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await fn()) return performance.now() - started;
    await Bun.sleep(20);
  }
  return Number.POSITIVE_INFINITY;
}

beforeAll(async () => {
  await sql.unsafe(`
    create table public.notes (id serial primary key, body text, order_id int);
    create table public.orders (id serial primary key, total int);
    create table public.secrets (id serial primary key, value text);
    alter table public.notes add constraint notes_order foreign key (order_id) references public.orders (id);
    insert into public.orders (total) values (10);
    insert into public.notes (body, order_id) values ('hello', 1);
    insert into public.secrets (value) values ('s3cret');
    grant select on public.notes, public.orders to anon;
    grant all on public.notes, public.orders, public.secrets to service_role;
    grant usage on all sequences in schema public to anon, service_role;
    create function public.ping() returns int language sql as 'select 1';
    create function public.whoami() returns text language sql as 'select current_user::text';
    grant execute on function public.ping() to anon, service_role;
    notify pgrst, 'reload schema';
  `);
  await Bun.sleep(300);
});

describe("publishable and secret keys (Supabase's new kinds)", () => {
  test("created with the CLI: the secret is printed once, with a recognisable prefix; only its sha256 is stored", async () => {
    const pub = await createKey("web", "--kind", "publishable");
    expect(pub.key.startsWith("sb_publishable_")).toBe(true);
    expect(pub).toMatchObject({ name: "web", kind: "publishable", role: "anon" });
    expect(pub.key.startsWith(pub.prefix)).toBe(true);
    const [row] = await sql<{ secret_hash: string; all: string }[]>`select secret_hash, k::text as all from plinth.api_keys k where id = ${pub.id}`;
    expect(row!.secret_hash).toBe(new Bun.CryptoHasher("sha256").update(pub.key).digest("hex"));
    expect(row!.all).not.toContain(pub.key);
    const list = JSON.parse(plinth(["keys", "api", "list", "--json"]).out) as Record<string, unknown>[];
    expect(list.find((k) => k.id === pub.id)).toMatchObject({ name: "web", kind: "publishable", status: "active" });
    expect(JSON.stringify(list)).not.toContain(pub.key);
  });

  test("a publishable key acts as anon; a secret key as service_role; several of each, named", async () => {
    const pub = await createKey("web2", "--kind", "publishable");
    const secret = await createKey("backend", "--kind", "secret");
    const secret2 = await createKey("worker", "--kind", "secret");
    expect(secret.key.startsWith("sb_secret_")).toBe(true);
    expect((await req("/rest/v1/notes?select=body", pub.key)).body).toEqual([{ body: "hello" }]);
    expect((await req("/rest/v1/rpc/whoami", pub.key, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).body).toBe("anon");
    expect((await req("/rest/v1/rpc/whoami", secret.key, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).body).toBe(
      "service_role",
    );
    expect((await req("/rest/v1/secrets?select=value", secret.key)).body).toEqual([{ value: "s3cret" }]);
    expect((await req("/rest/v1/secrets?select=value", secret2.key)).body).toEqual([{ value: "s3cret" }]);
    // A user's session with a publishable apikey: the user's token decides.
    const signUp = await req("/auth/v1/signup", pub.key, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `k${Date.now()}@example.com`, password: "Key-password-1" }),
    });
    expect(signUp.status).toBe(200);
    const me = await req("/auth/v1/user", pub.key, { headers: { authorization: `Bearer ${signUp.body.access_token}` } });
    expect(me.status).toBe(200);
  });

  test("a secret key is refused from a browser (Origin header); a publishable key is not", async () => {
    const secret = await createKey("browser-test", "--kind", "secret");
    const pub = await createKey("browser-pub", "--kind", "publishable");
    const r = await req("/rest/v1/notes", secret.key, { headers: { origin: "https://app.example.com" } });
    expect(r.status).toBe(401);
    expect(r.code).toBe("secret_key_in_browser");
    expect((await req("/rest/v1/notes", pub.key, { headers: { origin: "https://app.example.com" } })).status).toBe(200);
  });

  test("unknown keys are 401 invalid_api_key; bad create input exits 2 or 1 with a reason", async () => {
    const r = await req("/rest/v1/notes", "sb_secret_doesnotexist");
    expect(r.status).toBe(401);
    expect(r.code).toBe("invalid_api_key");
    expect(plinth(["keys", "api", "create", "x", "--json"]).code).toBe(2); // no --kind
    const dup = plinth(["keys", "api", "create", "web", "--kind", "publishable"]);
    expect(dup.code).toBe(1);
    expect(dup.err).toContain("api_key_exists");
    expect(plinth(["keys", "api", "create", "bad name!", "--kind", "secret"]).err).toContain("validation_failed");
    expect(plinth(["keys", "api", "create", "sc", "--kind", "scoped", "--scopes", "rest:delete:everything"]).err).toContain("is not a scope");
    expect(plinth(["keys", "api", "create", "sc", "--kind", "publishable", "--role", "service_role"]).err).toContain("acts as anon");
    expect(plinth(["keys", "api", "create", "sc", "--kind", "secret", "--expires", "soon"]).code).toBe(2);
  });
});

describe("scoped keys", () => {
  test("rest:read:public.notes reads notes only: other tables, writes, embeds, rpc, storage, realtime and auth are 403 scope_denied", async () => {
    const k = await createKey("notes-reader", "--kind", "scoped", "--scopes", "rest:read:public.notes", "--role", "service_role");
    expect(k.key.startsWith("sb_scoped_")).toBe(true);
    expect((await req("/rest/v1/notes?select=body", k.key)).body).toEqual([{ body: "hello" }]);
    for (const [path, init] of [
      ["/rest/v1/secrets", {}],
      ["/rest/v1/orders", {}],
      ["/rest/v1/notes", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }],
      ["/rest/v1/notes?id=eq.1", { method: "DELETE" }],
      ["/rest/v1/notes?select=*,orders(*)", {}],
      ["/rest/v1/rpc/ping", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }],
      ["/rest/v1/", {}],
      ["/auth/v1/admin/users", {}],
      ["/admin/v1/keys/api", {}],
    ] as const) {
      const r = await req(path, k.key, init as never);
      expect([path, r.status, r.code]).toEqual([path, 403, "scope_denied"]);
    }
    // Storage answers in its own wire shape (HTTP 400 with statusCode "403", as supabase/storage does).
    const st = await req("/storage/v1/bucket", k.key);
    expect([st.body.statusCode, st.code]).toEqual(["403", "scope_denied"]);
  });

  test("rest:write and rest:rpc, storage bucket scopes, and an expiry", async () => {
    const k = await createKey(
      "orders-writer",
      "--kind",
      "scoped",
      "--scopes",
      "rest:write:public.orders,rest:rpc:public.ping,storage:read:avatars",
      "--role",
      "service_role",
      "--expires",
      "2s",
    );
    const w = await req("/rest/v1/orders", k.key, { method: "POST", body: JSON.stringify({ total: 5 }), headers: { "content-type": "application/json" } });
    expect(w.status).toBe(201);
    expect((await req("/rest/v1/orders", k.key)).code).toBe("scope_denied"); // write is not read
    expect((await req("/rest/v1/rpc/ping", k.key, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).body).toBe(1);
    expect((await req("/storage/v1/object/avatars/a.png", k.key)).code).not.toBe("scope_denied");
    expect((await req("/storage/v1/object/private/a.png", k.key)).code).toBe("scope_denied");
    expect((await req("/storage/v1/object/avatars/a.png", k.key, { method: "POST", body: "x" })).code).toBe("scope_denied");
    const took = await until(
      async () =>
        (await req("/rest/v1/rpc/ping", k.key, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).code === "api_key_expired",
      3500,
    );
    expect(took).toBeLessThan(3500);
  });
});

describe("rotation, revocation, usage", () => {
  test("rotate NAME --overlap: both keys work until the overlap ends, then the old one is 401 api_key_expired", async () => {
    const old = await createKey("rotating", "--kind", "secret");
    const r = plinth(["keys", "rotate", "rotating", "--overlap", "2s", "--json"]);
    expect(r.code).toBe(0);
    const fresh = JSON.parse(r.out) as { key: string; name: string; replaces: string };
    expect(fresh).toMatchObject({ name: "rotating", replaces: old.id });
    expect(fresh.key).not.toBe(old.key);
    await Bun.sleep(100);
    expect((await req("/rest/v1/secrets", old.key)).status).toBe(200);
    expect((await req("/rest/v1/secrets", fresh.key)).status).toBe(200);
    const took = await until(async () => (await req("/rest/v1/secrets", old.key)).code === "api_key_expired", 3500);
    expect(took).toBeLessThan(3500);
    expect((await req("/rest/v1/secrets", fresh.key)).status).toBe(200);
    // Also under `keys api rotate`.
    expect(plinth(["keys", "api", "rotate", "rotating", "--overlap", "1h", "--json"]).code).toBe(0);
  });

  test("revoke NAME from the CLI: the running server refuses the key within a second (401 api_key_revoked)", async () => {
    const k = await createKey("to-revoke", "--kind", "secret");
    expect((await req("/rest/v1/secrets", k.key)).status).toBe(200);
    const r = plinth(["keys", "api", "revoke", "to-revoke", "--json"]);
    expect(r.code).toBe(0);
    const took = await until(async () => (await req("/rest/v1/secrets", k.key)).code === "api_key_revoked", 1000);
    expect(took).toBeLessThan(1000);
    const events = await sql<{ kind: string }[]>`select kind from plinth.security_events where details->>'name' = 'to-revoke' order by id`;
    expect(events.map((e) => e.kind)).toEqual(["key_created", "key_revoked"]);
    const audit = await sql<
      { action: string; actor_kind: string }[]
    >`select action, actor_kind from plinth.audit_log where target = 'api_key:to-revoke' order by id`;
    expect(audit.map((a) => a.action)).toEqual(["keys.api.create", "keys.api.revoke"]);
    expect(audit.every((a) => a.actor_kind === "cli")).toBe(true);
  });

  test("usage is counted in memory (no write per request) and flushed: last used and request counts per key", async () => {
    const k = await createKey("counted", "--kind", "publishable");
    for (let i = 0; i < 7; i++) expect((await req("/rest/v1/notes", k.key)).status).toBe(200);
    const [before] = await sql<
      { request_count: string; last_used_at: Date | null }[]
    >`select request_count, last_used_at from plinth.api_keys where id = ${k.id}`;
    expect(Number(before!.request_count)).toBe(0);
    expect(before!.last_used_at).toBeNull();
    // The admin listing flushes this node's counts first.
    const list = await req("/admin/v1/keys/api", s.keys.service_role);
    const row = list.body.find((x: { id: string }) => x.id === k.id);
    // 7 here, plus createKey's probe(s) waiting for the server to know the key.
    expect(row.request_count).toBeGreaterThanOrEqual(8);
    expect(row.request_count).toBeLessThan(20);
    expect(row.last_used_at).toBeTruthy();
    const [after] = await sql<{ request_count: string }[]>`select request_count from plinth.api_keys where id = ${k.id}`;
    expect(Number(after!.request_count)).toBe(row.request_count);
  });
});

describe("signing keys from the CLI", () => {
  test("list --json is [{kid, alg, status}]; create, rotate and revoke work and reach the server", async () => {
    const list = JSON.parse(plinth(["keys", "signing", "list", "--json"]).out) as { kid: string; alg: string; status: string }[];
    expect(list.every((k) => typeof k.kid === "string" && typeof k.alg === "string" && ["standby", "current", "previous", "revoked"].includes(k.status))).toBe(
      true,
    );
    const current = list.find((k) => k.status === "current")!;
    expect(current.alg).toBe("ES256");
    const created = JSON.parse(plinth(["keys", "signing", "create", "--json"]).out);
    expect(created).toMatchObject({ alg: "ES256", status: "standby" });
    const rotated = JSON.parse(plinth(["keys", "signing", "rotate", "--json"]).out);
    expect(rotated).toMatchObject({ current: created.kid, previous: current.kid });
    const took = await until(async () => {
      const doc = await req("/auth/v1/.well-known/jwks.json", null);
      return doc.body.keys.some((k: { kid: string }) => k.kid === created.kid);
    }, 1000);
    expect(took).toBeLessThan(1000);
    const revoked = plinth(["keys", "signing", "revoke", current.kid, "--json"]);
    expect(JSON.parse(revoked.out)).toEqual({ kid: current.kid, status: "revoked" });
    const again = plinth(["keys", "signing", "revoke", created.kid]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("signing_key_current");
  });
});

describe("legacy JWT API keys", () => {
  test("keep working and keep printing until disabled; disabling reaches the server within a second; enabling restores them", async () => {
    const printed = JSON.parse(plinth(["keys", "--json"]).out);
    expect(printed).toEqual(s.keys);
    expect((await req("/rest/v1/notes", s.keys.anon)).status).toBe(200);
    const disabled = plinth(["keys", "legacy", "disable", "--json"]);
    expect(disabled.code, disabled.err).toBe(0);
    const took = await until(async () => (await req("/rest/v1/notes", s.keys.anon)).code === "legacy_api_keys_disabled", 1000);
    expect(took).toBeLessThan(1000);
    expect(JSON.parse(plinth(["keys", "--json"]).out)).toEqual({ legacy_api_keys: "disabled" });
    expect(JSON.parse(plinth(["keys", "legacy", "status", "--json"]).out)).toEqual({ legacy_api_keys: false });
    expect(plinth(["keys", "legacy", "enable"]).code).toBe(0);
    expect(await until(async () => (await req("/rest/v1/notes", s.keys.anon)).status === 200, 1000)).toBeLessThan(1000);
    expect(JSON.parse(plinth(["keys", "--json"]).out)).toEqual(s.keys);
  });
});

describe("plinth init", () => {
  test("a new project signs with ES256 and has its own master secret (in production too, and passes the production rules)", () => {
    for (const mode of [[], ["--production"]]) {
      const dir = mkdtempSync(join(tmpdir(), "plinth-keys-init-"));
      const file = join(dir, "plinth.yaml");
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PLINTH_")));
      const p = Bun.spawnSync([process.execPath, MAIN, "--config", file, "init", ...mode, "--json"], { cwd: dir, env: clean, stdout: "pipe", stderr: "pipe" });
      expect(p.stderr.toString()).toBe("");
      expect(p.exitCode).toBe(0);
      const text = readFileSync(file, "utf8");
      expect(text).toContain("signingAlg: ES256");
      const master = /keysMasterSecret: "([^"]+)"/.exec(text)?.[1];
      const secret = /secret: "([^"]+)"/.exec(text)?.[1];
      expect(master?.length).toBeGreaterThanOrEqual(32);
      expect(master).not.toBe(secret);
    }
  });
});
