// The admin API's answers as the console reads them (only the fields it uses).
export interface HealthReply {
  status: string;
  version?: string;
  database?: string;
}

export interface AdminInfo {
  id: string | null;
  email: string | null;
  level: string;
  tables: string[];
}

export type LoginReply =
  | { session_token: string; expires_at: string; admin: AdminInfo; emergency?: boolean }
  | { mfa_required: true; challenge_token: string; expires_at?: string };

export interface Whoami {
  kind: string;
  admin: AdminInfo | null;
  level: string | null;
  session_id: string | null;
  emergency: boolean;
  capabilities: string[];
}

export interface AreaRecent {
  requests_per_s: number;
  p95_ms: number | null;
  total: number;
}

export interface Stats {
  version: string;
  uptime_s: number;
  started_at: string;
  services: { name: string; status: string }[];
  areas: Record<string, AreaRecent>;
  websocket_connections: number;
  db_pool: { in_use: number; max: number };
  database: { status: string; ms: number | null; size_bytes: number | null };
  replication: { state: string; slots: { name: string; active: boolean; lag_bytes: number | null }[] };
  storage: { used_bytes: number | null; objects: number | null };
  memory_rss_bytes: number;
}

export interface LogLine {
  seq: number;
  time: string;
  level: string;
  area: string;
  msg: string;
  fields: Record<string, unknown>;
}

export interface LogsReply {
  lines: LogLine[];
  cursor: number;
}

export interface TableSummary {
  schema: string;
  name: string;
  rls_enabled: boolean;
  rows_estimate: number;
  bytes: number;
  comment: string | null;
}

export interface ColumnDetail {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
  primary_key: boolean;
  unique: boolean;
  identity: string | null;
  generated: string | null;
}

export interface TableDetail {
  schema: string;
  name: string;
  rls_enabled: boolean;
  columns: ColumnDetail[];
  foreign_keys: { name?: string; columns: string[]; references: { schema?: string; table: string; columns: string[] } | string; on_delete?: string }[];
  referenced_by: unknown[];
  policies: unknown[];
  indexes: { name: string; columns: string[]; unique: boolean; primary: boolean }[];
}

export interface RowPage {
  rows: Record<string, unknown>[];
  total: number;
  total_exact: boolean;
  limit: number;
  offset: number;
  columns: { name: string; type: string; pk: boolean }[];
  primary_key: string[];
}

export interface SqlResult {
  command: string;
  row_count: number;
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  truncated: boolean;
}

export interface SqlReply {
  results: SqlResult[];
  duration_ms: number;
}

export interface DangerDetail {
  statement_index: number;
  statement: string;
  kind: string;
  reason: string;
  impact?: { rows: number; exact: boolean };
}

export interface Policy {
  schema: string;
  table: string;
  name: string;
  command: string;
  permissive: boolean;
  roles: string[];
  using: string | null;
  with_check: string | null;
}

export interface EndUser {
  id: string;
  email: string | null;
  phone: string | null;
  username: string | null;
  created_at: string;
  last_sign_in_at: string | null;
  banned: boolean;
  banned_until: string | null;
  factor_count: number;
  admin_level: string | null;
}

export interface UserList {
  users: EndUser[];
  total: number;
}

export interface UserDetail {
  user: EndUser & Record<string, unknown>;
  sessions: { id: string; created_at: string; updated_at: string | null; aal: string | null; user_agent: string | null; ip: string | null }[];
  factors: { id: string; factor_type: string; status: string; friendly_name: string | null; created_at: string }[];
}

export interface AdminAccount {
  id: string;
  email: string | null;
  username: string | null;
  level: string;
  tables: string[];
  mfa?: boolean;
  created_at?: string;
}

export interface AdminSession {
  id: string;
  admin_id: string | null;
  email: string | null;
  level: string | null;
  method: string;
  emergency: boolean;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: { kind: string; admin: { email: string | null } | null; level: string | null; os_user: string | null; role: string };
  action: string;
  target: string | null;
  statement: string | null;
  outcome: string;
  status: number | null;
  error_code: string | null;
  duration_ms: number | null;
  security: boolean;
  reason: string | null;
}

// /admin/v1/security (src/admin/security/event-list.ts) and /admin/v1/keys (src/keys/routes.ts).
export type Severity = "low" | "medium" | "high" | "critical";
export interface SecurityEvent {
  id: string;
  at: string;
  kind: string;
  severity: Severity;
  user_id: string | null;
  address: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}
