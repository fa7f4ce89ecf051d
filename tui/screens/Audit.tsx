// audit: the audit log, newest first. `/` filters what is loaded (actor, action, target, outcome),
// f follows (new entries appear at the top every 2 s), m loads older entries, Enter shows one in
// full, v verifies the hash chain and e exports the whole log to a file in the current directory
// (both where the server offers them: "not available on this server" otherwise).
import { Box, Text, useInput } from "ink";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { useEffect, useRef, useState } from "react";
import { errorLine, isMissingEndpoint } from "../api/client.ts";
import type { AuditEntry } from "../api/types.ts";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { inert, oneLine, when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import type { ScreenProps } from "../shell/screens.ts";

export const AUDIT_POLL_MS = 2000;
const PAGE = 200;

const actorOf = (e: AuditEntry) => e.actor.admin?.email ?? (e.actor.os_user ? `cli:${e.actor.os_user}` : e.actor.kind);

export function Audit({ width, height }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [follow, setFollow] = useState(false);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const newest = useRef(0);

  const merge = (fresh: AuditEntry[], older = false) =>
    setEntries((cur) => {
      const byId = new Map((cur ?? []).map((e) => [e.id, e]));
      for (const e of fresh) byId.set(e.id, e);
      const all = [...byId.values()].sort((a, b) => b.id - a.id);
      newest.current = all[0]?.id ?? 0;
      return older ? all : all.slice(0, Math.max(PAGE, (cur ?? []).length + fresh.length));
    });

  useEffect(() => {
    client.audit({ limit: PAGE }).then(
      (r) => merge(r),
      (e) => setError(e),
    );
  }, [client]);

  useEffect(() => {
    if (!follow) return;
    const t = setInterval(() => {
      client.audit({ limit: 100 }).then(
        (r) => {
          merge(r.filter((e) => e.id > newest.current));
          setError(null);
        },
        (e) => setError(e),
      );
    }, AUDIT_POLL_MS);
    return () => clearInterval(t);
  }, [client, follow]);

  const list = byFilter(entries ?? [], nav.filter, (e) => `${actorOf(e)} ${e.action} ${e.target ?? ""} ${e.outcome} ${e.error_code ?? ""}`);
  const { selected, setSelected } = useList(list.length, height - 3, { active: !open, onEnter: () => setOpen(true) });
  useCapture(open);
  const current = list[selected];
  useHints([
    { key: "f", label: follow ? "stop following" : "follow" },
    { key: "m", label: "older" },
    { key: "Enter", label: "show" },
    ...(can("audit:read")
      ? [
          { key: "v", label: "verify" },
          { key: "e", label: "export" },
        ]
      : []),
  ]);

  const verify = async () => {
    setBusy("Verifying the chain…");
    try {
      const r = await client.auditVerify();
      if (r.ok) nav.say(`Audit chain intact: ${r.checked ?? "?"} entries checked`);
      else nav.say(`Audit chain BROKEN: ${String(r.message ?? r.reason ?? JSON.stringify(r))}`, "danger");
    } catch (err) {
      nav.say(isMissingEndpoint(err) ? "Verifying is not available on this server" : errorLine(err), "danger");
    } finally {
      setBusy(null);
    }
  };
  const exportLog = async () => {
    setBusy("Exporting…");
    try {
      const text = await client.auditExport();
      const file = resolve(`plinth-audit-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}.ndjson`);
      writeFileSync(file, text, { mode: 0o600 });
      nav.say(`Exported ${text.split("\n").filter(Boolean).length} entries to ${file}`);
    } catch (err) {
      nav.say(isMissingEndpoint(err) ? "Export is not available on this server" : errorLine(err), "danger");
    } finally {
      setBusy(null);
    }
  };

  useInput(
    (input, key) => {
      if (open) {
        if (key.escape || key.return || input === "q") setOpen(false);
        return;
      }
      if (busy) return;
      if (input === "f") {
        setFollow((f) => !f);
        setSelected(0);
      } else if (input === "m" && entries?.length) {
        client.audit({ limit: PAGE, before: entries.at(-1)!.id }).then(
          (r) => merge(r, true),
          (e) => nav.say(errorLine(e), "danger"),
        );
      } else if (input === "v" && can("audit:read")) void verify();
      else if (input === "e" && can("audit:read")) void exportLog();
    },
    { isActive: nav.mode === "normal" && (!nav.capturing || open) },
  );
  if (!entries) return error ? <ErrorText error={error} /> : <Loading />;
  if (open && current) {
    return (
      <Box flexDirection="column">
        <Text bold>
          #{current.id} · {current.action} · {current.outcome}
          {current.status ? ` ${current.status}` : ""}
          {current.error_code ? ` ${current.error_code}` : ""}
        </Text>
        <Text>
          {when(current.at)} · {actorOf(current)} ({current.actor.kind}
          {current.actor.level ? `, ${current.actor.level}` : ""}) · {current.duration_ms ?? "–"} ms
        </Text>
        <Text>target: {oneLine(current.target ?? "–")}</Text>
        {current.security ? <Text color={tone("warn")}>security-relevant{current.reason ? `: ${oneLine(current.reason)}` : ""}</Text> : null}
        {current.statement ? (
          <Text wrap="wrap" color={tone("muted")}>
            {inert(current.statement)
              .split("\n")
              .slice(0, height - 6)
              .join("\n")}
          </Text>
        ) : null}
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        {list.length} entr{list.length === 1 ? "y" : "ies"} · {follow ? <Text color={tone("ok")}>following</Text> : "not following"}
        {busy ? <Text color={tone("warn")}> · {busy}</Text> : null}
        {error ? <Text color={tone("danger")}> · {errorLine(error)}</Text> : null}
      </Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[
          { title: "#", align: "right" },
          { title: "at" },
          { title: "actor", max: 24 },
          { title: "action", max: 22 },
          { title: "target", max: 28 },
          { title: "outcome" },
        ]}
        rows={list.map((e) => [String(e.id), when(e.at).slice(5), actorOf(e), e.action, e.target ?? "", e.outcome + (e.error_code ? ` ${e.error_code}` : "")])}
        rowTone={(i) => (list[i]?.outcome === "ok" ? undefined : list[i]?.outcome === "denied" ? tone("warn") : tone("danger"))}
      />
    </Box>
  );
}
