// The admin plane in-process for tests: an app with the auth and admin services over a test
// database (a fresh one, or a given one: two apps on one database are two nodes), a JSON client,
// admin accounts made through the same code the CLI uses, and sign-in helpers.
import { afterAll } from "bun:test";
import { createAuthService } from "../../src/auth/service.ts";
import { createAdminService } from "../../src/admin/service.ts";
import { grantAdmin } from "../../src/admin/accounts/accounts.ts";
import { cliActor, type AdminLevel } from "../../src/admin/authorize.ts";
import { createApp } from "../../src/app.ts";
import type { ConfigInput } from "../../src/config/schema.ts";
import { apiKeys } from "../../src/lib/jwt.ts";
import { createLogger } from "../../src/log.ts";
import { testConfig, TEST_SECRET } from "./app.ts";
import { freshDatabase, type TestDatabase } from "./db.ts";

export const PASSWORD = "Admin-password-1";

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  /** Authorization: Bearer <token> (a JWT key or an admin session token). */
  token?: string | null;
  /** The apikey header. */
  apikey?: string | null;
  headers?: Record<string, string>;
  ip?: string;
}

export async function adminApp(overrides: ConfigInput = {}, shared?: TestDatabase) {
  const database = shared ?? (await freshDatabase());
  const config = testConfig({ rateLimit: { enabled: false }, ...overrides, db: { url: database.url } });
  const log = createLogger(process.env.PLINTH_TEST_LOG ? "debug" : "silent");
  const ctx = { config, db: database.db, log, jwtSecret: TEST_SECRET, dbUrl: database.url };
  const services = [await createAuthService(ctx), await createAdminService(ctx)];
  const app = createApp({ config, db: database.db, log, jwtSecret: TEST_SECRET, services, databaseLabel: "test" });
  afterAll(() => app.stop());
  const keys = await apiKeys(TEST_SECRET);
  const sql = database.db.sql;

  async function call<T = any>(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.apikey) headers.apikey = opts.apikey;
    const url = path.startsWith("/") && !path.startsWith("/admin/v1") && !path.startsWith("/auth/v1") ? `/admin/v1${path}` : path;
    const res = await app.fetch(new Request(`http://localhost${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), {
      requestIP: () => ({ address: opts.ip ?? "127.0.0.1", family: "IPv4", port: 1 }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  }

  /** A user made an admin at `level` (created with PASSWORD when new), as the CLI would. */
  async function makeAdmin(email: string, level: AdminLevel, tables?: string[]) {
    const { account } = await grantAdmin(sql, config, cliActor("test"), {
      user: { email },
      level,
      tables,
      password: PASSWORD,
      existingPassword: "set",
      expect: "any",
    });
    return account;
  }

  /** Signs in with a password; the session token (the account must not need MFA). */
  async function login(email: string, password = PASSWORD, opts: CallOptions = {}): Promise<string> {
    const r = await call("POST", "/auth/login", { email, password }, opts);
    if (r.status !== 200) throw new Error(`login of ${email}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.session_token;
  }

  return { app, config, database, sql, keys, call, makeAdmin, login };
}

export type AdminApp = Awaited<ReturnType<typeof adminApp>>;

let counter = 0;
export const uniqueEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${++counter}@example.com`;
