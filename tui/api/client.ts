// The console's one client of the admin API (/admin/v1) and /health: typed calls, no React, no
// database. Every failure becomes an ApiError with the server's code and message (or a code of our
// own for the network: `unreachable`, `timeout`, `cancelled`), so screens can print it as it is and
// never show a stack trace. The token is an admin session token or the service_role key; it lives
// in memory only.
import { oneLine as inert1 } from "../lib/format.ts";
import type {
  AdminAccount,
  AdminSession,
  ApiKey,
  AuditEntry,
  BackupJob,
  BackupList,
  HealthReply,
  LoginReply,
  LogsReply,
  MfaEnrolment,
  MfaStatus,
  Policy,
  RowPage,
  SecurityEventPage,
  SecurityEventQuery,
  SecurityLock,
  SigningKey,
  SimulateRequest,
  SimulationResult,
  SqlReply,
  Stats,
  TableDetail,
  TableSecurityChange,
  TableSecurityDocument,
  TableSecurityView,
  TableSummary,
  UserDetail,
  UserList,
  Whoami,
} from "./types.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
  /** "message (code)", the way every screen shows an error. (Not `line`: Bun gives every Error an own `line`.) */
  get summary(): string {
    return `${this.message} (${this.code}${this.status ? ` ${this.status}` : ""})`;
  }
}

// Server messages may echo user input (a column name, a value): made inert for the terminal.
export const errorLine = (err: unknown): string =>
  inert1(err instanceof ApiError ? err.summary : err instanceof Error ? `${err.message} (client_error)` : String(err));

/** A 404 from an endpoint this server does not have (an older server, a feature not built). */
export const isMissingEndpoint = (err: unknown): boolean => err instanceof ApiError && err.status === 404 && err.code === "not_found";

export interface ClientOptions {
  /** The server's base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  /** An admin session token (plinth_as_…) or the service_role key. */
  token?: string | null;
  /** The service_role key is sent as apikey too (the gateway wants one for keys). */
  isServiceKey?: boolean;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface Call {
  query?: Record<string, string | number | undefined | null | string[]>;
  body?: unknown;
  signal?: AbortSignal;
  /** Overrides the default timeout (the SQL console waits for the server's own limit). */
  timeoutMs?: number;
  /** Return the body as text (exports), not parsed JSON. */
  raw?: boolean;
}

export interface RowsQuery {
  limit: number;
  offset: number;
  order?: string | null;
  filters?: string[];
}

export class AdminClient {
  readonly url: string;
  private token: string | null;
  private readonly isServiceKey: boolean;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ClientOptions) {
    this.url = normaliseUrl(opts.url);
    this.token = opts.token ?? null;
    this.isServiceKey = opts.isServiceKey ?? false;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.fetchFn = opts.fetch ?? fetch;
  }

  get signedIn(): boolean {
    return this.token !== null;
  }

  /** A client for the same server holding `token` (after a sign-in). */
  withToken(token: string, isServiceKey = false): AdminClient {
    return new AdminClient({ url: this.url, token, isServiceKey, timeoutMs: this.timeoutMs, fetch: this.fetchFn });
  }

