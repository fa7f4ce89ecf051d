// The real @supabase/supabase-js against an ES256 Plinth (issue 16): a publishable key in
// createClient, auth.getClaims() verified locally against the JWKS (no GET /user), a session that
// survives a signing-key rotation (and is refused once its key is revoked), and a revoked
// publishable key refused.
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createClient } from "@supabase/supabase-js";
import { decodeProtectedHeader } from "jose";
import { startTestServer } from "./support/server.ts";

setDefaultTimeout(60_000);
const s = await startTestServer({ auth: { signingAlg: "ES256", keysMasterSecret: "a-master-secret-for-the-signing-keys-0123456789" } });
const sql = s.database.db.sql;

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${s.url}/admin/v1${path}`, {
    method,
    headers: { apikey: s.keys.service_role, authorization: `Bearer ${s.keys.service_role}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const seen: string[] = [];
const counting: typeof fetch = Object.assign(
  (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    seen.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
    return fetch(input, init);
  },
  { preconnect: fetch.preconnect },
);

let publishable: { key: string; id: string };

beforeAll(async () => {
  await sql.unsafe(`
    create table public.todos (id serial primary key, owner uuid default auth.uid(), title text);
    alter table public.todos enable row level security;
    create policy own on public.todos for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
    grant select, insert on public.todos to authenticated;
    grant usage on all sequences in schema public to authenticated;
    notify pgrst, 'reload schema';
  `);
  const r = await admin("POST", "/keys/api", { name: "web", kind: "publishable" });
  expect(r.status).toBe(201);
  publishable = r.body;
  await Bun.sleep(200);
});

const newClient = () =>
  createClient(s.url, publishable.key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: counting },
  });

describe("supabase-js with a publishable key and asymmetric signing keys", () => {
  test("signs up, queries as the user, and getClaims() verifies locally against the JWKS", async () => {
    const supabase = newClient();
    const { data, error } = await supabase.auth.signUp({ email: `js${Date.now()}@example.com`, password: "Js-password-1" });
    expect(error).toBeNull();
    expect(decodeProtectedHeader(data.session!.access_token).alg).toBe("ES256");
    const ins = await supabase.from("todos").insert({ title: "first" }).select("title");
    expect(ins.error).toBeNull();
    expect(ins.data).toEqual([{ title: "first" }]);
    seen.length = 0;
    const claims = await supabase.auth.getClaims();
    expect(claims.error).toBeNull();
    expect(claims.data!.claims.sub).toBe(data.user!.id);
    expect(claims.data!.claims.role).toBe("authenticated");
    expect(seen).toContain("/auth/v1/.well-known/jwks.json");
    expect(seen).not.toContain("/auth/v1/user"); // verified locally, not by asking the server
  });

  test("a session survives a signing-key rotation; once the old key is revoked its token is refused", async () => {
    const supabase = newClient();
    const { data } = await supabase.auth.signUp({ email: `rot${Date.now()}@example.com`, password: "Js-password-1" });
    const oldKid = decodeProtectedHeader(data.session!.access_token).kid!;
    const rotated = await admin("POST", "/keys/signing/rotate", {});
    expect(rotated.body.previous).toBe(oldKid);
    // Same session, same access token: still works after the rotation.
    expect((await supabase.from("todos").select("title")).error).toBeNull();
    expect((await supabase.auth.getClaims()).error).toBeNull();
    // Refresh: the new token carries the new key's kid, and getClaims() still verifies it.
    const refreshed = await supabase.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(decodeProtectedHeader(refreshed.data.session!.access_token).kid).toBe(rotated.body.current);
    const claims = await supabase.auth.getClaims();
    expect(claims.error).toBeNull();
    // A client still holding the old token is refused once the old key is revoked.
    const stale = createClient(s.url, publishable.key, {
      auth: { persistSession: false, autoRefreshToken: false },
      global: { headers: { authorization: `Bearer ${data.session!.access_token}` } },
    });
    expect((await stale.from("todos").select("title")).error).toBeNull();
    expect((await admin("POST", `/keys/signing/${oldKid}/revoke`)).status).toBe(200);
    const refused = await stale.from("todos").select("title");
    expect(refused.error?.code).toBe("signing_key_revoked");
    expect((await supabase.from("todos").select("title")).error).toBeNull(); // the refreshed session is fine
  });

  test("realtime: a private channel joined with the ES256 session token subscribes (the channel's token is verified by the key ring)", async () => {
    const supabase = createClient(s.url, publishable.key, { auth: { persistSession: false, autoRefreshToken: false } });
    const { data } = await supabase.auth.signUp({ email: `rt${Date.now()}@example.com`, password: "Js-password-1" });
    expect(decodeProtectedHeader(data.session!.access_token).alg).toBe("ES256");
    await supabase.realtime.setAuth(data.session!.access_token);
    const channel = supabase.channel("keys-room");
    const status = await new Promise<string>((resolve) => {
      channel.subscribe((st, err) => {
        if (st !== "CLOSED") resolve(err ? `${st}: ${err.message}` : st);
      });
    });
    expect(status).toBe("SUBSCRIBED");
    await supabase.removeAllChannels();
    // The control: the same token with its payload changed is refused at join.
    const [h, , sig] = data.session!.access_token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ role: "service_role", exp: Math.floor(Date.now() / 1000) + 600 })).toString("base64url")}.${sig}`;
    await supabase.realtime.setAuth(forged);
    const refused = await new Promise<string>((resolve) => {
      supabase.channel("keys-room-2").subscribe((st) => {
        if (st !== "CLOSED") resolve(st);
      });
    });
    expect(refused).toBe("CHANNEL_ERROR");
    await supabase.removeAllChannels();
  });

  test("a revoked publishable key is refused", async () => {
    const r = await admin("POST", "/keys/api", { name: "short-lived", kind: "publishable" });
    const supabase = createClient(s.url, r.body.key, { auth: { persistSession: false } });
    expect((await supabase.from("todos").select("title")).error).toBeNull();
    expect((await admin("POST", "/keys/api/short-lived/revoke")).status).toBe(200);
    const refused = await supabase.from("todos").select("title");
    expect(refused.error?.code).toBe("api_key_revoked");
    const signIn = await supabase.auth.signInWithPassword({ email: "nobody@example.com", password: "x" });
    expect(signIn.error?.status).toBe(401);
  });
});
