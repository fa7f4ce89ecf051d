// System migrations, embedded into the binary as text. Add a new file here with the next number;
// never edit an applied one (start refuses when an applied file's checksum changed).
import m0001 from "./0001_roles_and_schemas.sql" with { type: "text" };
import m0002 from "./0002_auth_helpers.sql" with { type: "text" };
import m0003 from "./0003_realtime_and_schema_events.sql" with { type: "text" };
import m0004 from "./0004_auth.sql" with { type: "text" };
import m0005 from "./0005_storage.sql" with { type: "text" };
import m0006 from "./0006_realtime.sql" with { type: "text" };
import m0007 from "./0007_meta.sql" with { type: "text" };
import m0008 from "./0008_auth_mfa.sql" with { type: "text" };
import m0009 from "./0009_request_context_guard.sql" with { type: "text" };
import m0010 from "./0010_console_role.sql" with { type: "text" };
import m0011 from "./0011_realtime_tuple_visibility.sql" with { type: "text" };
import m0012 from "./0012_admin_accounts.sql" with { type: "text" };
import m0013 from "./0013_security_events.sql" with { type: "text" };
import m0014 from "./0014_lockout_and_alerts.sql" with { type: "text" };
import m0015 from "./0015_audit_chain.sql" with { type: "text" };
import m0016 from "./0016_table_security.sql" with { type: "text" };
import m0017 from "./0017_keys.sql" with { type: "text" };
import m0018 from "./0018_realtime_replay.sql" with { type: "text" };
import m0019 from "./0019_migration_approvals.sql" with { type: "text" };
import m0020 from "./0020_oauth_states.sql" with { type: "text" };
import m0021 from "./0021_admin_session_notify.sql" with { type: "text" };

export interface SystemMigration {
  version: number;
  name: string;
  sql: string;
}

export const systemMigrations: SystemMigration[] = [
  { version: 1, name: "roles_and_schemas", sql: m0001 },
  { version: 2, name: "auth_helpers", sql: m0002 },
  { version: 3, name: "realtime_and_schema_events", sql: m0003 },
  { version: 4, name: "auth", sql: m0004 },
  { version: 5, name: "storage", sql: m0005 },
  { version: 6, name: "realtime", sql: m0006 },
  { version: 7, name: "meta", sql: m0007 },
  { version: 8, name: "auth_mfa", sql: m0008 },
  { version: 9, name: "request_context_guard", sql: m0009 },
  { version: 10, name: "console_role", sql: m0010 },
  { version: 11, name: "realtime_tuple_visibility", sql: m0011 },
  { version: 12, name: "admin_accounts", sql: m0012 },
  { version: 13, name: "security_events", sql: m0013 },
  { version: 14, name: "lockout_and_alerts", sql: m0014 },
  { version: 15, name: "audit_chain", sql: m0015 },
  { version: 16, name: "table_security", sql: m0016 },
  { version: 17, name: "keys", sql: m0017 },
  { version: 18, name: "realtime_replay", sql: m0018 },
  { version: 19, name: "migration_approvals", sql: m0019 },
  { version: 20, name: "oauth_states", sql: m0020 },
  { version: 21, name: "admin_session_notify", sql: m0021 },
];
