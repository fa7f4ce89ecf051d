// Signing keys (issue 16): a project configured for ES256 signs sessions with its current key and
// publishes it in the JWKS; rotation (standby → current → previous) signs nobody out; revoking the
// previous key refuses its tokens at once — on this node and, through LISTEN/NOTIFY or the one-second
// re-check, on a second node (another pool on the same database). Legacy HS256 keeps verifying until
// retired. Keys are encrypted at rest; a JWK set file imports Supabase keys; production refuses a
// missing master secret. Every change is audited and raised as a security event.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { createApp } from "../src/app.ts";
import { createAdminService } from "../src/admin/service.ts";
import { createAuthService } from "../src/auth/service.ts";
import { unsafeSettings } from "../src/config/production.ts";
import { connect } from "../src/db/pool.ts";
import { openPrivateKey, masterKey } from "../src/keys/at-rest.ts";
import { keyRingFor, RECHECK_MS } from "../src/keys/ring.ts";
import { createLogger } from "../src/log.ts";
import { adminApp, uniqueEmail } from "./support/admin.ts";
import { testConfig, tokenFor, TEST_SECRET } from "./support/app.ts";
import { freshDatabase } from "./support/db.ts";

const MASTER = "a-master-secret-for-the-signing-keys-0123456789";
const t = await adminApp({ auth: { signingAlg: "ES256", keysMasterSecret: MASTER } });
const service = t.keys.service_role;

async function signUp(call = t.call) {
  const r = await call("POST", "/auth/v1/signup", { email: uniqueEmail("sig"), password: "Sig-password-1" }, { apikey: t.keys.anon });
  expect(r.status).toBe(200);
  return r.body.access_token as string;
}

const asAdmin = (method: string, path: string, body?: unknown) => t.call(method, path, body, { apikey: service, token: service });
const user = (token: string, call = t.call) => call("GET", "/auth/v1/user", undefined, { apikey: t.keys.anon, token });
const jwks = async (call = t.call) => (await call("GET", "/auth/v1/.well-known/jwks.json")).body as { keys: Record<string, unknown>[] };

describe("a new ES256 project", () => {
  test("signs sessions with its current ES256 key, which the JWKS publishes (public half only); the token verifies against it", async () => {
    const list = await asAdmin("GET", "/keys/signing");
    expect(list.status).toBe(200);
    const current = list.body.filter((k: { status: string }) => k.status === "current");
    expect(current).toHaveLength(1);
    expect(current[0]).toMatchObject({ alg: "ES256" });
    expect(list.body.find((k: { kid: string }) => k.kid === "legacy-hs256")).toMatchObject({ alg: "HS256", status: "previous" });

    const token = await signUp();
    expect(decodeProtectedHeader(token)).toEqual({ alg: "ES256", kid: current[0].kid, typ: "JWT" });
    const doc = await jwks();
    expect(doc.keys.map((k) => k.kid)).toEqual([current[0].kid]);
    for (const k of doc.keys) for (const secret of ["d", "p", "q", "dp", "dq", "qi"]) expect(k[secret]).toBeUndefined();
    const { payload } = await jwtVerify(token, createLocalJWKSet(doc as never));
    expect(payload.role).toBe("authenticated");
    expect((await user(token)).status).toBe(200);
  });

  test("the JWKS is cacheable and revalidates with its ETag; it needs no key", async () => {
    const res = await t.app.fetch(new Request("http://localhost/auth/v1/.well-known/jwks.json"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("max-age=");
    const etag = res.headers.get("etag")!;
    expect(etag).toBeTruthy();
    const again = await t.app.fetch(new Request("http://localhost/auth/v1/.well-known/jwks.json", { headers: { "if-none-match": etag } }));
    expect(again.status).toBe(304);
  });

  test("private keys are stored only encrypted, under the master secret (another master secret cannot open them)", async () => {
    const rows = await t.sql<{ kid: string; private_enc: string; public_jwk: Record<string, unknown> }[]>`
      select kid, private_enc, public_jwk from plinth.signing_keys where alg <> 'HS256'`;
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.private_enc.startsWith("v1:")).toBe(true);
      expect(r.private_enc).not.toContain('"d"');
      expect(r.public_jwk.d).toBeUndefined();
      const jwk = openPrivateKey(masterKey(MASTER, TEST_SECRET), r.kid, r.private_enc);
      expect(typeof jwk?.d).toBe("string");
      expect(openPrivateKey(masterKey("another-master-secret-another-master-secret", TEST_SECRET), r.kid, r.private_enc)).toBeNull();
      expect(openPrivateKey(masterKey(undefined, TEST_SECRET), r.kid, r.private_enc)).toBeNull();
    }
  });

  test("legacy HS256 tokens and the legacy anon key keep working while the legacy secret is not revoked", async () => {
    expect((await t.call("GET", "/auth/v1/settings", undefined, { apikey: t.keys.anon })).status).toBe(200);
    const legacy = await tokenFor({ role: "authenticated", sub: crypto.randomUUID() });
    expect(decodeProtectedHeader(legacy).alg).toBe("HS256");
    // GET /user looks the user up: an unknown sub gets past the gateway (not 401 invalid_jwt).
    const r = await t.call("GET", "/auth/v1/user", undefined, { apikey: t.keys.anon, token: legacy });
    expect(r.body?.code).not.toBe("invalid_jwt");
  });
});

