// Attacks on keys (issue 16) that must keep failing: forged tokens (alg none, HS256 signed with the
// public key, unknown and mismatched kids, an attacker's key under the real kid, an embedded jwk
// header, crit, non-canonical encodings, expired, a revoked key's token), scope escapes (path tricks,
// schema switching, embeds into unscoped tables in every select syntax, rpc, storage paths and
// bucket-in-body endpoints, a user token beside a scoped apikey) and secret keys from a browser.
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT } from "jose";
import { createHmac } from "node:crypto";
import { masterKey, openPrivateKey } from "../src/keys/at-rest.ts";
import { TEST_SECRET } from "./support/app.ts";
import { startTestServer } from "./support/server.ts";

setDefaultTimeout(60_000);
const MASTER = "a-master-secret-for-the-signing-keys-0123456789";
const s = await startTestServer({ auth: { signingAlg: "ES256", keysMasterSecret: MASTER } });
const sql = s.database.db.sql;

async function req(path: string, headers: Record<string, string>, init: RequestInit = {}) {
  const res = await fetch(`${s.url}${path}`, { ...init, headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, code: body?.code ?? body?.error_code };
}
const withKey = (key: string, bearer = key, extra: Record<string, string> = {}) => ({ apikey: key, authorization: `Bearer ${bearer}`, ...extra });
const asUser = (token: string) => req("/rest/v1/notes?select=body", withKey(s.keys.anon, token));

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${s.url}/admin/v1${path}`, {
    method,
    headers: { ...withKey(s.keys.service_role), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

let kid: string;
let realKey: CryptoKey;
let publicJwk: Record<string, unknown>;
const now = () => Math.floor(Date.now() / 1000);
const claims = () => ({ role: "authenticated", sub: crypto.randomUUID(), aud: "authenticated", iat: now(), exp: now() + 600 });
const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

beforeAll(async () => {
  await sql.unsafe(`
    create table public.notes (id serial primary key, body text);
    create table public.secrets (id serial primary key, value text, note_id int references public.notes (id));
    insert into public.notes (body) values ('hello');
    insert into public.secrets (value, note_id) values ('s3cret', 1);
    create schema other;
    create table other.notes (id int, value text);
    grant usage on schema other to anon, authenticated, service_role;
    grant select on all tables in schema public to anon, authenticated, service_role;
    grant select on other.notes to anon, authenticated, service_role;
    create function public.leak() returns setof public.secrets language sql security definer as 'select * from public.secrets';
    grant execute on function public.leak() to anon, authenticated, service_role;
    notify pgrst, 'reload schema';
  `);
  const [row] = await sql<{ kid: string; private_enc: string; public_jwk: Record<string, unknown> }[]>`
    select kid, private_enc, public_jwk from plinth.signing_keys where status = 'current'`;
  kid = row!.kid;
  publicJwk = row!.public_jwk;
  realKey = (await importJWK(openPrivateKey(masterKey(MASTER, TEST_SECRET), kid, row!.private_enc) as never, "ES256")) as CryptoKey;
  await Bun.sleep(200);
});

describe("forged tokens", () => {
  test("a token signed with the real current key passes (the control)", async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid, typ: "JWT" }).sign(realKey);
    expect((await asUser(token)).status).toBe(200);
  });

  test("alg none, with and without the real kid", async () => {
    for (const header of [{ alg: "none", typ: "JWT" }, { alg: "none", kid }, { alg: "None", kid }, { alg: "nOnE" }]) {
      const r = await asUser(`${b64(header)}.${b64(claims())}.`);
      expect(r.status).toBe(401);
    }
  });

  test("HS256 signed with the public key (algorithm confusion), in every form an attacker might guess", async () => {
    const pem = await exportSPKI((await importJWK(publicJwk as never, "ES256", { extractable: true })) as CryptoKey);
    for (const secret of [pem, JSON.stringify(publicJwk), String(publicJwk.x), kid]) {
      for (const header of [
        { alg: "HS256", kid, typ: "JWT" },
        { alg: "HS256", typ: "JWT" },
      ]) {
        const body = `${b64(header)}.${b64(claims())}`;
        const token = `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
        const r = await asUser(token);
        expect(r.status).toBe(401);
      }
    }
  });

  test("unknown kid, missing kid, RS256 header on the ES256 kid, an attacker's key under the real kid, an embedded jwk", async () => {
    const attacker = await generateKeyPair("ES256");
    const cases = [
      await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid: crypto.randomUUID() }).sign(realKey),
      await new SignJWT(claims()).setProtectedHeader({ alg: "ES256" }).sign(realKey),
      await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid }).sign(attacker.privateKey),
      await new SignJWT(claims())
        .setProtectedHeader({ alg: "ES256", kid: "attacker", jwk: { ...(await exportJWK(attacker.publicKey)) } })
        .sign(attacker.privateKey),
      await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid, jwk: { ...(await exportJWK(attacker.publicKey)) } }).sign(attacker.privateKey),
      await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid, jku: "https://evil.example/jwks.json" }).sign(attacker.privateKey),
    ];
    const rs = await generateKeyPair("RS256");
    cases.push(await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid }).sign(rs.privateKey));
    for (const token of cases) {
      const r = await asUser(token);
      expect(r.status).toBe(401);
      expect(r.code).toBe("invalid_jwt");
    }
  });

  test("crit headers, non-canonical encodings and a changed payload under a valid signature", async () => {
    const good = await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid, typ: "JWT" }).sign(realKey);
    const [h, p, sig] = good.split(".") as [string, string, string];
    const crit = await new SignJWT({ ...claims(), x: 1 })
      .setProtectedHeader({ alg: "ES256", kid, crit: ["x"], x: 1 } as never)
      .sign(realKey)
      .catch(() => null);
    for (const token of [
      `${h}=.${p}.${sig}`,
      `${h}.${p}.${sig}=`,
      `${h}.${p.replace(/-/g, "+").replace(/_/g, "/")}x.${sig}`,
      `${h}.${b64({ ...claims(), role: "service_role" })}.${sig}`,
      `${h}.${p}.${sig.slice(0, -2)}AA`,
      ...(crit ? [crit] : []),
    ]) {
      expect((await asUser(token)).status).toBe(401);
    }
  });

  test("an expired token signed with the real key is jwt_expired; a revoked key's token is refused even after it was cached", async () => {
    const expired = await new SignJWT({ ...claims(), iat: now() - 7200, exp: now() - 3600 }).setProtectedHeader({ alg: "ES256", kid }).sign(realKey);
    const r = await asUser(expired);
    expect([r.status, r.code]).toEqual([401, "jwt_expired"]);
    const cached = await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid }).sign(realKey);
    expect((await asUser(cached)).status).toBe(200);
    await admin("POST", "/keys/signing/rotate", {});
    expect((await asUser(cached)).status).toBe(200);
    await admin("POST", `/keys/signing/${kid}/revoke`);
    const refused = await asUser(cached);
    expect([refused.status, refused.code]).toEqual([401, "signing_key_revoked"]);
    // A freshly signed token with the revoked key too.
    const fresh = await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid }).sign(realKey);
    expect((await asUser(fresh)).code).toBe("signing_key_revoked");
  });
});

