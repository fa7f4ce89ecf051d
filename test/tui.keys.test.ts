// The console's keys screen beyond listing (test/tui.security.test.ts covers the list, R, x and
// creating an API key), against a real admin plane with the auth API beside it: a standby signing
// key made (RS256; a bad alg keeps the prompt with the server's message), published in the JWKS, made
// current from its row (new access tokens carry its kid; nobody signed out), the previous one revoked
// after y; an API key rotated with an overlap window (both secrets work; the new one shown once; a
// zero overlap ends the old one at once); the legacy anon/service_role switch (n keeps, y disables:
// the legacy anon key is refused with its code while admin sessions go on; y enables again).
import { afterAll, describe, expect, test } from "bun:test";
import { adminApp, PASSWORD, uniqueEmail } from "./support/admin.ts";
import { KEY, consoleHarness, fitsWidth, sleep } from "./support/tui.tsx";

const h = await consoleHarness(await adminApp());
const mounted: { unmount(): void }[] = [];
const service = { token: h.t.keys.service_role, apikey: h.t.keys.service_role };
afterAll(async () => {
  mounted.forEach((c) => c.unmount());
});

type Signing = { kid: string; alg: string; status: string };
const signingKeys = async () => (await h.t.call("GET", "/keys/signing", undefined, service)).body as Signing[];
const header = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString()) as { kid?: string; alg: string };

/** A real user's password sign-in through the auth API: its access token. */
async function userToken(email: string): Promise<string> {
  const r = await h.t.call("POST", "/auth/v1/token?grant_type=password", { email, password: PASSWORD }, { apikey: h.t.keys.anon });
  expect(r.status).toBe(200);
  return r.body.access_token;
}

describe("signing keys", () => {
  test("n makes a standby key (a bad alg keeps the prompt with the server's message); R on it makes it current after y; x revokes the previous after y", async () => {
    const user = uniqueEmail("signer");
    expect((await h.t.call("POST", "/users", { email: user, password: PASSWORD, email_confirm: true }, service)).status).toBe(201);
    // An ES256 key current to start from (the test config signs with the legacy HS256 secret).
    expect((await h.t.call("POST", "/keys/signing/rotate", { alg: "ES256" }, service)).status).toBe(200);
    const before = await userToken(user);
    expect(header(before).alg).toBe("ES256");

    const c = await h.open({ screen: "keys", cols: 80, rows: 24 });
    mounted.push(c);
    let f = await c.waitFor(/signing keys · \d+/);
    expect(f).toContain("n new standby");
    await c.press("n");
    f = await c.waitFor("New standby signing key");
    expect(f).toContain("alg: ES256");
    expect(fitsWidth(f, 80)).toBe(true);
    await c.press(KEY.ctrl("u"), "HS512", KEY.enter);
    f = await c.waitFor("validation_failed");
    expect(f).toContain("New standby signing key");
    await c.press(KEY.ctrl("u"), "rs256", KEY.enter);
    f = await c.waitFor(/Created standby key \S+ \(RS256\)/);
    const kid = /Created standby key (\S+) \(RS256\)/.exec(f)![1]!;
    await c.waitFor(/RS256\s+standby/);
    expect((await signingKeys()).find((k) => k.kid === kid)).toMatchObject({ alg: "RS256", status: "standby" });
    // Published ahead of use: the JWKS carries it already.
    const jwks = await h.t.call("GET", "/auth/v1/.well-known/jwks.json");
    expect(jwks.body.keys.some((k: { kid: string; alg: string }) => k.kid === kid && k.alg === "RS256")).toBe(true);
    // A standby key signs nothing yet.
    expect(header(await userToken(user)).kid).not.toBe(kid);

    const current = (await signingKeys()).find((k) => k.status === "current")!;
    expect(current.alg).toBe("ES256");
    await c.press("/", kid, KEY.enter);
    await c.waitFor(/signing keys · 1\b/);
    f = await c.waitFor("R make current");
    await c.press("R");
    f = await c.waitFor(`Make ${kid} (RS256) the current signing key?`);
    expect(f).toContain("Nobody is signed out");
    expect(f).toContain(`${current.kid} (${current.alg}) becomes previous`);
    expect(fitsWidth(f, 80)).toBe(true);
    await c.press("n");
    await c.waitFor(/signing keys · 1\b/);
    expect((await signingKeys()).find((k) => k.kid === kid)!.status).toBe("standby");
    await c.press("R");
    await c.waitFor("the current signing key?");
    await c.press("y");
    await c.waitFor(`Rotated: ${kid} is current`);
    await c.waitFor(/RS256\s+current/);
    const after = await signingKeys();
    expect(after.find((k) => k.kid === kid)!.status).toBe("current");
    expect(after.find((k) => k.kid === current.kid)!.status).toBe("previous");
    // New tokens carry the new kid; the token issued before still works (nobody signed out).
    const fresh = await userToken(user);
    expect(header(fresh)).toMatchObject({ kid, alg: "RS256" });
    expect((await h.t.call("GET", "/auth/v1/user", undefined, { token: before, apikey: h.t.keys.anon })).status).toBe(200);
    expect((await h.t.call("GET", "/auth/v1/user", undefined, { token: fresh, apikey: h.t.keys.anon })).status).toBe(200);

    // Revoke the previous key: y is needed, then its tokens are refused.
    {
      await c.press(KEY.esc, "/", current.kid, KEY.enter);
      await c.waitFor(/signing keys · 1\b/);
      await c.press("x");
      f = await c.waitFor(`Revoke signing key ${current.kid} (previous)?`);
      expect(f).toContain("signing_key_revoked");
      await c.press("y");
      await c.waitFor(`Revoked signing key ${current.kid}`);
      expect((await signingKeys()).find((k) => k.kid === current.kid)!.status).toBe("revoked");
      const old = await h.t.call("GET", "/auth/v1/user", undefined, { token: before, apikey: h.t.keys.anon });
      expect(old.status).toBe(401);
    }
  });
});