  async request<T>(method: string, path: string, call: Call = {}): Promise<T> {
    const url = new URL(path.startsWith("/health") ? path : `/admin/v1${path}`, this.url);
    for (const [k, v] of Object.entries(call.query ?? {})) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) for (const x of v) url.searchParams.append(k, x);
      else url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    if (this.token) {
      headers.authorization = `Bearer ${this.token}`;
      if (this.isServiceKey) headers.apikey = this.token;
    }
    const timeout = AbortSignal.timeout(call.timeoutMs ?? this.timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, body: call.body === undefined ? undefined : JSON.stringify(call.body), signal });
    } catch (err) {
      if (call.signal?.aborted) throw new ApiError(0, "cancelled", "Cancelled");
      if (timeout.aborted) throw new ApiError(0, "timeout", `No answer from ${this.url} in ${Math.round((call.timeoutMs ?? this.timeoutMs) / 1000)} s`);
      throw new ApiError(0, "unreachable", `Cannot reach ${this.url}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    if (res.ok && call.raw) return text as T;
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
    }
    if (!res.ok) {
      const b = (body ?? {}) as { code?: unknown; error_code?: unknown; message?: unknown; msg?: unknown; details?: unknown };
      const code = typeof b.code === "string" ? b.code : typeof b.error_code === "string" ? b.error_code : `http_${res.status}`;
      const message = typeof b.message === "string" ? b.message : typeof b.msg === "string" ? b.msg : res.statusText || "Request failed";
      throw new ApiError(res.status, code, message, b.details);
    }
    return body as T;
  }

  // Health and identity.
  health = () => this.request<HealthReply>("GET", "/health", { timeoutMs: 5_000 });
  login = (identifier: string, password: string) =>
    this.request<LoginReply>("POST", "/auth/login", { body: identifier.includes("@") ? { email: identifier, password } : { username: identifier, password } });
  mfa = (challenge_token: string, code: string) => this.request<LoginReply>("POST", "/auth/mfa", { body: { challenge_token, code } });
  whoami = () => this.request<Whoami>("GET", "/auth/session");
  logout = () => this.request<null>("POST", "/auth/logout");
  // One's own TOTP factor (src/admin/accounts/mfa-routes.ts); the enrolment at sign-in takes the token.
  mfaStatus = () => this.request<MfaStatus>("GET", "/account/mfa");
  mfaEnroll = () => this.request<MfaEnrolment>("POST", "/account/mfa/enroll", { body: {} });
  mfaVerify = (factor_id: string, code: string) =>
    this.request<{ factor_id: string; recovery_codes: string[] }>("POST", "/account/mfa/verify", { body: { factor_id, code } });
  mfaUnenroll = (code: string) => this.request<null>("DELETE", "/account/mfa", { body: { code } });
  enrolAtSignIn = (enrollment_token: string) => this.request<MfaEnrolment>("POST", "/auth/mfa/enroll", { body: { enrollment_token } });
  verifyAtSignIn = (enrollment_token: string, factor_id: string, code: string) =>
    this.request<Extract<LoginReply, { session_token: string }> & { recovery_codes: string[] }>("POST", "/auth/mfa/enroll/verify", {
      body: { enrollment_token, factor_id, code },
    });

  // Overview and logs.
  stats = () => this.request<Stats>("GET", "/stats");
  plugins = () => this.request<import("./types.ts").PluginsReply>("GET", "/plugins");
  logs = (q: { level?: string; area?: string | null; after?: number; limit?: number }) => this.request<LogsReply>("GET", "/logs", { query: q });

  // Schema and rows.
  schemas = () => this.request<{ name: string; system: boolean }[]>("GET", "/schemas");
  tables = (schema = "public") => this.request<TableSummary[]>("GET", "/tables", { query: { schema } });
  table = (schema: string, name: string) => this.request<TableDetail>("GET", `/tables/${enc(schema)}/${enc(name)}`);
  patchTable = (schema: string, name: string, body: unknown) => this.request<TableDetail>("PATCH", `/tables/${enc(schema)}/${enc(name)}`, { body });
  rows = (schema: string, name: string, q: RowsQuery, signal?: AbortSignal) =>
    this.request<RowPage>("GET", `/tables/${enc(schema)}/${enc(name)}/rows`, {
      query: { limit: q.limit, offset: q.offset, order: q.order ?? undefined, filter: q.filters ?? [] },
      signal,
    });
  insertRow = (schema: string, name: string, row: Record<string, unknown>) =>
    this.request<Record<string, unknown>>("POST", `/tables/${enc(schema)}/${enc(name)}/rows`, { body: row });
  updateRow = (schema: string, name: string, pk: string, changes: Record<string, unknown>) =>
    this.request<Record<string, unknown>>("PATCH", `/tables/${enc(schema)}/${enc(name)}/rows/${enc(pk)}`, { body: changes });
  deleteRow = (schema: string, name: string, pk: string) =>
    this.request<Record<string, unknown>>("DELETE", `/tables/${enc(schema)}/${enc(name)}/rows/${enc(pk)}`);

  // The SQL console: waits as long as the server's own limit allows.
  sql = (query: string, opts: { confirm?: boolean; signal?: AbortSignal } = {}) =>
    this.request<SqlReply>("POST", "/sql", { body: { query, ...(opts.confirm ? { confirm: true } : {}) }, signal: opts.signal, timeoutMs: 120_000 });

  // Policies.
  policies = (q: { schema?: string; table?: string } = {}) => this.request<Policy[]>("GET", "/policies", { query: q });
  createPolicy = (body: unknown) => this.request<Policy>("POST", "/policies", { body });
  dropPolicy = (schema: string, table: string, name: string) => this.request<unknown>("DELETE", `/policies/${enc(schema)}/${enc(table)}/${enc(name)}`);

  // End users.
  users = (q: { search?: string; limit?: number; offset?: number }) => this.request<UserList>("GET", "/users", { query: q });
  user = (id: string) => this.request<UserDetail>("GET", `/users/${enc(id)}`);
  userAction = (id: string, action: "ban" | "unban" | "signout" | "reset-password", body: unknown = {}) =>
    this.request<unknown>("POST", `/users/${enc(id)}/${action}`, { body });
  createUser = (body: unknown) => this.request<unknown>("POST", "/users", { body });
  inviteUser = (email: string) => this.request<unknown>("POST", "/users/invite", { body: { email } });
  deleteUser = (id: string) => this.request<unknown>("DELETE", `/users/${enc(id)}`);

  // Admins and sessions.
  admins = () => this.request<AdminAccount[]>("GET", "/admins");
  addAdmin = (body: unknown) => this.request<AdminAccount>("POST", "/admins", { body });
  patchAdmin = (id: string, body: unknown) => this.request<AdminAccount>("PATCH", `/admins/${enc(id)}`, { body });
  removeAdmin = (id: string) => this.request<unknown>("DELETE", `/admins/${enc(id)}`);
  sessions = () => this.request<AdminSession[]>("GET", "/sessions");
  revokeSession = (id: string) => this.request<null>("DELETE", `/sessions/${enc(id)}`);

  // Audit.
  audit = (q: { limit?: number; before?: number | null; action?: string }) => this.request<AuditEntry[]>("GET", "/audit", { query: q });
  auditVerify = () => this.request<Record<string, unknown>>("GET", "/audit/verify", { timeoutMs: 120_000 });
  /** The whole log as NDJSON text (oldest first). */
  auditExport = (format: "ndjson" | "csv" = "ndjson") => this.request<string>("GET", "/audit/export", { query: { format }, timeoutMs: 300_000, raw: true });

  // Security events and brute-force locks (src/admin/security/event-routes.ts).
  securityEvents = (q: SecurityEventQuery = {}) => this.request<SecurityEventPage>("GET", "/security/events", { query: { ...q } });
  securityLocks = () => this.request<{ locks: SecurityLock[] }>("GET", "/security/locks");
  clearLock = (identifier: string) => this.request<null>("DELETE", `/security/locks/${enc(identifier)}`);

  // Table security settings and the policy simulator (src/admin/security/tables/routes.ts).
  tableSecurity = (schema: string, name: string) => this.request<TableSecurityView>("GET", `/tables/${enc(schema)}/${enc(name)}/security`);
  putTableSecurity = (schema: string, name: string, doc: TableSecurityDocument, dryRun: boolean) =>
    this.request<TableSecurityChange>("PUT", `/tables/${enc(schema)}/${enc(name)}/security`, {
      query: { dry_run: dryRun ? "true" : undefined },
      body: doc,
      timeoutMs: 120_000,
    });
  simulate = (body: SimulateRequest) => this.request<SimulationResult>("POST", "/security/simulate", { body, timeoutMs: 30_000 });

  // Keys (src/keys/routes.ts): signing keys and API keys.
  signingKeys = () => this.request<SigningKey[]>("GET", "/keys/signing");
  createSigningKey = (alg: string) => this.request<SigningKey>("POST", "/keys/signing", { body: { alg } });
  /** `kid`: a standby key to make current; without it the newest standby key (or a new one). */
  rotateSigningKey = (kid?: string) =>
    this.request<{ current: string; previous: string | null; alg: string }>("POST", "/keys/signing/rotate", { body: kid ? { kid } : {} });
  revokeSigningKey = (kid: string) => this.request<{ kid: string; status: string }>("POST", `/keys/signing/${enc(kid)}/revoke`, { body: {} });
  apiKeys = () => this.request<ApiKey[]>("GET", "/keys/api");
  createApiKey = (body: { name: string; kind: string; scopes?: string[]; expires?: string }) =>
    this.request<ApiKey & { key: string }>("POST", "/keys/api", { body });
  /** A new secret for the key `name`; the old one keeps working for `overlap` ("24h", "0"). */
  rotateApiKey = (name: string, overlap: string) =>
    this.request<ApiKey & { key: string; replaces: string; old_key_expires_at: string }>("POST", `/keys/api/${enc(name)}/rotate`, {
      body: { overlap },
    });
  legacyKeys = () => this.request<{ legacy_api_keys: boolean }>("GET", "/keys/legacy");
  setLegacyKeys = (enabled: boolean) => this.request<{ legacy_api_keys: boolean }>("POST", "/keys/legacy", { body: { enabled } });
  revokeApiKey = (nameOrId: string) =>
    this.request<{ revoked: { id: string; name: string; kind: string }[] }>("POST", `/keys/api/${enc(nameOrId)}/revoke`, { body: {} });

  // Backups the server takes into its data dir (src/admin/backups/routes.ts): start, progress, cancel, delete.
  backups = () => this.request<BackupList>("GET", "/backups");
  startBackup = (body: { gzip?: boolean; max_rate?: number } = {}) => this.request<BackupJob>("POST", "/backups", { body });
  backupProgress = (signal?: AbortSignal) => this.request<BackupJob>("GET", "/backups/current", { signal });
  /** Answers once the backup has stopped (the server waits for it). */
  cancelBackup = () => this.request<BackupJob>("DELETE", "/backups/current", { timeoutMs: 60_000 });
  deleteBackup = (name: string) => this.request<null>("DELETE", `/backups/${enc(name)}`);

  // User migrations, one per call so the console can show progress. No client time limit: dropping
  // the request cancels the migration running on the server (it rolls back), so only the operator does.
  applyMigration = (to: string, signal?: AbortSignal) =>
    this.request<{ applied: MigrationStep[] }>("POST", "/migrations/apply", { body: { to }, signal, timeoutMs: MIGRATION_WAIT_MS });
  revertMigration = (signal?: AbortSignal) =>
    this.request<{ reverted: MigrationStep[] }>("POST", "/migrations/revert", { body: { steps: 1 }, signal, timeoutMs: MIGRATION_WAIT_MS });

  // Security and migrations: endpoints other parts of the server add; screens treat 404 as "not here".
  get = <T>(path: string, query?: Call["query"]) => this.request<T>("GET", path, { query });
  post = <T>(path: string, body: unknown = {}) => this.request<T>("POST", path, { body, timeoutMs: 300_000 });
  del = <T>(path: string) => this.request<T>("DELETE", path);
}

const enc = encodeURIComponent;

/** A day: migrations take as long as they take (the operator cancels one with Esc). */
const MIGRATION_WAIT_MS = 86_400_000;

export interface MigrationStep {
  version: string;
  name: string;
  direction: "up" | "down";
  duration_ms: number;
}

export function normaliseUrl(url: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `http://${url}`;
  const u = new URL(withScheme);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
}
