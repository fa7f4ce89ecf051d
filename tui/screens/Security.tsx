// security: security events (newest first; time, severity coloured, kind, user, address; f follows,
// s raises the minimum severity, F filters on the server by kind, user, since and until, m loads
// older events by the server's cursor) and brute-force locks
// (x clears the selected one after a confirmation), from /admin/v1/security/events and
// /admin/v1/security/locks (src/admin/security/event-routes.ts). Tab switches between the two.
// t opens a table's security settings (asks for its name), w the policy simulator.
// Reading needs security:read; clearing a lock security:manage, so its key is offered only then.
import { Box, Text, useInput } from "ink";
import { useEffect, useState } from "react";
import { errorLine } from "../api/client.ts";
import type { SecurityEvent, Severity } from "../api/types.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { oneLine, when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

const PAGE = 100;
type ServerFilter = { kind?: string; user?: string; since?: string; until?: string };
/** The minimum severities `s` cycles through (null: all). */
const MIN: (Severity | null)[] = [null, "medium", "high", "critical"];

export const severityTone = (s: string): string | undefined =>
  s === "critical" || s === "high" ? tone("danger") : s === "medium" ? tone("warn") : tone("muted");

/** A short line of an event's details (its reason or identifier first). */
function detailText(d: Record<string, unknown>): string {
  return Object.entries(d ?? {})
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}