describe("API keys", () => {
  test("o rotates with an overlap: the new secret shown once, both work until the window ends; a bad overlap keeps the prompt; overlap 0 ends the old one at once", async () => {
    const name = `rot-${Date.now().toString(36)}`;
    const made = await h.t.call("POST", "/keys/api", { name, kind: "publishable" }, service);
    expect(made.status).toBe(201);
    const first = made.body.key as string;
    const works = async (key: string) => (await h.t.call("GET", "/auth/v1/settings", undefined, { apikey: key })).status;
    expect(await works(first)).toBe(200);

    const c = await h.open({ screen: "keys", cols: 80, rows: 24 });
    mounted.push(c);
    await c.waitFor(/signing keys · \d+/);
    await c.press(KEY.tab);
    await c.waitFor(/API keys · \d+/);
    await c.press("/", name, KEY.enter);
    let f = await c.waitFor(/API keys · 1\b/);
    expect(f).toContain("o rotate (overlap)");
    await c.press("o");
    f = await c.waitFor(`Rotate API key ${name}`);
    expect(f).toContain("overlap: 24h");
    expect(fitsWidth(f, 80)).toBe(true);
    await c.press(KEY.ctrl("u"), "forever", KEY.enter);
    f = await c.waitFor("validation_failed");
    expect(f).toContain(`Rotate API key ${name}`);
    await c.press(KEY.ctrl("u"), "48h", KEY.enter);
    f = await c.waitFor(`API key ${name} rotated`);
    expect(f).toContain("only time the secret is shown");
    expect(f).toContain("The previous secret works until");
    const second = /(sb_publishable_\S+)/.exec(f)![1]!;
    expect(second).not.toBe(first);
    expect(await works(first)).toBe(200);
    expect(await works(second)).toBe(200);
    const listed = (await h.t.call("GET", "/keys/api", undefined, service)).body as { name: string; status: string; expires_at: string | null }[];
    const mine = listed.filter((k) => k.name === name);
    expect(mine.map((k) => k.status).sort()).toEqual(["active", "overlap"]);
    const overlapEnds = new Date(mine.find((k) => k.status === "overlap")!.expires_at!).getTime();
    expect(overlapEnds).toBeGreaterThan(Date.now() + 47 * 3600_000);
    expect(overlapEnds).toBeLessThan(Date.now() + 49 * 3600_000);

    await c.press(KEY.enter);
    f = await c.waitFor(/API keys · 2\b/);
    expect(f).not.toContain(second); // shown once
    expect(f).toMatch(/overlap/);

    // Overlap 0: the secret just shown stops working at once.
    await c.press("g", "o");
    await c.waitFor(`Rotate API key ${name}`);
    await c.press(KEY.ctrl("u"), "0", KEY.enter);
    f = await c.waitFor(`API key ${name} rotated`);
    const third = /(sb_publishable_\S+)/.exec(f)![1]!;
    await c.press(KEY.esc);
    await c.waitFor(/API keys · \d+/);
    expect(await works(third)).toBe(200);
    const refused = await h.t.call("GET", "/auth/v1/settings", undefined, { apikey: second });
    expect(refused.status).toBe(401);
    expect(JSON.stringify(refused.body)).toContain("api_key_expired");
    expect(await works(first)).toBe(200); // its own 48 h window is untouched
  });

  test("L: the legacy anon/service_role switch explains itself; n keeps it, y disables (the legacy anon key is refused, the console goes on), y enables again", async () => {
    const anonStatus = async () => h.t.call("GET", "/auth/v1/settings", undefined, { apikey: h.t.keys.anon });
    expect((await anonStatus()).status).toBe(200);
    const c = await h.open({ screen: "keys", cols: 80, rows: 24 });
    mounted.push(c);
    try {
      await c.waitFor(/signing keys · \d+/);
      await c.press(KEY.tab);
      let f = await c.waitFor("legacy anon/service_role keys enabled");
      expect(f).toContain("L legacy keys off");
      await c.press("L");
      f = await c.waitFor("Disable the legacy anon/service_role keys?");
      expect(f).toContain("legacy_api_keys_disabled");
      expect(f).toContain("User sessions");
      expect(fitsWidth(f, 80)).toBe(true);
      await c.press("n");
      await c.waitFor("legacy anon/service_role keys enabled");
      expect((await h.t.call("GET", "/keys/legacy", undefined, service)).body).toEqual({ legacy_api_keys: true });

      await c.press("L");
      await c.waitFor("Disable the legacy anon/service_role keys?");
      await c.press("y");
      await c.waitFor("Legacy anon/service_role keys disabled");
      f = await c.waitFor("legacy anon/service_role keys disabled");
      expect(f).toContain("L legacy keys on");
      const refused = await anonStatus();
      expect(refused.status).toBe(401);
      expect(JSON.stringify(refused.body)).toContain("legacy_api_keys_disabled");
      const [flag] = await h.t.sql<{ legacy_api_keys: boolean }[]>`select legacy_api_keys from plinth.key_state`;
      expect(flag!.legacy_api_keys).toBe(false);
      // The console's admin session is no legacy key: it goes on working.
      await c.press("r");
      await sleep(200);
      await c.waitFor(/API keys · \d+/);
      expect(c.frame()).not.toContain("legacy_api_keys_disabled");

      await c.press("L");
      f = await c.waitFor("Enable the legacy anon/service_role keys again?");
      await c.press("y");
      await c.waitFor("Legacy anon/service_role keys enabled");
      expect((await anonStatus()).status).toBe(200);
    } finally {
      await h.t.sql`update plinth.key_state set legacy_api_keys = true, version = version + 1`;
    }
  });
});
