// Security alerts: delivery of the outbox rows raiseSecurityEvent queues (events.ts), to a webhook
// signed the Standard Webhooks way and/or an e-mail through smtp.*.
//
// Delivery rules and traps:
// - Claimed with FOR UPDATE SKIP LOCKED, and the claim pushes the row's due time a lease ahead, in
//   one statement: several nodes never take the same row, and a node that dies mid-delivery leaves
//   the row to be retried once the lease has passed. The lease (LEASE_SECONDS) is far longer than
//   a delivery may take (DELIVERY_TIMEOUT_MS), so a live node never loses its row to another.
// - At least once on the wire, exactly once for a receiver that keeps ids: every delivery of a row
//   carries the same webhook-id (made when the row was queued), and a row counts as delivered only
//   after a 2xx (webhook) or an accepted message (SMTP).
// - Failures back off exponentially (retryBase, 2×, 4× … at most an hour) up to maxAttempts, then
//   the row is given up (failed_at, last_error) and logged.
// - The signed content is "<webhook-id>.<webhook-timestamp>.<body>"; the key is the base64 part of
//   the whsec_ secret (Standard Webhooks). The timestamp is the attempt's, as the spec wants, so a
//   receiver can refuse old replays.
import { createHmac } from "node:crypto";
import type { Config } from "../../config/schema.ts";
import type { Sql } from "../../db/pool.ts";
import type { Mail, Mailer } from "../../delivery/index.ts";
import type { Logger } from "../../log.ts";
import type { EventRecord } from "./event-list.ts";

export const LEASE_SECONDS = 60;
export const DELIVERY_TIMEOUT_MS = 10_000;
const BATCH = 20;

export type AlertTarget = "webhook" | "email";

/** The targets this node's config names, with their minimum severity. */
export function configuredTargets(config: Config): { target: AlertTarget; minSeverity: string }[] {
  const a = config.security.alerts;
  const out: { target: AlertTarget; minSeverity: string }[] = [];
  if (a.webhookUrl && a.webhookSecret) out.push({ target: "webhook", minSeverity: a.minSeverity });
  if (a.email) out.push({ target: "email", minSeverity: a.minSeverity });
  return out;
}

/**
 * Writes this node's targets where raiseSecurityEvent reads them (every node of a deployment shares
 * one config; the last one started wins). Events raised from then on queue alerts for them.
 */
export async function syncAlertTargets(sql: Sql, config: Config): Promise<void> {
  const targets = configuredTargets(config);
  await sql.begin(async (tx) => {
    await tx`delete from plinth.security_alert_targets where target <> all(${targets.map((t) => t.target)}::text[])`;
    for (const t of targets) {
      await tx`insert into plinth.security_alert_targets (target, min_severity) values (${t.target}, ${t.minSeverity})
               on conflict (target) do update set min_severity = excluded.min_severity`;
    }
  });
}

/** The Standard Webhooks signature header value: "v1,<base64 HMAC-SHA256 of id.timestamp.body>". */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export interface ClaimedAlert {
  id: string;
  target: AlertTarget;
  delivery_id: string;
  attempts: number;
  event: AlertEvent;
}

/** What an alert carries: the event as GET /admin/v1/security/events lists it. */
export type AlertEvent = EventRecord;

/** Takes up to `limit` due rows for this node (see the header). */
export async function claimAlerts(sql: Sql, limit = BATCH): Promise<ClaimedAlert[]> {
  const rows = await sql<
    {
      id: string;
      target: AlertTarget;
      delivery_id: string;
      attempts: number;
      event_id: string;
      at: Date;
      kind: string;
      severity: string;
      user_id: string | null;
      address: string | null;
      user_agent: string | null;
      details: Record<string, unknown>;
    }[]
  >`
    with due as (
      select id from plinth.security_alert_outbox
      where delivered_at is null and failed_at is null and next_attempt_at <= now()
      order by next_attempt_at, id
      limit ${limit}
      for update skip locked)
    update plinth.security_alert_outbox o
    set attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => ${LEASE_SECONDS})
    from due, plinth.security_events e
    where o.id = due.id and e.id = o.event_id
    returning o.id, o.target, o.delivery_id, o.attempts, e.id as event_id, e.at, e.kind, e.severity, e.user_id, e.address, e.user_agent, e.details`;
  return rows.map((r) => ({
    id: String(r.id),
    target: r.target,
    delivery_id: r.delivery_id,
    attempts: r.attempts,
    event: {
      id: String(r.event_id),
      at: r.at.toISOString(),
      kind: r.kind,
      severity: r.severity,
      user_id: r.user_id,
      address: r.address,
      user_agent: r.user_agent,
      details: r.details,
    },
  }));
}