export function Security({ width, height }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const manage = can("security:manage");
  const [tab, setTab] = useState<"events" | "locks">("events");
  const [follow, setFollow] = useState(false);
  const [min, setMin] = useState(0);
  const [older, setOlder] = useState<{ events: SecurityEvent[]; cursor: string | null } | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [query, setQuery] = useState<ServerFilter>({});
  const [filterForm, setFilterForm] = useState<{ error: string | null } | null>(null);
  const minSeverity = MIN[min] ?? undefined;
  const q = { ...query, limit: PAGE, min_severity: minSeverity };
  const events = useLoad(() => client.securityEvents(q), [minSeverity, JSON.stringify(query)], {
    intervalMs: follow ? 2000 : undefined,
  });
  const locks = useLoad(() => client.securityLocks().then((r) => r.locks), [], { enabled: tab === "locks", intervalMs: follow ? 2000 : undefined });
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new query starts the list over.
  useEffect(() => setOlder(null), [minSeverity, JSON.stringify(query)]);
  const allEvents = [...(events.data?.events ?? []), ...(older?.events ?? [])];
  const nextCursor = older ? older.cursor : (events.data?.next_cursor ?? null);
  const eventList = byFilter(allEvents, nav.filter, (e) => `${e.kind} ${e.severity} ${e.user_id ?? ""} ${e.address ?? ""} ${detailText(e.details)}`);
  const lockList = byFilter(locks.data ?? [], nav.filter, (l) => `${l.identifier} ${l.kind} ${l.last_address ?? ""}`);
  const count = tab === "events" ? eventList.length : lockList.length;
  const { selected, setSelected } = useList(count, height - 3, { active: confirm === null && filterForm === null });
  useCapture(confirm !== null || filterForm !== null);
  useEffect(() => setSelected(0), [tab, setSelected]);
  useHints([
    { key: "Tab", label: tab === "events" ? "locks" : "events" },
    { key: "f", label: follow ? "stop following" : "follow" },
    ...(tab === "events"
      ? [{ key: "s", label: "min severity" }, { key: "F", label: "server filter" }, ...(nextCursor ? [{ key: "m", label: "older" }] : [])]
      : manage
        ? [{ key: "x", label: "clear lock" }]
        : []),
    { key: "t", label: "table settings" },
    ...(manage ? [{ key: "w", label: "simulate" }] : []),
  ]);
  const loadOlder = async () => {
    if (!nextCursor) return;
    try {
      const page = await client.securityEvents({ ...q, cursor: nextCursor });
      setOlder((o) => ({ events: [...(o?.events ?? []), ...page.events], cursor: page.next_cursor }));
    } catch (err) {
      nav.say(errorLine(err), "danger");
    }
  };
  useInput(
    (input, key) => {
      if (key.tab) setTab((t) => (t === "events" ? "locks" : "events"));
      else if (input === "f") setFollow((f) => !f);
      else if (input === "r") (tab === "events" ? events : locks).reload();
      else if (input === "s" && tab === "events") setMin((m) => (m + 1) % MIN.length);
      else if (input === "m" && tab === "events") void loadOlder();
      else if (input === "F" && tab === "events") setFilterForm({ error: null });
      else if (input === "x" && tab === "locks" && manage && lockList[selected]) setConfirm(lockList[selected]!.identifier);
      else if (input === "t") nav.push("tablesecurity");
      else if (input === "w" && manage) nav.push("simulate");
    },
    { isActive: nav.mode === "normal" && !nav.capturing && confirm === null && filterForm === null },
  );
  if (filterForm) {
    return (
      <Form
        title="Events on the server matching (empty: any)"
        fields={[
          { name: "kind", label: "kind", initial: query.kind ?? "", hint: "lockout, failure_burst, … (comma-separated)" },
          { name: "user", label: "user", initial: query.user ?? "", hint: "a user id (UUID)" },
          { name: "since", label: "since", initial: query.since ?? "", hint: "ISO 8601 time" },
          { name: "until", label: "until", initial: query.until ?? "", hint: "ISO 8601 time" },
        ]}
        error={filterForm.error}
        onCancel={() => setFilterForm(null)}
        onSubmit={(v) => {
          const next: ServerFilter = {};
          for (const k of ["kind", "user", "since", "until"] as const) if (v[k]?.trim()) next[k] = v[k]!.trim();
          // Asked once first, so a bad value keeps the form open with the server's own message.
          client.securityEvents({ ...next, limit: 1 }).then(
            () => {
              setQuery(next);
              setFilterForm(null);
            },
            (err) => setFilterForm({ error: errorLine(err) }),
          );
        }}
      />
    );
  }
  if (confirm !== null) {
    const lock = lockList.find((l) => l.identifier === confirm);
    return (
      <Confirm
        title={`Clear the lock on ${confirm}?`}
        lines={[
          lock ? `${lock.failures} failure(s), lock #${lock.locks}${lock.locked_until ? `, locked until ${when(lock.locked_until)}` : ""}` : "",
          "Sign-ins for it are allowed again at once; its failure count starts over.",
        ]}
        onYes={() => {
          setConfirm(null);
          client.clearLock(confirm).then(
            () => {
              nav.say(`Cleared lock ${confirm}`);
              locks.reload();
            },
            (err) => nav.say(errorLine(err), "danger"),
          );
        }}
        onNo={() => setConfirm(null)}
      />
    );
  }
  const data = tab === "events" ? events : locks;
  if (!data.data) return data.error ? <ErrorText error={data.error} /> : <Loading />;
  const following = follow ? <Text color={tone("ok")}>following</Text> : "not following";
  if (tab === "events") {
    return (
      <Box flexDirection="column">
        <Text>
          events · {eventList.length}
          {nextCursor ? "+" : ""} · min severity {minSeverity ?? "all"}
          {Object.keys(query).length
            ? ` · ${oneLine(
                Object.entries(query)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(" "),
              )}`
            : ""}{" "}
          · {following}
        </Text>
        <Table
          width={width}
          height={height - 1}
          selected={selected}
          columns={[
            { title: "time" },
            { title: "severity" },
            { title: "kind", max: 26 },
            { title: "user", max: 36 },
            { title: "address", max: 39 },
            { title: "detail", max: 40 },
          ]}
          rows={eventList.map((e) => [when(e.at), e.severity, e.kind, e.user_id ?? "–", e.address ?? "–", detailText(e.details)])}
          rowTone={(i) => severityTone(eventList[i]?.severity ?? "")}
          empty="No security events."
        />
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text>
        locks · {lockList.length} · {following}
      </Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[
          { title: "identifier", max: 40 },
          { title: "kind" },
          { title: "failures", align: "right" },
          { title: "locks", align: "right" },
          { title: "until" },
          { title: "last address", max: 39 },
        ]}
        rows={lockList.map((l) => [l.identifier, l.kind, String(l.failures), String(l.locks), when(l.locked_until), l.last_address ?? "–"])}
        empty="No locks."
      />
    </Box>
  );
}
