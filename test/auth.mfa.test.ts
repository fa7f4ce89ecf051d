// MFA (TOTP) through supabase-js's auth.mfa API, the admin factor endpoints, and Plinth's recovery
// codes, against a whole Plinth server.
import { describe, expect, test } from "bun:test";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { call, claimsOf, client, uniqueEmail } from "./support/auth.ts";
import { totp } from "./support/auth-totp.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

// Per-challenge limits are tested here with more wrong codes than the lockout allows; the lockout
// across challenges is tested in security.lockout.test.ts.
const srv: TestServer = await startTestServer({ auth: { autoconfirm: true, lockout: { maxAttempts: 50 } } });
const sql = srv.database.db.sql;
const PASSWORD = "correct horse 1";

async function signedUp(): Promise<{ sb: SupabaseClient; email: string; userId: string }> {
  const sb = client(srv.url, srv.keys.anon);
  const email = uniqueEmail("mfa");
  const { data, error } = await sb.auth.signUp({ email, password: PASSWORD });
  expect(error).toBeNull();
  return { sb, email, userId: data.user!.id };
}

async function signedIn(email: string): Promise<SupabaseClient> {
  const sb = client(srv.url, srv.keys.anon);
  const { error } = await sb.auth.signInWithPassword({ email, password: PASSWORD });
  expect(error).toBeNull();
  return sb;
}

async function enrolled(sb: SupabaseClient) {
  const { data, error } = await sb.auth.mfa.enroll({ factorType: "totp", friendlyName: "phone app", issuer: "Plinth Test" });
  expect(error).toBeNull();
  return data!;
}

async function verifyWith(sb: SupabaseClient, factorId: string, code: string) {
  const ch = await sb.auth.mfa.challenge({ factorId });
  expect(ch.error).toBeNull();
  return sb.auth.mfa.verify({ factorId, challengeId: ch.data!.id, code });
}

const accessOf = async (sb: SupabaseClient) => (await sb.auth.getSession()).data.session!.access_token;