describe("scope escapes", () => {
  let scoped: string;
  let storageKey: string;
  beforeAll(async () => {
    scoped = (await admin("POST", "/keys/api", { name: "notes-only", kind: "scoped", scopes: ["rest:read:public.notes"], role: "service_role" })).body.key;
    storageKey = (
      await admin("POST", "/keys/api", {
        name: "avatars-only",
        kind: "scoped",
        scopes: ["storage:read:avatars", "storage:write:avatars"],
        role: "service_role",
      })
    ).body.key;
  });

  test("path tricks and schema switching cannot reach another table", async () => {
    expect((await req("/rest/v1/notes?select=body", withKey(scoped))).status).toBe(200);
    for (const [path, extra] of [
      ["/rest/v1/notes/../secrets", {}],
      ["/rest/v1/notes/%2e%2e/secrets", {}],
      ["/rest/v1/%73ecrets", {}],
      ["/rest/v1/notes%2F..%2Fsecrets", {}],
      ["/rest/v1/notes/", {}],
      ["/rest/v1/notes/x", {}],
      ["/rest/v1//secrets", {}],
      ["/rest/v1/notes", { "accept-profile": "other" }],
      ["/rest/v1/Notes", {}],
    ] as const) {
      const r = await req(path, withKey(scoped, scoped, extra));
      expect([path, r.status]).toEqual([path, r.status === 404 ? 404 : 403]);
      expect(JSON.stringify(r.body)).not.toContain("s3cret");
      if (r.status === 403) expect(r.code).toBe("scope_denied");
    }
  });

  test("embedding an unscoped table, in every select syntax, is refused before any SQL", async () => {
    for (const select of [
      "*,secrets(*)",
      "*,x:secrets(*)",
      "*,...secrets(value)",
      "*,secrets!inner(*)",
      '*,"secrets"(*)',
      "*,secrets!secrets_note_id_fkey(*)",
      "body,s:secrets!inner(value)",
      "*,notes(*,secrets(*))",
      "*, secrets (*)",
      "*,secrets(*",
    ]) {
      const r = await req(`/rest/v1/notes?select=${encodeURIComponent(select)}`, withKey(scoped));
      expect([select, r.status, r.code]).toEqual([select, 403, "scope_denied"]);
    }
    // Two select parameters: the second is checked too.
    expect((await req("/rest/v1/notes?select=body&select=*,secrets(*)", withKey(scoped))).status).toBe(403);
  });

  test("rpc (a security definer function reading another table) needs an rpc scope", async () => {
    for (const method of ["GET", "POST"]) {
      const r = await req(
        "/rest/v1/rpc/leak",
        { ...withKey(scoped), "content-type": "application/json" },
        { method, body: method === "POST" ? "{}" : undefined },
      );
      expect([method, r.status, r.code]).toEqual([method, 403, "scope_denied"]);
    }
  });

  test("a user's token beside a scoped apikey does not lift the apikey's scopes", async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "ES256", kid: (await admin("GET", "/keys/signing")).body.find((k: { status: string }) => k.status === "current").kid })
      .sign(realKey)
      .catch(() => null);
    // Whatever the bearer (a legacy user token here), the scoped apikey's scopes bind the request.
    const r = await req("/rest/v1/secrets", { apikey: scoped, authorization: `Bearer ${s.keys.service_role}` });
    expect([r.status, r.code]).toEqual([403, "scope_denied"]);
    void token;
  });

  test("storage: other buckets through path tricks, the public route, signed URLs, move/copy with buckets in the body", async () => {
    const cases: [string, string][] = [
      ["GET", "/storage/v1/object/private/x.txt"],
      ["GET", "/storage/v1/object/avatars/../private/x.txt"],
      ["GET", "/storage/v1/object/avatars%2F..%2Fprivate/x.txt"],
      ["GET", "/storage/v1/object/public/private/x.txt"],
      ["GET", "/storage/v1/object/authenticated/private/x.txt"],
      ["POST", "/storage/v1/object/sign/private/x.txt"],
      ["POST", "/storage/v1/object/list/private"],
      ["POST", "/storage/v1/object/move"],
      ["POST", "/storage/v1/object/copy"],
      ["POST", "/storage/v1/bucket"],
      ["DELETE", "/storage/v1/bucket/avatars"],
      ["POST", "/storage/v1/upload/resumable"],
      ["GET", "/storage/v1/s3/private"],
      ["GET", "/storage/v1/render/image/authenticated/private/x.png"],
    ];
    for (const [method, path] of cases) {
      const r = await req(path, { ...withKey(storageKey), "content-type": "application/json" }, { method, body: method === "GET" ? undefined : "{}" });
      expect([method, path, r.code]).toEqual([method, path, "scope_denied"]);
    }
    const own = await req("/storage/v1/object/avatars/x.txt", withKey(storageKey));
    expect(own.code).not.toBe("scope_denied");
  });

  test("the scoped key reaches neither auth admin nor the admin API", async () => {
    expect((await req("/auth/v1/admin/users", withKey(scoped))).code).toBe("scope_denied");
    expect((await req("/admin/v1/keys/api", withKey(scoped))).code).toBe("scope_denied");
    expect((await req("/admin/v1/keys/api", withKey(scoped), { method: "POST" })).code).toBe("scope_denied");
  });
});