export interface SecurityEventPage {
  events: SecurityEvent[];
  next_cursor: string | null;
}
export interface SecurityEventQuery {
  kind?: string;
  severity?: string;
  min_severity?: Severity;
  user?: string;
  since?: string;
  until?: string;
  cursor?: string | null;
  limit?: number;
}
export interface SecurityLock {
  identifier: string;
  kind: "identifier" | "address";
  failures: number;
  locked: boolean;
  locked_until: string | null;
  locks: number;
  last_failure_at: string;
  last_address: string | null;
}
export interface SigningKey {
  kid: string;
  alg: string;
  status: string;
  imported: boolean;
  created_at: string;
  activated_at: string | null;
  revoked_at: string | null;
}
export interface ApiKey {
  id: string;
  name: string;
  kind: "publishable" | "secret" | "scoped";
  prefix: string;
  role: string | null;
  scopes: string[] | null;
  status: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  request_count: number;
}

/** GET /account/mfa: the signed-in admin's own TOTP factor. */
export interface MfaStatus {
  enrolled: boolean;
  factor_id: string | null;
  recovery_codes_left: number;
  /** Whether this server requires admins to have MFA. */
  required: boolean;
}

/** POST /account/mfa/enroll (or /auth/mfa/enroll): the secret, shown once. */
export interface MfaEnrolment {
  factor_id: string;
  secret: string;
  otpauth_uri: string;
}

// Table security settings and the policy simulator (src/admin/security/tables/): the document as
// PUT takes it, GET's view of what is in force, PUT's answer (dry run or applied), simulate's answer.
export const SECURITY_TEMPLATES = ["owner_only", "public_read_owner_write", "authenticated_read", "team", "admin_only", "custom"] as const;
export const SECURITY_OPERATIONS = ["select", "insert", "update", "delete"] as const;
export type SecurityOperation = (typeof SECURITY_OPERATIONS)[number];
export interface TableSecurityDocument {
  template: string;
  owner_column?: string;
  team?: { column: string; membership: { table: string; team_column: string; user_column: string } };
  operations?: Partial<Record<SecurityOperation, string[]>>;
  columns?: Record<string, { read?: string[]; write?: string[] }>;
  replace_policies?: string[];
}
export interface SecurityFinding {
  severity: "error" | "warning";
  code: string;
  message: string;
  column?: string;
  policy?: string;
  grant?: string;
}
export interface TableSecurityView {
  schema: string;
  table: string;
  document: TableSecurityDocument | null;
  migration: string | null;
  updated_at: string | null;
  rls_enabled: boolean;
  rls_forced: boolean;
  policies: (Policy & { managed: boolean })[];
  grants: { grantee: string; privileges: string[]; column: string | null }[];
  described: string[];
  warnings: SecurityFinding[];
}
export interface TableSecurityChange {
  schema: string;
  table: string;
  dry_run: boolean;
  document: TableSecurityDocument;
  up: string[];
  down: string[];
  warnings: SecurityFinding[];
  migration: { version: string; name: string; up_file: string; down_file: string } | null;
}
export type SimulateAs = { user_id: string; email?: string } | { role: "anon" | "authenticated" | "service_role" };
export interface SimulateRequest {
  as: SimulateAs;
  table?: string;
  operation?: SecurityOperation;
  /** insert: the row to try (the owner column defaults to the caller's id). */
  row?: Record<string, unknown>;
  limit?: number;
  query?: string;
}
export interface SimulationResult {
  as: { role: string; user_id: string | null };
  allowed: boolean;
  row_count: number;
  rows?: Record<string, unknown>[];
  columns?: string[];
  hidden_columns?: string[];
  error?: { code: string; message: string };
  truncated?: boolean;
  rolled_back: true;
}

/** GET /admin/v1/plugins (src/admin/plugins-routes.ts). */
export interface PluginInfo {
  name: string;
  version: string;
  state: string;
  depends_on: string[];
  hooks: { event: string; policy: string; timeout_ms: number | null }[];
  hook_calls: number;
  hook_failures: number;
  routes: string | null;
}
export interface PluginsReply {
  plugins: PluginInfo[];
  data_change: { delivered: number; dropped: number; backlog: number } | null;
}

/** A backup the server runs (GET /admin/v1/backups/current). */
export interface BackupJob {
  id: string;
  file: string;
  state: "running" | "done" | "failed" | "cancelled";
  phase: string;
  gzip: boolean;
  max_rate: number | null;
  started_at: string;
  finished_at: string | null;
  bytes_done: number;
  bytes_total: number;
  size: number | null;
  notices: string[];
  error: { code: string; message: string } | null;
}

export interface BackupArchive {
  name: string;
  size: number;
  created_at: string;
}

export interface BackupList {
  backups: BackupArchive[];
  /** The running job, if any. */
  current: BackupJob | null;
}