describe("TOTP factors", () => {
  test("enroll, challenge, verify: aal1 → aal2, amr, listFactors, refresh keeps aal2", async () => {
    const { sb, userId } = await signedUp();
    const before = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(before.data).toMatchObject({ currentLevel: "aal1", nextLevel: "aal1" });

    const f = await enrolled(sb);
    expect(f.type).toBe("totp");
    expect(f.friendly_name).toBe("phone app");
    expect(f.totp.qr_code.startsWith("data:image/svg+xml;utf-8,<svg")).toBe(true);
    expect(f.totp.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(f.totp.uri).toStartWith("otpauth://totp/Plinth%20Test:");
    expect(f.totp.uri).toContain(`secret=${f.totp.secret}`);
    const [row] = await sql`select secret from auth.mfa_factors where id = ${f.id}`;
    expect(row!.secret).toStartWith("v1:");
    expect(row!.secret).not.toContain(f.totp.secret);

    let list = await sb.auth.mfa.listFactors();
    expect(list.data!.all).toHaveLength(1);
    expect(list.data!.all[0]).toMatchObject({ id: f.id, factor_type: "totp", status: "unverified", friendly_name: "phone app" });
    expect(list.data!.totp).toHaveLength(0);

    const ch = await sb.auth.mfa.challenge({ factorId: f.id });
    expect(ch.error).toBeNull();
    expect(ch.data!.type).toBe("totp");
    const left = (ch.data as { expires_at: number }).expires_at - Date.now() / 1000;
    expect(left).toBeGreaterThan(290);
    expect(left).toBeLessThanOrEqual(301);

    const v = await sb.auth.mfa.verify({ factorId: f.id, challengeId: ch.data!.id, code: totp(f.totp.secret) });
    expect(v.error).toBeNull();
    const claims = claimsOf(v.data!.access_token);
    expect(claims.aal).toBe("aal2");
    expect(claims.sub).toBe(userId);
    expect(claims.amr.map((a: { method: string }) => a.method)).toEqual(["totp", "password"]);
    expect(claims.amr[0].timestamp).toBeNumber();

    const aal = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(aal.data).toMatchObject({ currentLevel: "aal2", nextLevel: "aal2" });
    list = await sb.auth.mfa.listFactors();
    expect(list.data!.totp).toHaveLength(1);
    expect(list.data!.totp[0]!.status).toBe("verified");

    const refreshed = await sb.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(claimsOf(refreshed.data.session!.access_token).aal).toBe("aal2");
    expect(claimsOf(refreshed.data.session!.access_token).session_id).toBe(claims.session_id);

    // A new password sign-in is aal1, with aal2 as the next level.
    const other = await signedIn((await sb.auth.getUser()).data.user!.email!);
    const otherAal = await other.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(otherAal.data).toMatchObject({ currentLevel: "aal1", nextLevel: "aal2" });
  });

  test("wrong codes fail, a used code cannot be replayed, attempts are bounded", async () => {
    const { sb } = await signedUp();
    const f = await enrolled(sb);
    const wrong = await verifyWith(sb, f.id, totp(f.totp.secret, 5));
    expect(wrong.error?.code).toBe("mfa_verification_failed");
    const notDigits = await verifyWith(sb, f.id, "abcdef");
    expect(notDigits.error?.code).toBe("mfa_verification_failed");

    const code = totp(f.totp.secret);
    expect((await verifyWith(sb, f.id, code)).error).toBeNull();
    const replay = await verifyWith(sb, f.id, code);
    expect(replay.error?.code).toBe("mfa_verification_rejected");

    // Five wrong codes burn a challenge: even the right one is refused after that.
    const ch = await sb.auth.mfa.challenge({ factorId: f.id });
    for (let i = 0; i < 5; i++) {
      const r = await sb.auth.mfa.verify({ factorId: f.id, challengeId: ch.data!.id, code: "000000" === totp(f.totp.secret, 1) ? "111111" : "000000" });
      expect(r.error?.code).toBe("mfa_verification_failed");
    }
    const burnt = await sb.auth.mfa.verify({ factorId: f.id, challengeId: ch.data!.id, code: totp(f.totp.secret, 1) });
    expect(burnt.error?.code).toBe("mfa_verification_rejected");
    // A challenge is single-use.
    const ch2 = await sb.auth.mfa.challenge({ factorId: f.id });
    expect((await sb.auth.mfa.verify({ factorId: f.id, challengeId: ch2.data!.id, code: totp(f.totp.secret, 1) })).error).toBeNull();
    const again = await sb.auth.mfa.verify({ factorId: f.id, challengeId: ch2.data!.id, code: totp(f.totp.secret, 1) });
    expect(again.error?.code).toBe("mfa_verification_rejected");
  });

  test("an expired challenge is refused; unknown factor and challenge are 404", async () => {
    const { sb } = await signedUp();
    const f = await enrolled(sb);
    const ch = await sb.auth.mfa.challenge({ factorId: f.id });
    await sql`update auth.mfa_challenges set created_at = now() - interval '6 minutes' where id = ${ch.data!.id}`;
    const r = await sb.auth.mfa.verify({ factorId: f.id, challengeId: ch.data!.id, code: totp(f.totp.secret) });
    expect(r.error?.code).toBe("mfa_challenge_expired");
    const unknown = await sb.auth.mfa.challenge({ factorId: crypto.randomUUID() });
    expect(unknown.error?.code).toBe("mfa_factor_not_found");
    const noChallenge = await sb.auth.mfa.verify({ factorId: f.id, challengeId: crypto.randomUUID(), code: totp(f.totp.secret) });
    expect(noChallenge.error?.code).toBe("mfa_challenge_not_found");
  });

  test("unenrolling (or enrolling another) with a verified factor needs aal2", async () => {
    const { sb, email } = await signedUp();
    const f = await enrolled(sb);
    // An unverified factor can go at aal1.
    const spare = await sb.auth.mfa.enroll({ factorType: "totp", friendlyName: "spare" });
    expect((await sb.auth.mfa.unenroll({ factorId: spare.data!.id })).error).toBeNull();
    expect((await verifyWith(sb, f.id, totp(f.totp.secret))).error).toBeNull();

    const aal1 = await signedIn(email);
    const denied = await aal1.auth.mfa.unenroll({ factorId: f.id });
    expect(denied.error?.code).toBe("insufficient_aal");
    const enrollDenied = await aal1.auth.mfa.enroll({ factorType: "totp", friendlyName: "second" });
    expect(enrollDenied.error?.code).toBe("insufficient_aal");

    const ok = await sb.auth.mfa.unenroll({ factorId: f.id });
    expect(ok.error).toBeNull();
    expect(ok.data).toEqual({ id: f.id });
    expect((await sb.auth.mfa.listFactors()).data!.all).toHaveLength(0);
  });

  test("friendly names are unique per user; phone factors are refused", async () => {
    const { sb } = await signedUp();
    await enrolled(sb);
    const dup = await sb.auth.mfa.enroll({ factorType: "totp", friendlyName: "phone app" });
    expect(dup.error?.code).toBe("mfa_factor_name_conflict");
    const phone = await sb.auth.mfa.enroll({ factorType: "phone", phone: "+233241234567" });
    expect(phone.error?.code).toBe("mfa_factor_type_not_supported");
  });
});

describe("recovery codes (Plinth)", () => {
  test("aal2 generates ten; one turns an aal1 session into aal2, once; regenerating replaces them", async () => {
    const { sb, email } = await signedUp();
    const f = await enrolled(sb);
    const early = await call(srv.url, "POST", "/factors/recovery_codes", { key: srv.keys.anon, bearer: await accessOf(sb) });
    expect(early.status).toBe(422);
    expect(early.body.code).toBe("insufficient_aal");
    expect((await verifyWith(sb, f.id, totp(f.totp.secret))).error).toBeNull();

    const gen = await call(srv.url, "POST", "/factors/recovery_codes", { key: srv.keys.anon, bearer: await accessOf(sb) });
    expect(gen.status).toBe(200);
    const codes: string[] = gen.body.codes;
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[a-z0-9]{4}-[a-z0-9]{4}$/);
    const stored = await sql`select code_hash from auth.mfa_recovery_codes where code_hash = any(${codes})`;
    expect(stored).toHaveLength(0);

    const aal1 = await signedIn(email);
    const wrong = await call(srv.url, "POST", "/factors/recovery", { key: srv.keys.anon, bearer: await accessOf(aal1), body: { code: "aaaa-aaaa" } });
    expect(wrong.status).toBe(422);
    const used = await call(srv.url, "POST", "/factors/recovery", {
      key: srv.keys.anon,
      bearer: await accessOf(aal1),
      body: { code: codes[0]!.toUpperCase() },
    });
    expect(used.status).toBe(200);
    const claims = claimsOf(used.body.access_token);
    expect(claims.aal).toBe("aal2");
    expect(claims.amr[0].method).toBe("recovery");
    expect(used.body.refresh_token).toBeString();

    const other = await signedIn(email);
    const reuse = await call(srv.url, "POST", "/factors/recovery", { key: srv.keys.anon, bearer: await accessOf(other), body: { code: codes[0] } });
    expect(reuse.status).toBe(422);

    // Regenerating replaces the old set.
    const regen = await call(srv.url, "POST", "/factors/recovery_codes", { key: srv.keys.anon, bearer: used.body.access_token });
    expect(regen.status).toBe(200);
    const old = await call(srv.url, "POST", "/factors/recovery", { key: srv.keys.anon, bearer: await accessOf(other), body: { code: codes[1] } });
    expect(old.status).toBe(422);
    const fresh = await call(srv.url, "POST", "/factors/recovery", { key: srv.keys.anon, bearer: await accessOf(other), body: { code: regen.body.codes[0] } });
    expect(fresh.status).toBe(200);
  });
});

