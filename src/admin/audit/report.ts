// The compliance summary behind `plinth audit report --since --until [--json]`: what an auditor
// asks for about a period — admin actions by admin, privilege changes, policy and security-setting
// changes, failed and locked sign-ins, emergency access — computed in the database (aggregates, and
// lists capped at LIST_CAP entries with a `truncated` flag), so a busy month is a few queries.
//
// Which actions count as what is decided here, once, by action name (see README "Audit log").
import type { Sql } from "../../db/pool.ts";

const LIST_CAP = 1000;

export interface ReportEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  error_code: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
}

export interface ComplianceReport {
  since: string;
  until: string;
  generated_at: string;
  total_entries: number;
  admin_actions: { actor: string; kind: string; total: number; ok: number; denied: number; error: number; refused: number }[];
  privilege_changes: { entries: ReportEntry[]; truncated: boolean };
  policy_and_security_changes: { entries: ReportEntry[]; truncated: boolean };
  failed_signins: { total: number; by_target: { target: string | null; count: number }[]; by_address: { address: string | null; count: number }[] };
  locked_signins: { refused_while_locked: number; lockouts: number };
  emergency_access: { entries: ReportEntry[]; truncated: boolean };
}

// Who an entry names, for people: the admin's email, else the CLI's OS user, else the key or user.
const ACTOR = `coalesce(admin_email, admin_id, case when actor_kind = 'cli' then 'cli:' || os_user end,
  case when actor_kind = 'emergency' then 'emergency:' || coalesce(session_id, '?') end, actor_kind || coalesce(':' || actor_sub, ''))`;
// The admin plane: every kind of caller except end users acting on their own accounts.
const ADMIN_KINDS = `actor_kind in ('admin_session', 'cli', 'emergency', 'service_key') and action not like 'end\\_user.%'`;
const READ_ONLY = `(action like '%.list' or action like '%.get' or action like '%.read' or action in ('audit.verify', 'audit.export', 'audit.report'))`;
const PRIVILEGE = `(action like 'admins.%' or action in ('users.ban', 'users.unban', 'auth_admin.users.update', 'auth_admin.users.create', 'auth_admin.users.delete')) and not ${READ_ONLY}`;
const POLICY_SECURITY = `(action like 'policies.%' or action like 'security.%' or action like 'keys.%' or action like 'tables.security%' or action like 'migrations.%'
  or action like 'end\\_user.mfa.unenroll' or action like 'auth_admin.factors.delete') and not ${READ_ONLY} and action not like 'migrations.approvals'`;
const SIGNIN = `(action like 'end\\_user.signin.%' or action like 'end\\_user.verify.%' or action in ('end_user.mfa.verify', 'end_user.mfa.recovery', 'auth.login', 'auth.mfa', 'auth.emergency'))`;
const EMERGENCY = `(action like 'emergency\\_access.%' or action = 'auth.emergency' or actor_kind = 'emergency')`;

