// Helpers for the auth suites: a supabase-js client for a test server, and the code and link out
// of a received mail or SMS.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { SinkMail } from "./smtp-sink.ts";

export function client(url: string, key: string, flowType: "implicit" | "pkce" = "implicit"): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType },
  });
}

export function codeOf(text: string): string {
  const m = /code:\s*(\d{6,10})/.exec(text) ?? /\b(\d{6})\b/.exec(text);
  if (!m) throw new Error(`no code in: ${text}`);
  return m[1]!;
}

export function linkOf(mail: SinkMail): URL {
  const m = /(https?:\/\/\S+\/auth\/v1\/verify\?\S+)/.exec(mail.text);
  if (!m) throw new Error(`no link in: ${mail.text}`);
  return new URL(m[1]!);
}

/** Follows a /verify link like a browser would, without following the redirect. */
export async function follow(link: URL): Promise<{ status: number; location: URL }> {
  const res = await fetch(link, { redirect: "manual" });
  return { status: res.status, location: new URL(res.headers.get("location")!) };
}

export const fragmentOf = (u: URL): URLSearchParams => new URLSearchParams(u.hash.slice(1));

let n = 0;
/** A unique address per call (tests share one database per file). */
export const uniqueEmail = (tag = "user"): string => `${tag}.${Date.now().toString(36)}.${n++}@example.com`;

/** A valid Ghanaian mobile number, unique per call. */
export const uniquePhone = (): string => `+23324${String(1000000 + ((Date.now() + n++ * 7919) % 8999999)).padStart(7, "0")}`;

/** Raw JSON call for the ugly cases. */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { key: string; bearer?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${base}/auth/v1${path}`, {
    method,
    headers: {
      apikey: opts.key,
      authorization: `Bearer ${opts.bearer ?? opts.key}`,
      "content-type": "application/json",
      "x-supabase-api-version": "2024-01-01",
      ...opts.headers,
    },
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

/** JWT claims of an access token (no verification: for assertions). */
export const claimsOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString());

export interface InProcessAuth {
  /** A JSON request through the gateway (anon key unless `bearer`). */
  call(method: string, path: string, body?: unknown, bearer?: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/**
 * An auth service with injected mail and SMS doubles, behind a real gateway, in this process, on an
 * existing test server's database (no port, no new database): for what the sinks cannot show, such
 * as the exact address a provider was handed, or a failing mailer.
 */
export async function inProcessAuth(
  srv: { database: { db: import("../../src/db/pool.ts").Database; url: string }; secret: string; keys: { anon: string } },
  overrides: import("../../src/config/schema.ts").ConfigInput,
  providers: { mailer?: import("../../src/delivery/index.ts").Mailer | null; sms?: import("../../src/delivery/index.ts").SmsSender | null },
): Promise<InProcessAuth> {
  const { createAuthService } = await import("../../src/auth/service.ts");
  const { createApp } = await import("../../src/app.ts");
  const { silentLogger } = await import("../../src/log.ts");
  const { testConfig } = await import("./app.ts");
  const config = testConfig({ rateLimit: { enabled: false }, ...overrides });
  const db = srv.database.db;
  const svc = await createAuthService(
    { config, db, log: silentLogger, jwtSecret: srv.secret, dbUrl: srv.database.url },
    { mailer: providers.mailer ?? null, sms: providers.sms ?? null },
  );
  const gw = createApp({ config, db, log: silentLogger, jwtSecret: srv.secret, databaseLabel: "test", services: [svc] });
  return {
    async call(method, path, body, bearer) {
      const res = await gw.fetch(
        new Request(`http://localhost/auth/v1${path}`, {
          method,
          headers: { apikey: srv.keys.anon, authorization: `Bearer ${bearer ?? srv.keys.anon}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        { requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 1 }) },
      );
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      await gw.stop(); // stops the auth service and the gateway's timers
    },
  };
}
