// The console's security and keys screens against a real admin plane: a lockout caused by failing
// a real password sign-in (/auth/v1/token) five times shows as an event (time, severity, kind, user,
// address) and a lock, which the console clears after a confirmation; the keys screen lists signing
// keys and API keys from /admin/v1/keys and rotates, revokes and creates them (the secret shown once).
import { afterAll, describe, expect, test } from "bun:test";
import { PASSWORD, uniqueEmail } from "./support/admin.ts";
import { KEY, consoleHarness, fitsWidth, sleep } from "./support/tui.tsx";

const h = await consoleHarness();
const open: { unmount(): void }[] = [];
afterAll(() => open.forEach((c) => c.unmount()));
const service = { token: h.t.keys.service_role, apikey: h.t.keys.service_role };
const ADDRESS = "203.0.113.77";

/** A real user locked out by five failed password sign-ins from ADDRESS. */
async function lockedOutUser() {
  const email = uniqueEmail("victim");
  const made = await h.t.call("POST", "/users", { email, password: PASSWORD, email_confirm: true }, service);
  expect(made.status).toBe(201);
  for (let i = 0; i < 5; i++) {
    const r = await h.t.call("POST", "/auth/v1/token?grant_type=password", { email, password: "wrong-password-1" }, { apikey: h.t.keys.anon, ip: ADDRESS });
    expect(r.status).toBe(400);
  }
  const sixth = await h.t.call("POST", "/auth/v1/token?grant_type=password", { email, password: PASSWORD }, { apikey: h.t.keys.anon, ip: ADDRESS });
  expect(sixth.status).not.toBe(200); // locked: even the right password is refused
  return { email, id: made.body.id as string };
}

describe("security screen", () => {
  test("a real lockout shows as an event (time, severity, kind, user, address) and a lock; x clears it after y", async () => {
    const victim = await lockedOutUser();
    const c = await h.open({ screen: "security", cols: 200, rows: 30 });
    open.push(c);
    let f = await c.waitFor(/events · \d+/);
    expect(f).toContain("time");
    expect(f).toContain("severity");
    const line = f.split("\n").find((l) => l.includes("lockout") && l.includes(victim.id));
    expect(line).toBeDefined();
    expect(line).toContain("medium");
    expect(line).toContain(ADDRESS);
    expect(line).toMatch(/20\d\d-\d\d-\d\d \d\d:\d\d:\d\d/);
    expect(line).toContain("identifier=email:victim-");

    // Only events of at least the chosen severity: "high" hides the medium lockout.
    await c.press("s");
    await c.waitFor("min severity medium");
    await c.waitFor("lockout");
    await c.press("s");
    f = await c.waitFor("min severity high");
    await sleep(300);
    expect(c.frame()).not.toContain(victim.id);
    await c.press("s", "s");
    await c.waitFor("min severity all");

    // Locks: the victim's identifier is locked; x asks, n refuses, y clears it on the server.
    await c.press(KEY.tab);
    f = await c.waitFor(/locks · \d+/);
    await c.waitFor(`email:${victim.email}`);
    await c.press("/", victim.email, KEY.enter);
    await c.waitFor(/locks · 1 /);
    expect(c.frame()).toMatch(/identifier\s+\d+\s+1\s+20\d\d-.*203\.0\.113\.77/);
    await c.press("x");
    await c.waitFor(`Clear the lock on email:${victim.email}?`);
    await c.press("n");
    await c.waitFor(/locks · 1 /);
    const still = await h.t.call("GET", "/security/locks", undefined, service);
    expect(still.body.locks.some((l: { identifier: string }) => l.identifier === `email:${victim.email}`)).toBe(true);
    await c.press("x");
    await c.waitFor(`Clear the lock on email:${victim.email}?`);
    await c.press("y");
    await c.waitFor(`Cleared lock email:${victim.email}`);
    await c.waitFor(/locks · 0 /);
    const after = await h.t.call("GET", "/security/locks", undefined, service);
    expect(after.body.locks.some((l: { identifier: string }) => l.identifier === `email:${victim.email}`)).toBe(false);
    const signIn = await h.t.call(
      "POST",
      "/auth/v1/token?grant_type=password",
      { email: victim.email, password: PASSWORD },
      { apikey: h.t.keys.anon, ip: ADDRESS },
    );
    expect(signIn.status).toBe(200);
  });

  test("F filters on the server (kind, user, since); a bad value keeps the form with the server's message", async () => {
    const victim = await lockedOutUser();
    const c = await h.open({ screen: "security", cols: 200, rows: 40 });
    open.push(c);
    await c.waitFor(/events · \d+/);
    await c.press("F");
    await c.waitFor("Events on the server matching");
    await c.press("lockout", KEY.enter, "not-a-uuid", KEY.enter, KEY.enter, KEY.enter);
    await c.waitFor("user must be a user id (a UUID) (validation_failed 400)");
    await c.press(KEY.esc);
    await c.waitFor(/events · \d+/);
    await c.press("F");
    await c.waitFor("Events on the server matching");
    const since = new Date(Date.now() - 3600_000).toISOString();
    await c.press("lockout", KEY.enter, victim.id, KEY.enter, since, KEY.enter, KEY.enter);
    await c.waitFor(`kind=lockout user=${victim.id} since=${since}`);
    await c.waitFor(/events · 1 /);
    const rows = c
      .frame()
      .split("\n")
      .filter((l) => /20\d\d-\d\d-\d\d \d\d:/.test(l));
    expect(rows.length).toBe(1);
    expect(rows[0]).toContain(victim.id);
    expect(rows[0]).toContain("lockout");
  });

  test("m loads older events by the server's cursor", async () => {
    const user = crypto.randomUUID();
    // 130 events of one (made-up) user: more than one page of 100.
    await h.t.sql`
      insert into plinth.security_events (kind, severity, user_id, address, details)
      select 'new_device', 'low', ${user}::uuid, '198.51.100.' || g, jsonb_build_object('seq', g)
      from generate_series(1, 130) g`;
    const c = await h.open({ screen: "security", cols: 200, rows: 30 });
    open.push(c);
    await c.waitFor(/events · \d+/);
    await c.press("F");
    await c.waitFor("Events on the server matching");
    await c.press(KEY.enter, user, KEY.enter, KEY.enter, KEY.enter);
    await c.waitFor(/events · 100\+ /);
    expect(c.frame()).toContain("m older");
    expect(c.frame()).toContain("seq=130");
    await c.press("m");
    await c.waitFor(/events · 130 /);
    expect(c.frame()).not.toContain("m older");
    await c.press("G");
    await c.waitFor("seq=1\n");
  });

  test("follow mode shows a new event without a key press", async () => {
    const c = await h.open({ screen: "security", cols: 200, rows: 40 });
    open.push(c);
    await c.waitFor(/events · \d+/);
    await c.press("f");
    await c.waitFor("following");
    const victim = await lockedOutUser();
    await c.waitFor(victim.id, 8000);
    await c.press("f");
    await c.waitFor("not following");
  });

  test("a moderator (no security:read) may not open security or keys", async () => {
    const c = await h.open({ level: "moderator", screen: "users" });
    open.push(c);
    await c.waitFor("user(s)");
    await c.press(":security\r");
    await c.waitFor("Your level may not open security (it needs security:read)");
    await c.press(":keys\r");
    await c.waitFor("Your level may not open keys (it needs security:read)");
    c.unmount();
  });
});