describe("admin factor endpoints", () => {
  test("list and delete a user's factors with the service key; others are refused", async () => {
    const { sb, userId } = await signedUp();
    const f = await enrolled(sb);
    const admin = createClient(srv.url, srv.keys.service_role, { auth: { persistSession: false, autoRefreshToken: false } });
    const listed = await admin.auth.admin.mfa.listFactors({ userId });
    expect(listed.error).toBeNull();
    expect(listed.data!.factors.map((x) => x.id)).toEqual([f.id]);
    const anon = await call(srv.url, "GET", `/admin/users/${userId}/factors`, { key: srv.keys.anon });
    expect(anon.status).toBe(403);
    const del = await admin.auth.admin.mfa.deleteFactor({ userId, id: f.id });
    expect(del.error).toBeNull();
    // auth-js wraps the answer once more here: data is {data: <the deleted factor>, error: null}.
    expect((del.data as unknown as { data: { id: string } }).data.id).toBe(f.id);
    expect((await admin.auth.admin.mfa.listFactors({ userId })).data!.factors).toHaveLength(0);
    const missing = await admin.auth.admin.mfa.deleteFactor({ userId, id: f.id });
    expect(missing.error?.status).toBe(404);
    const noUser = await call(srv.url, "GET", `/admin/users/${crypto.randomUUID()}/factors`, { key: srv.keys.service_role });
    expect(noUser.status).toBe(404);
    const user = await call(srv.url, "GET", `/admin/users/${userId}`, { key: srv.keys.service_role });
    expect(user.body.factors).toEqual([]);
  });
});
