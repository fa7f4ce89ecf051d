// Security alerts: the outbox, delivered to a real HTTP receiver (Bun.serve) and a real SMTP sink.
// Signatures are checked with an independent implementation (WebCrypto, and the Standard Webhooks
// test vector); the ugly cases are a receiver that is down and comes back, one that keeps failing,
// a node stopped before it delivered, a node that died mid-delivery, and two nodes sharing the work.
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { claimAlerts, signWebhook } from "../src/admin/security/alerts.ts";
import { raiseSecurityEvent } from "../src/admin/security/events.ts";
import { configSchema } from "../src/config/schema.ts";
import { unsafeSettings } from "../src/config/production.ts";
import type { LoadedConfig } from "../src/config/load.ts";
import { adminApp } from "./support/admin.ts";
import { startSmtpSink } from "./support/smtp-sink.ts";
import { freshDatabase } from "./support/db.ts";

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;

interface Delivery {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  status: number;
}

/** An HTTP receiver that records every delivery; `answer` picks the status of each. */
function receiver(opts: { port?: number; answer?: (n: number) => number } = {}) {
  const received: Delivery[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    async fetch(req) {
      const body = await req.text();
      const status = opts.answer?.(received.length) ?? 204;
      received.push({
        id: req.headers.get("webhook-id") ?? "",
        timestamp: req.headers.get("webhook-timestamp") ?? "",
        signature: req.headers.get("webhook-signature") ?? "",
        body,
        status,
      });
      return new Response(null, { status });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/hooks/plinth`, port: server.port, received, stop: () => server.stop(true) };
}

/** Standard Webhooks verification written against the spec with WebCrypto (not the server's code). */
async function verifies(secret: string, d: Pick<Delivery, "id" | "timestamp" | "signature" | "body">): Promise<boolean> {
  const raw = Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signed = new TextEncoder().encode(`${d.id}.${d.timestamp}.${d.body}`);
  for (const part of d.signature.split(" ")) {
    const [version, sig] = part.split(",");
    if (version !== "v1" || !sig) continue;
    const bytes = Uint8Array.from(atob(sig), (c) => c.charCodeAt(0));
    if (await crypto.subtle.verify("HMAC", key, bytes, signed)) return true;
  }
  return false;
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

const alerts = (url: string, extra: Record<string, unknown> = {}) => ({
  security: { alerts: { webhookUrl: url, webhookSecret: SECRET, minSeverity: "high" as const, retryBase: 0.2, pollInterval: 0.1, ...extra } },
});

const outbox = (sql: any, eventId: number) => sql`select * from plinth.security_alert_outbox where event_id = ${eventId} order by id`;

describe("webhook", () => {
  test("signed the Standard Webhooks way: the spec's test vector, and each delivery verifies independently", async () => {
    expect(signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')).toBe(
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
    const hook = receiver();
    afterAll(() => hook.stop());
    const t = await adminApp(alerts(hook.url));
    const id = await raiseSecurityEvent(t.sql, { kind: "failure_burst", severity: "high", address: "203.0.113.1", details: { failures: 20 } });
    const d = await until("a delivery", async () => hook.received[0]);
    expect(d.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Math.abs(Number(d.timestamp) - Date.now() / 1000)).toBeLessThan(30);
    expect(await verifies(SECRET, d)).toBe(true);
    // A tampered body, id or timestamp does not verify; nor does another secret.
    expect(await verifies(SECRET, { ...d, body: d.body.replace("203.0.113.1", "203.0.113.2") })).toBe(false);
    expect(await verifies(SECRET, { ...d, timestamp: String(Number(d.timestamp) + 1) })).toBe(false);
    expect(await verifies(`whsec_${randomBytes(24).toString("base64")}`, d)).toBe(false);
    const body = JSON.parse(d.body);
    expect(body).toMatchObject({ type: "security.failure_burst", data: { id: String(id), kind: "failure_burst", severity: "high", address: "203.0.113.1" } });
    const row = await until("delivered", async () => (await outbox(t.sql, id!)).find((r: any) => r.delivered_at));
    expect(row).toMatchObject({ target: "webhook", delivery_id: d.id, attempts: 1, last_error: null });
  });

  test("below the minimum severity: stored, no alert queued", async () => {
    const hook = receiver();
    afterAll(() => hook.stop());
    const t = await adminApp(alerts(hook.url, { minSeverity: "critical" }));
    const low = await raiseSecurityEvent(t.sql, { kind: "new_device", severity: "low" });
    const high = await raiseSecurityEvent(t.sql, { kind: "refresh_token_reuse", severity: "high" });
    const crit = await raiseSecurityEvent(t.sql, { kind: "audit_chain_broken", severity: "critical" });
    expect(await outbox(t.sql, low!)).toHaveLength(0);
    expect(await outbox(t.sql, high!)).toHaveLength(0);
    expect(await outbox(t.sql, crit!)).toHaveLength(1);
    await until("one delivery", async () => hook.received.length === 1);
    await Bun.sleep(300);
    expect(hook.received).toHaveLength(1);
  });

  test("a receiver that is down and comes back: retried with backoff, one id throughout, delivered once", async () => {
    // A port with nobody listening (taken and released).
    const probe = receiver();
    const port = probe.port;
    probe.stop();
    const t = await adminApp(alerts(`http://127.0.0.1:${port}/hooks`));
    const id = await raiseSecurityEvent(t.sql, { kind: "lockout", severity: "high", details: { identifier: "email:x@example.com" } });
    const failing = await until("two failed attempts", async () => {
      const [r] = await outbox(t.sql, id!);
      return r && r.attempts >= 2 && !r.delivered_at ? r : null;
    });
    expect(failing.last_error).toBeTruthy();
    const hook = receiver({ port });
    afterAll(() => hook.stop());
    const done = await until("delivered", async () => (await outbox(t.sql, id!)).find((r: any) => r.delivered_at));
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.id).toBe(done.delivery_id);
    expect(done.attempts).toBeGreaterThanOrEqual(3);
    await Bun.sleep(500);
    expect(hook.received).toHaveLength(1);
  });

  test("a receiver answering errors: every retry carries the same webhook-id, and only one is ever accepted", async () => {
    const hook = receiver({ answer: (n) => (n < 3 ? (n % 2 ? 500 : 503) : 200) });
    afterAll(() => hook.stop());
    const t = await adminApp(alerts(hook.url));
    const id = await raiseSecurityEvent(t.sql, { kind: "emergency_access", severity: "high" });
    await until("delivered", async () => (await outbox(t.sql, id!)).find((r: any) => r.delivered_at));
    await Bun.sleep(400);
    expect(hook.received.map((d) => d.status)).toEqual([503, 500, 503, 200]);
    expect(new Set(hook.received.map((d) => d.id)).size).toBe(1);
    // Backoff doubles (0.2 s, 0.4 s, 0.8 s here, give or take the poll interval).
    const gaps = hook.received.slice(1).map((d, i) => Number(d.timestamp) - Number(hook.received[i]!.timestamp));
    expect(gaps.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1);
    for (const d of hook.received) expect(await verifies(SECRET, d)).toBe(true);
  });

  test("a receiver that never accepts: given up after maxAttempts, with the reason kept", async () => {
    const hook = receiver({ answer: () => 500 });
    afterAll(() => hook.stop());
    const t = await adminApp(alerts(hook.url, { maxAttempts: 3, retryBase: 0.1 }));
    const id = await raiseSecurityEvent(t.sql, { kind: "key_revoked", severity: "high" });
    const row = await until("given up", async () => (await outbox(t.sql, id!)).find((r: any) => r.failed_at));
    expect(row).toMatchObject({ attempts: 3, delivered_at: null, last_error: "webhook answered 500" });
    await Bun.sleep(500);
    expect(hook.received).toHaveLength(3);
  });
});