export async function complianceReport(sql: Sql, range: { since: Date; until: Date }): Promise<ComplianceReport> {
  const { since, until } = range;
  // Safe: the fragments above are static text; the range is bound.
  const inRange = sql`at >= ${since} and at < ${until}`;
  const list = async (where: string) => {
    const rows = await sql<
      {
        id: string;
        at: Date;
        actor: string;
        action: string;
        target: string | null;
        outcome: string;
        error_code: string | null;
        reason: string | null;
        details: Record<string, unknown> | null;
      }[]
    >`
      select id, at, ${sql.unsafe(ACTOR)} as actor, action, target, outcome, error_code, reason, details
      from plinth.audit_log where ${inRange} and ${sql.unsafe(where)} order by id limit ${LIST_CAP + 1}`;
    return {
      entries: rows.slice(0, LIST_CAP).map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() })),
      truncated: rows.length > LIST_CAP,
    };
  };
  const [{ total }] = (await sql`select count(*)::int as total from plinth.audit_log where ${inRange}`) as unknown as [{ total: number }];
  const adminActions = await sql<ComplianceReport["admin_actions"]>`
    select ${sql.unsafe(ACTOR)} as actor, min(actor_kind) as kind, count(*)::int as total,
           (count(*) filter (where outcome = 'ok'))::int as ok, (count(*) filter (where outcome = 'denied'))::int as denied,
           (count(*) filter (where outcome = 'error'))::int as error, (count(*) filter (where outcome = 'refused'))::int as refused
    from plinth.audit_log where ${inRange} and ${sql.unsafe(ADMIN_KINDS)}
    group by 1 order by total desc, actor`;
  const failedWhere = sql`${inRange} and ${sql.unsafe(SIGNIN)} and outcome = 'denied'`;
  const [{ failed }] = (await sql`select count(*)::int as failed from plinth.audit_log where ${failedWhere}`) as unknown as [{ failed: number }];
  const byTarget = await sql<{ target: string | null; count: number }[]>`
    select target, count(*)::int as count from plinth.audit_log where ${failedWhere} group by target order by count desc, target limit 50`;
  const byAddress = await sql<{ address: string | null; count: number }[]>`
    select client_ip as address, count(*)::int as count from plinth.audit_log where ${failedWhere} group by client_ip order by count desc, client_ip limit 50`;
  const [{ locked }] = (await sql`
    select count(*)::int as locked from plinth.audit_log where ${inRange} and error_code = 'user_locked'`) as unknown as [{ locked: number }];
  const [{ lockouts }] = (await sql`
    select count(*)::int as lockouts from plinth.security_events where at >= ${since} and at < ${until} and kind = 'lockout'`) as unknown as [
    { lockouts: number },
  ];
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    generated_at: new Date().toISOString(),
    total_entries: total,
    admin_actions: [...adminActions],
    privilege_changes: await list(PRIVILEGE),
    policy_and_security_changes: await list(POLICY_SECURITY),
    failed_signins: { total: failed, by_target: [...byTarget], by_address: [...byAddress] },
    locked_signins: { refused_while_locked: locked, lockouts },
    emergency_access: await list(EMERGENCY),
  };
}

/** The report for a terminal: headings, aligned counts, one line per listed entry. */
export function formatReport(r: ComplianceReport): string {
  const out: string[] = [];
  const entryLine = (e: ReportEntry) =>
    `  ${e.at}  ${e.actor}  ${e.action}${e.target ? ` ${e.target}` : ""}  ${e.outcome}${e.error_code ? ` (${e.error_code})` : ""}${e.reason ? `  reason: ${e.reason}` : ""}`;
  const section = (title: string, s: { entries: ReportEntry[]; truncated: boolean }) => {
    out.push("", `${title} (${s.entries.length}${s.truncated ? "+, truncated" : ""})`);
    if (!s.entries.length) out.push("  none");
    for (const e of s.entries) out.push(entryLine(e));
  };
  out.push(`Audit report ${r.since} .. ${r.until} (${r.total_entries} entries)`);
  out.push("", "Admin actions by admin");
  if (!r.admin_actions.length) out.push("  none");
  const w = Math.max(5, ...r.admin_actions.map((a) => a.actor.length));
  for (const a of r.admin_actions) {
    out.push(`  ${a.actor.padEnd(w)}  ${String(a.total).padStart(6)} total  ${a.ok} ok  ${a.denied} denied  ${a.error} error  ${a.refused} refused`);
  }
  section("Privilege changes", r.privilege_changes);
  section("Policy and security-setting changes", r.policy_and_security_changes);
  out.push("", `Failed sign-ins: ${r.failed_signins.total}`);
  for (const t of r.failed_signins.by_target.slice(0, 10)) out.push(`  ${String(t.count).padStart(6)}  ${t.target ?? "(no identifier)"}`);
  if (r.failed_signins.by_address.length) out.push("  by address:");
  for (const a of r.failed_signins.by_address.slice(0, 10)) out.push(`  ${String(a.count).padStart(6)}  ${a.address ?? "(unknown)"}`);
  out.push("", `Locked sign-ins: ${r.locked_signins.refused_while_locked} refused while locked, ${r.locked_signins.lockouts} lockouts`);
  section("Emergency access", r.emergency_access);
  return `${out.join("\n")}\n`;
}