describe("hostile values", () => {
  test("an identifier carrying terminal escapes is shown inert in events, locks and the confirmation", async () => {
    const evil = `evil\u001b]0;pwned\u0007\u001b[2J${Date.now().toString(36)}@example.com`;
    for (let i = 0; i < 6; i++)
      await h.t.call("POST", "/auth/v1/token?grant_type=password", { email: evil, password: "wrong-password-1" }, { apikey: h.t.keys.anon, ip: ADDRESS });
    const locks = (await h.t.call("GET", "/security/locks", undefined, service)).body.locks as { identifier: string }[];
    const c = await h.open({ screen: "security", cols: 200, rows: 40 });
    open.push(c);
    await c.waitFor(/events · \d+/);
    const raw = () => c.frame();
    expect(raw()).not.toContain("\u001b[2J");
    expect(raw()).not.toContain("\u001b]0;");
    await c.press(KEY.tab);
    await c.waitFor(/locks · \d+/);
    expect(raw()).not.toContain("\u001b[2J");
    expect(raw()).not.toContain("\u001b]0;");
    if (locks.some((l) => l.identifier.includes("evil"))) {
      await c.press("/", "evil", KEY.enter);
      await c.waitFor("\\x1b]0;pwned");
      await c.press("x");
      await c.waitFor("Clear the lock on");
      expect(raw()).not.toContain("\u001b[2J");
      expect(raw()).toContain("\\x1b");
      await c.press("y");
      await c.waitFor("Cleared lock");
      expect(raw()).not.toContain("\u001b[2J");
    }
  });
});