describe("durability and several nodes", () => {
  test("an alert raised just before a stop is delivered by the next start", async () => {
    const hook = receiver();
    afterAll(() => hook.stop());
    const database = await freshDatabase();
    // This node looks at the outbox only at start: the alert raised after it will wait.
    const first = await adminApp(alerts(hook.url, { pollInterval: 600 }), database);
    const id = await raiseSecurityEvent(first.sql, { kind: "refresh_token_reuse", severity: "high", details: { session_id: "s" } });
    await first.app.stop();
    expect(hook.received).toHaveLength(0);
    expect((await outbox(database.db.sql, id!))[0]).toMatchObject({ delivered_at: null, attempts: 0 });
    const second = await adminApp(alerts(hook.url), database);
    await until("delivered after the restart", async () => hook.received.length === 1);
    const row = await until("marked delivered", async () => (await outbox(second.sql, id!)).find((r: any) => r.delivered_at));
    expect(row).toMatchObject({ attempts: 1, delivery_id: hook.received[0]!.id });
    expect(row.delivered_at).not.toBeNull();
  });

  test("a row claimed by a node that died mid-delivery is delivered once its lease has passed", async () => {
    const hook = receiver();
    afterAll(() => hook.stop());
    const database = await freshDatabase();
    const t = await adminApp(alerts(hook.url, { pollInterval: 600 }), database);
    const id = await raiseSecurityEvent(t.sql, { kind: "policy_changed", severity: "high" });
    // Another node claims it and dies before delivering.
    const [claimed] = await claimAlerts(database.db.sql);
    expect(claimed!.event.id).toBe(String(id));
    await t.app.stop();
    // Not before the lease ends…
    const early = await adminApp(alerts(hook.url), database);
    await Bun.sleep(500);
    expect(hook.received).toHaveLength(0);
    // …then (the lease moved to now), exactly once, with the id it was queued with.
    await database.db.sql`update plinth.security_alert_outbox set next_attempt_at = now() where id = ${claimed!.id}`;
    await until("delivered", async () => hook.received.length === 1);
    expect(hook.received[0]!.id).toBe(claimed!.delivery_id);
    expect((await outbox(early.sql, id!))[0].attempts).toBe(2);
  });

  test("two nodes delivering from one outbox never send an alert twice", async () => {
    const hook = receiver();
    afterAll(() => hook.stop());
    const database = await freshDatabase();
    const a = await adminApp(alerts(hook.url, { pollInterval: 0.05 }), database);
    const b = await adminApp(alerts(hook.url, { pollInterval: 0.05 }), database);
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) => raiseSecurityEvent(i % 2 ? a.sql : b.sql, { kind: "failure_burst", severity: "high", details: { n: i } })),
    );
    await until("all delivered", async () => hook.received.length >= 40, 30_000);
    await Bun.sleep(500);
    expect(hook.received).toHaveLength(40);
    expect(new Set(hook.received.map((d) => d.id)).size).toBe(40);
    expect(new Set(hook.received.map((d) => JSON.parse(d.body).data.id)).size).toBe(40);
    const done = await a.sql`select id from plinth.security_alert_outbox where event_id = any(${ids}::bigint[]) and delivered_at is not null and attempts = 1`;
    expect(done).toHaveLength(40);
  });
});