describe("rotation without signing anyone out", () => {
  test("standby → current → previous → revoked; old sessions stay valid until the previous key is revoked; each change audited and raised", async () => {
    const before = await signUp();
    const oldKid = decodeProtectedHeader(before).kid!;

    const standby = await asAdmin("POST", "/keys/signing", { alg: "ES256" });
    expect(standby.status).toBe(201);
    expect(standby.body).toMatchObject({ alg: "ES256", status: "standby" });
    // The standby key is published ahead of use, so verifiers that cache the JWKS know it in time.
    expect((await jwks()).keys.map((k) => k.kid).sort()).toEqual([oldKid, standby.body.kid].sort());

    const rotated = await asAdmin("POST", "/keys/signing/rotate", {});
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ current: standby.body.kid, previous: oldKid });

    const after = await signUp();
    expect(decodeProtectedHeader(after).kid).toBe(standby.body.kid);
    expect((await user(before)).status).toBe(200); // nobody signed out
    expect((await user(after)).status).toBe(200);

    const statuses = Object.fromEntries((await asAdmin("GET", "/keys/signing")).body.map((k: { kid: string; status: string }) => [k.kid, k.status]));
    expect(statuses[oldKid]).toBe("previous");
    expect(statuses[standby.body.kid]).toBe("current");

    expect((await asAdmin("POST", `/keys/signing/${standby.body.kid}/revoke`)).body.code).toBe("signing_key_current");
    const revoked = await asAdmin("POST", `/keys/signing/${oldKid}/revoke`);
    expect(revoked.status).toBe(200);
    const refused = await user(before);
    expect(refused.status).toBe(401);
    expect(refused.body.code ?? refused.body.error_code).toBe("signing_key_revoked");
    expect((await user(after)).status).toBe(200);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([standby.body.kid]);
    expect((await asAdmin("POST", `/keys/signing/${oldKid}/revoke`)).body.code).toBe("signing_key_revoked");

    const events = await t.sql<{ kind: string; details: Record<string, unknown> }[]>`
      select kind, details from plinth.security_events where details->>'key' = 'signing' order by id`;
    expect(events.some((e) => e.kind === "key_created" && e.details.kid === standby.body.kid)).toBe(true);
    expect(events.some((e) => e.kind === "key_revoked" && e.details.kid === oldKid)).toBe(true);
    const audit = await t.sql<{ action: string; security: boolean; outcome: string }[]>`
      select action, security, outcome from plinth.audit_log where action like 'keys.signing.%' and outcome = 'ok' order by id`;
    expect(
      audit.map((a) => a.action),
      JSON.stringify(audit),
    ).toEqual(expect.arrayContaining(["keys.signing.create", "keys.signing.rotate", "keys.signing.revoke"]));
    expect(
      audit.filter((a) => a.action !== "keys.signing.list").every((a) => a.security),
      JSON.stringify(audit),
    ).toBe(true);
  });

  test("RS256 is an option: an RS256 key becomes current and signs RS256 tokens", async () => {
    const created = await asAdmin("POST", "/keys/signing", { alg: "RS256" });
    expect(created.body.alg).toBe("RS256");
    await asAdmin("POST", "/keys/signing/rotate", { kid: created.body.kid });
    const token = await signUp();
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", kid: created.body.kid });
    const doc = await jwks();
    expect(doc.keys.find((k) => k.kid === created.body.kid)).toMatchObject({ kty: "RSA", alg: "RS256" });
    await jwtVerify(token, createLocalJWKSet(doc as never));
    expect((await user(token)).status).toBe(200);
    // Back to ES256 for the tests below.
    await asAdmin("POST", "/keys/signing/rotate", { alg: "ES256" });
  });

  test("bad input is a clear 400/404/409 with a code, never a 500", async () => {
    expect((await asAdmin("POST", "/keys/signing", { alg: "none" })).body.code).toBe("validation_failed");
    expect((await asAdmin("POST", "/keys/signing", { alg: "HS256" })).body.code).toBe("validation_failed");
    expect((await asAdmin("POST", "/keys/signing", [1, 2])).status).toBe(400);
    expect((await asAdmin("POST", "/keys/signing/rotate", { kid: 42 })).body.code).toBe("validation_failed");
    expect((await asAdmin("POST", "/keys/signing/rotate", { kid: "nope" })).body.code).toBe("signing_key_not_found");
    expect((await asAdmin("POST", "/keys/signing/%E0%A4%A/revoke")).status).toBe(404);
  });
});