describe("keys screen", () => {
  test(":ke completes to keys; both screens fit narrow terminals", async () => {
    const c = await h.open({ screen: "overview", cols: 80, rows: 24 });
    open.push(c);
    await c.waitFor("req/s");
    await c.press(":", "ke");
    await c.waitFor("keys");
    await c.press(KEY.tab);
    await c.waitFor(":keys");
    await c.press(KEY.enter);
    await c.waitFor(/signing keys · \d+/);
    for (const [cols, rows] of [
      [40, 12],
      [80, 24],
    ] as const) {
      c.resize(cols, rows);
      await sleep(150);
      expect(fitsWidth(c.frame(), cols)).toBe(true);
      await c.press(KEY.tab);
      await sleep(300);
      expect(fitsWidth(c.frame(), cols)).toBe(true);
      await c.press(KEY.tab);
    }
    await c.press(":security\r");
    await c.waitFor(/events · \d+/);
    c.resize(40, 12);
    await sleep(200);
    expect(fitsWidth(c.frame(), 40)).toBe(true);
    await c.press(KEY.tab);
    await c.waitFor(/locks · \d+/);
    expect(fitsWidth(c.frame(), 40)).toBe(true);
  });

  test("signing keys: R rotates after y (the old one becomes previous), x revokes a previous key, the current one is refused", async () => {
    const c = await h.open({ screen: "keys", cols: 160, rows: 30 });
    open.push(c);
    await c.waitFor(/signing keys · \d+/);
    expect(c.frame()).toContain("R rotate");
    await c.press("R");
    await c.waitFor("Rotate the signing key?");
    await c.press("n");
    await c.waitFor(/signing keys · \d+/);
    await c.press("R");
    await c.waitFor("Rotate the signing key?");
    await c.press("y");
    const first = /Rotated: (\S+) is current/.exec(await c.waitFor(/Rotated: \S+ is current/))![1]!;
    await c.press("R");
    await c.waitFor("Rotate the signing key?");
    await c.press("y");
    await c.waitFor(/Rotated: \S+ is current/);
    const second = /Rotated: (\S+) is current/.exec(c.frame())![1]!;
    expect(second).not.toBe(first);
    let keys = (await h.t.call("GET", "/keys/signing", undefined, service)).body as { kid: string; status: string; alg: string }[];
    expect(keys.find((k) => k.kid === second)!.status).toBe("current");
    expect(keys.find((k) => k.kid === first)!.status).toBe("previous");
    await c.waitFor(new RegExp(`${first}\\s+ES256\\s+previous`));
    // The current key (listed first) cannot be revoked: the server's answer is shown as it is.
    await c.press("g", "x");
    await c.waitFor(`Revoke signing key ${second} (current)?`);
    await c.press("y");
    await c.waitFor("signing_key_current");
    await c.press("/", first, KEY.enter);
    await c.waitFor(/signing keys · 1/);
    await c.press("x");
    await c.waitFor(`Revoke signing key ${first} (previous)?`);
    await c.press("y");
    await c.waitFor(`Revoked signing key ${first}`);
    await c.waitFor(/revoked\s+20\d\d-/);
    keys = (await h.t.call("GET", "/keys/signing", undefined, service)).body;
    expect(keys.find((k) => k.kid === first)!.status).toBe("revoked");
  });

  test("API keys: n creates one (secret shown once), a bad one keeps the form with the server's error, x revokes after y", async () => {
    const name = `tui-${Date.now().toString(36)}`;
    const c = await h.open({ screen: "keys", cols: 180, rows: 30 });
    open.push(c);
    await c.waitFor(/signing keys · \d+/);
    await c.press(KEY.tab);
    await c.waitFor(/API keys · \d+/);
    expect(c.frame()).toContain("n new");
    // A scoped key without scopes: the form stays, with the server's message.
    await c.press("n");
    await c.waitFor("New API key");
    await c.press(`${name}-bad`, KEY.enter, ...Array<string>(6).fill(KEY.backspace), "scoped", KEY.enter, KEY.enter, KEY.enter);
    await c.waitFor("A scoped key needs at least one scope");
    await c.press(KEY.esc);
    await c.waitFor(/API keys · \d+/);
    // A scoped key with a scope and an expiry.
    await c.press("n");
    await c.waitFor("New API key");
    await c.press(name, KEY.enter, ...Array<string>(6).fill(KEY.backspace), "scoped", KEY.enter, "rest:read:public.*", KEY.enter, "30d", KEY.enter);
    const f = await c.waitFor(`API key ${name} created`);
    expect(f).toContain("only time the secret is shown");
    const secret = /(sb_scoped_\S+)/.exec(f)![1]!;
    const listed = (
      (await h.t.call("GET", "/keys/api", undefined, service)).body as { name: string; prefix: string; id: string; scopes: string[]; expires_at: string }[]
    ).find((k) => k.name === name)!;
    expect(secret.startsWith(listed.prefix)).toBe(true);
    expect(listed.scopes).toEqual(["rest:read:public.*"]);
    expect(new Date(listed.expires_at).getTime()).toBeGreaterThan(Date.now() + 29 * 86400_000);
    await c.press(KEY.enter);
    await c.waitFor(/API keys · \d+/);
    await c.press("/", name, KEY.enter);
    await c.waitFor(/API keys · 1/);
    const row = c
      .frame()
      .split("\n")
      .find((l) => l.includes(name))!;
    expect(row).toContain("scoped");
    expect(row).toContain(listed.prefix);
    expect(row).toContain("rest:read:public.*");
    expect(row).toContain("active");
    expect(c.frame()).not.toContain(secret); // shown once, never again
    await c.press("x");
    await c.waitFor(`Revoke API key ${name}?`);
    await c.press("y");
    await c.waitFor(`Revoked API key ${name}`);
    await c.waitFor(/API keys · 0/);
    const all = (await h.t.call("GET", "/keys/api?all=true", undefined, service)).body as { name: string; status: string }[];
    expect(all.find((k) => k.name === name)!.status).toBe("revoked");
  });
});