export interface AlertDeps {
  sql: Sql;
  config: Config;
  log: Logger;
  mailer: Mailer | null;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** The webhook body: the event as the admin API lists it, under a type name. */
export const webhookBody = (event: AlertEvent): string => JSON.stringify({ type: `security.${event.kind}`, timestamp: event.at, data: event });

export function alertMail(to: string, event: AlertEvent): Mail {
  const lines = [
    `Plinth raised a ${event.severity} security event: ${event.kind}`,
    "",
    `When:       ${event.at}`,
    `Event id:   ${event.id}`,
    ...(event.user_id ? [`User:       ${event.user_id}`] : []),
    ...(event.address ? [`Address:    ${event.address}`] : []),
    ...(event.user_agent ? [`User agent: ${event.user_agent}`] : []),
    "",
    "Details:",
    JSON.stringify(event.details, null, 2),
    "",
    "See GET /admin/v1/security/events for the full list.",
  ];
  const text = lines.join("\n");
  const html = `<pre>${text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")}</pre>`;
  return { to, subject: `[Plinth security] ${event.severity}: ${event.kind}`, text, html };
}

/** Delivers one claimed alert; throws with a reason the row keeps when it did not go through. */
export async function deliverAlert(deps: AlertDeps, alert: ClaimedAlert): Promise<void> {
  const a = deps.config.security.alerts;
  if (alert.target === "webhook") {
    if (!a.webhookUrl || !a.webhookSecret) throw new Error("no webhook is configured (security.alerts.webhookUrl)");
    const body = webhookBody(alert.event);
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await (deps.fetch ?? fetch)(a.webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Plinth-Security-Alerts",
        "webhook-id": alert.delivery_id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signWebhook(a.webhookSecret, alert.delivery_id, timestamp, body),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    // The body is not ours to read, but the connection must be freed.
    await res.body?.cancel().catch(() => {});
    if (res.status < 200 || res.status > 299) throw new Error(`webhook answered ${res.status}`);
    return;
  }
  if (!a.email) throw new Error("no alert address is configured (security.alerts.email)");
  if (!deps.mailer) throw new Error("no SMTP server is configured (smtp.host)");
  await deps.mailer.send(alertMail(a.email, alert.event));
}

/** Seconds until the next try after `attempts` failed ones. */
export const backoffSeconds = (retryBase: number, attempts: number): number => Math.min(retryBase * 2 ** Math.min(attempts - 1, 30), 3600);

/** Claims and delivers what is due; returns how many were delivered. */
export async function deliverDue(deps: AlertDeps): Promise<number> {
  const claimed = await claimAlerts(deps.sql);
  let delivered = 0;
  await Promise.all(
    claimed.map(async (alert) => {
      try {
        await deliverAlert(deps, alert);
        await deps.sql`update plinth.security_alert_outbox set delivered_at = now(), last_error = null where id = ${alert.id}`;
        delivered++;
      } catch (err) {
        const reason = (err as Error).message.slice(0, 500);
        const { maxAttempts, retryBase } = deps.config.security.alerts;
        if (alert.attempts >= maxAttempts) {
          await deps.sql`update plinth.security_alert_outbox set failed_at = now(), last_error = ${reason} where id = ${alert.id}`;
          deps.log.error("security alert given up", { target: alert.target, delivery_id: alert.delivery_id, attempts: alert.attempts, error: reason });
        } else {
          await deps.sql`update plinth.security_alert_outbox
                         set next_attempt_at = now() + make_interval(secs => ${backoffSeconds(retryBase, alert.attempts)}), last_error = ${reason}
                         where id = ${alert.id}`;
          deps.log.warn("security alert not delivered, will retry", {
            target: alert.target,
            delivery_id: alert.delivery_id,
            attempts: alert.attempts,
            error: reason,
          });
        }
      }
    }),
  );
  return delivered;
}