describe("two nodes", () => {
  const second = connect(t.database.url, { max: 3 });
  const log = createLogger("silent");
  const app2 = (async () => {
    const ctx = { config: t.config, db: second, log, jwtSecret: TEST_SECRET, dbUrl: t.database.url };
    return createApp({ config: t.config, db: second, log, jwtSecret: TEST_SECRET, services: [await createAuthService(ctx), await createAdminService(ctx)] });
  })();
  afterAll(async () => {
    await (await app2).stop();
    await second.close();
  });
  const call2 = async (method: string, path: string, body?: unknown, opts: { apikey?: string; token?: string } = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (opts.apikey) headers.apikey = opts.apikey;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const res = await (await app2).fetch(
      new Request(`http://localhost${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
      {
        requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }),
      },
    );
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };

  async function refusedWithin(token: string, ms: number): Promise<number> {
    const started = performance.now();
    while (performance.now() - started < ms) {
      if ((await user(token, call2 as never)).status === 401) return performance.now() - started;
      await Bun.sleep(20);
    }
    return Number.POSITIVE_INFINITY;
  }

  test("a revocation on node A is seen by node B at once (LISTEN/NOTIFY), even for a token B had cached", async () => {
    const token = await signUp();
    const kid = decodeProtectedHeader(token).kid!;
    expect((await user(token, call2 as never)).status).toBe(200); // B verified and cached it
    await asAdmin("POST", "/keys/signing/rotate", {});
    expect((await user(token, call2 as never)).status).toBe(200);
    await asAdmin("POST", `/keys/signing/${kid}/revoke`);
    const took = await refusedWithin(token, 1000);
    expect(took).toBeLessThan(1000);
    expect((await user(token)).status).toBe(401); // and A itself at once
  });

  test("an API key created and revoked on node A: B learns of it and refuses it within a second", async () => {
    const created = await asAdmin("POST", "/keys/api", { name: "two-nodes", kind: "secret" });
    const key = created.body.key as string;
    const onB = () => call2("GET", "/auth/v1/settings", undefined, { apikey: key });
    const started = performance.now();
    while ((await onB()).status !== 200 && performance.now() - started < 1000) await Bun.sleep(20);
    expect((await onB()).status).toBe(200);
    await asAdmin("POST", "/keys/api/two-nodes/revoke");
    expect((await t.call("GET", "/auth/v1/settings", undefined, { apikey: key })).body.code).toBe("api_key_revoked"); // A at once
    const t0 = performance.now();
    while ((await onB()).body?.code !== "api_key_revoked" && performance.now() - t0 < 1500) await Bun.sleep(20);
    expect((await onB()).body.code).toBe("api_key_revoked");
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test("with B's listener gone, the one-second version re-check still brings the revocation within about a second", async () => {
    const ring = keyRingFor(second, { config: t.config, jwtSecret: TEST_SECRET, log });
    await (ring as unknown as { unlisten: () => Promise<void> }).unlisten();
    const token = await signUp();
    const kid = decodeProtectedHeader(token).kid!;
    expect((await user(token, call2 as never)).status).toBe(200);
    await asAdmin("POST", "/keys/signing/rotate", {});
    await asAdmin("POST", `/keys/signing/${kid}/revoke`);
    const took = await refusedWithin(token, RECHECK_MS + 1500);
    expect(took).toBeLessThan(RECHECK_MS + 1000);
  });
});

describe("retiring the legacy HS256 secret", () => {
  test("revoking legacy-hs256 refuses HS256 tokens and the legacy keys; ES256 sessions and new keys keep working", async () => {
    const created = await asAdmin("POST", "/keys/api", { name: "after-legacy", kind: "secret" });
    expect(created.status).toBe(201);
    const secret = created.body.key as string;
    const es = await signUp();
    const legacy = await tokenFor({ role: "authenticated", sub: crypto.randomUUID() });
    const r = await asAdmin("POST", "/keys/signing/legacy-hs256/revoke");
    expect(r.status).toBe(200);
    const refused = await t.call("GET", "/auth/v1/user", undefined, { apikey: secret, token: legacy });
    expect(refused.status).toBe(401);
    expect((await t.call("GET", "/auth/v1/settings", undefined, { apikey: t.keys.anon })).status).toBe(401);
    expect((await t.call("GET", "/auth/v1/user", undefined, { apikey: secret, token: es })).status).toBe(200);
    expect((await t.call("GET", "/keys/signing", undefined, { apikey: secret, token: secret })).status).toBe(200);
  });
});

describe("importing a JWK set file (a project moving from Supabase)", () => {
  test("the first imported key becomes current; tokens Supabase signed with it verify; the JWKS lists it", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: "supabase-kid-1", alg: "ES256", use: "sig", key_ops: ["sign", "verify"] };
    const dir = mkdtempSync(join(tmpdir(), "plinth-jwks-"));
    const file = join(dir, "signing_keys.json");
    writeFileSync(file, JSON.stringify([jwk]));
    const db = await freshDatabase();
    const config = testConfig({ db: { url: db.url }, auth: { signingKeysPath: file, keysMasterSecret: MASTER }, rateLimit: { enabled: false } });
    const log = createLogger("silent");
    const ctx = { config, db: db.db, log, jwtSecret: TEST_SECRET, dbUrl: db.url };
    const app = createApp({ config, db: db.db, log, jwtSecret: TEST_SECRET, services: [await createAuthService(ctx)] });
    try {
      const now = Math.floor(Date.now() / 1000);
      const supabaseToken = await new SignJWT({ role: "authenticated", sub: crypto.randomUUID(), aud: "authenticated" })
        .setProtectedHeader({ alg: "ES256", kid: "supabase-kid-1", typ: "JWT" })
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
      const res = await app.fetch(
        new Request("http://localhost/auth/v1/user", { headers: { apikey: t.keys.anon, authorization: `Bearer ${supabaseToken}` } }),
        { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) },
      );
      const answer = await res.json();
      expect(answer.code, JSON.stringify([answer, await db.db.sql`select kid, status from plinth.signing_keys`, keyRingFor(db.db, ctx).jwks()])).not.toBe(
        "invalid_jwt",
      );
      const doc = await (await app.fetch(new Request("http://localhost/auth/v1/.well-known/jwks.json"))).json();
      expect(doc.keys).toHaveLength(1);
      expect(doc.keys[0]).toMatchObject({ kid: "supabase-kid-1", alg: "ES256", kty: "EC" });
      expect(doc.keys[0].d).toBeUndefined();
      const [row] = await db.db.sql<{ status: string; imported: boolean }[]>`select status, imported from plinth.signing_keys where kid = 'supabase-kid-1'`;
      expect(row).toEqual({ status: "current", imported: true });
    } finally {
      await app.stop();
    }
  });

  test("a malformed file is refused at start with a clear reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "plinth-jwks-"));
    const file = join(dir, "bad.json");
    const db = await freshDatabase();
    for (const [content, reason] of [
      ["not json", /could not be read as JSON/],
      [JSON.stringify({ nope: 1 }), /array of JWKs/],
      [JSON.stringify([{ kty: "EC", crv: "P-256", x: "a", y: "b", kid: "k" }]), /not a private key/],
      [JSON.stringify([{ kty: "oct", k: "abc", kid: "k", d: "x" }]), /only ES256 and RS256/],
    ] as const) {
      writeFileSync(file, content);
      const config = testConfig({ db: { url: db.url }, auth: { signingKeysPath: file } });
      const ring = keyRingFor(db.db, { config, jwtSecret: TEST_SECRET, log: createLogger("silent") });
      await expect(ring.ready()).rejects.toThrow(reason);
      await ring.stop();
    }
  });
});

describe("production rules", () => {
  const loaded = (auth: Record<string, unknown>) => ({
    config: testConfig({ env: "production", jwt: { secret: "p".repeat(48) }, auth: { autoconfirm: false, ...auth } }),
    explicit: new Set(["auth.autoconfirm"]),
  });
  test("asymmetric signing without its own master secret (or with the JWT secret as one) refuses to start", () => {
    expect(unsafeSettings(loaded({ signingAlg: "ES256" }) as never).join(" ")).toMatch(/master secret is not set/);
    expect(unsafeSettings(loaded({ signingAlg: "ES256", keysMasterSecret: "p".repeat(48) }) as never).join(" ")).toMatch(/is the JWT secret/);
    expect(unsafeSettings(loaded({ signingKeysPath: "/x.json" }) as never).join(" ")).toMatch(/master secret/);
    expect(unsafeSettings(loaded({ signingAlg: "ES256", keysMasterSecret: "m".repeat(48) }) as never)).toEqual([]);
  });
});