describe("e-mail", () => {
  test("an alert e-mail through the configured SMTP server, alongside the webhook", async () => {
    const sink = await startSmtpSink();
    afterAll(() => sink.stop());
    const hook = receiver();
    afterAll(() => hook.stop());
    const t = await adminApp({
      smtp: { host: "127.0.0.1", port: sink.port },
      ...alerts(hook.url, { email: "security@example.com", minSeverity: "medium" }),
    });
    // Through a real flow: five wrong passwords lock an identifier (a medium event).
    const email = `alerted.${Date.now()}@example.com`;
    expect((await t.call("POST", "/auth/v1/signup", { email, password: "Correct-horse-1" }, { apikey: t.keys.anon })).status).toBe(200);
    for (let i = 0; i < 5; i++) await t.call("POST", "/auth/v1/token?grant_type=password", { email, password: "wrong-one-1" }, { apikey: t.keys.anon });
    const mail = await sink.waitFor((m) => m.to.includes("security@example.com"), 15_000);
    expect(mail.subject).toBe("[Plinth security] medium: lockout");
    expect(mail.text).toContain(`email:${email}`);
    expect(mail.text).not.toContain("wrong-one-1");
    await until("the webhook too", async () => hook.received.some((d) => JSON.parse(d.body).type === "security.lockout"));
    await until("both marked delivered", async () => (await t.sql`select 1 from plinth.security_alert_outbox where delivered_at is null`).length === 0);
    const rows = await t.sql<
      { target: string; done: boolean }[]
    >`select target, delivered_at is not null as done from plinth.security_alert_outbox order by target`;
    expect([...rows]).toEqual([
      { target: "email", done: true },
      { target: "webhook", done: true },
    ]);
  });
});

describe("configuration", () => {
  test("a webhook needs a whsec_ secret; production wants https and an SMTP server for e-mail", () => {
    expect(() => configSchema.parse({ security: { alerts: { webhookUrl: "https://hooks.example.com/x" } } })).toThrow(/webhookSecret/);
    expect(() => configSchema.parse({ security: { alerts: { webhookUrl: "https://h.example.com", webhookSecret: "plain" } } })).toThrow(/whsec_/);
    expect(() => configSchema.parse({ security: { alerts: { minSeverity: "urgent" } } })).toThrow();
    const prod = (alerts: Record<string, unknown>, smtp: Record<string, unknown> = {}) =>
      unsafeSettings({
        config: configSchema.parse({ env: "production", jwt: { secret: "x".repeat(40) }, auth: { autoconfirm: false }, smtp, security: { alerts } }),
        explicit: new Set(["auth.autoconfirm"]),
      } as unknown as LoadedConfig);
    expect(prod({ webhookUrl: "http://hooks.example.com/x", webhookSecret: SECRET }).join(" ")).toMatch(/https/);
    expect(prod({ webhookUrl: "https://hooks.example.com/x", webhookSecret: SECRET })).toEqual([]);
    expect(prod({ email: "sec@example.com" }).join(" ")).toMatch(/SMTP/);
    expect(prod({ email: "sec@example.com" }, { host: "smtp.example.com" })).toEqual([]);
  });
});