describe("secret keys from a browser", () => {
  test("refused with any Origin, in the apikey header, the query or the bearer; a scoped service_role key too", async () => {
    const secret = (await admin("POST", "/keys/api", { name: "server-only", kind: "secret" })).body.key;
    const scoped = (await admin("POST", "/keys/api", { name: "scoped-admin", kind: "scoped", scopes: ["rest:read:*"], role: "service_role" })).body.key;
    for (const origin of ["https://evil.example", "null", "http://localhost:3000"]) {
      expect((await req("/rest/v1/notes", withKey(secret, secret, { origin }))).code).toBe("secret_key_in_browser");
      expect((await req(`/rest/v1/notes?apikey=${secret}`, { origin })).code).toBe("secret_key_in_browser");
      expect((await req("/rest/v1/notes", withKey(s.keys.anon, secret, { origin }))).code).toBe("secret_key_in_browser");
      expect((await req("/rest/v1/notes", withKey(scoped, scoped, { origin }))).code).toBe("secret_key_in_browser");
    }
    expect((await req("/rest/v1/notes", withKey(secret))).status).toBe(200);
  });

  test("garbage opaque keys are 401 invalid_api_key, never a 500", async () => {
    for (const key of ["sb_", "sb_secret_", `sb_secret_${"A".repeat(6_000)}`, "sb_publishable_%00", "sb_scoped_é"]) {
      const r = await req("/rest/v1/notes", { apikey: key });
      expect([key.slice(0, 20), r.status, r.code]).toEqual([key.slice(0, 20), 401, "invalid_api_key"]);
    }
  });
});
