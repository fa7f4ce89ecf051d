// security: security events (severity coloured, f follows) and locks (c clears the selected one),
// from /admin/v1/security/events and /admin/v1/security/locks. Tab switches between the two. A
// server without these endpoints says "not available on this server".
import { Box, Text, useInput } from "ink";
import { useEffect, useState } from "react";
import { errorLine } from "../api/client.ts";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

type Row = Record<string, unknown>;
const asList = (v: unknown): Row[] => (Array.isArray(v) ? v : v && typeof v === "object" ? ((Object.values(v).find(Array.isArray) as Row[]) ?? []) : []);
const str = (v: unknown) => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));

export function Security({ width, height }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const [tab, setTab] = useState<"events" | "locks">("events");
  const [follow, setFollow] = useState(false);
  const events = useLoad((s) => client.get<unknown>("/security/events", { limit: 200 }).then(asList), [], { intervalMs: follow ? 2000 : undefined });
  const locks = useLoad(() => client.get<unknown>("/security/locks").then(asList), [], { enabled: tab === "locks" });
  const data = tab === "events" ? events : locks;
  const list = byFilter(data.data ?? [], nav.filter, (r) => JSON.stringify(r));
  const { selected, setSelected } = useList(list.length, height - 3);
  useEffect(() => setSelected(0), [tab, setSelected]);
  useHints([
    { key: "Tab", label: tab === "events" ? "locks" : "events" },
    ...(tab === "events" ? [{ key: "f", label: follow ? "stop following" : "follow" }] : [{ key: "c", label: "clear lock" }]),
  ]);
  useInput(
    async (input, key) => {
      if (key.tab) setTab((t) => (t === "events" ? "locks" : "events"));
      else if (input === "f") setFollow((f) => !f);
      else if (input === "r") data.reload();
      else if (input === "c" && tab === "locks" && list[selected]) {
        const lock = list[selected]!;
        const id = str(lock.id ?? lock.key ?? lock.identifier);
        try {
          await client.del(`/security/locks/${encodeURIComponent(id)}`);
          nav.say(`Cleared lock ${id}`);
          locks.reload();
        } catch (err) {
          nav.say(errorLine(err), "danger");
        }
      }
    },
    { isActive: nav.mode === "normal" && !nav.capturing },
  );
  if (!data.data) return data.error ? <ErrorText error={data.error} /> : <Loading />;
  if (tab === "events") {
    return (
      <Box flexDirection="column">
        <Text>
          events · {list.length} · {follow ? <Text color={tone("ok")}>following</Text> : "not following"}
        </Text>
        <Table
          width={width}
          height={height - 1}
          selected={selected}
          columns={[{ title: "at" }, { title: "severity" }, { title: "kind", max: 24 }, { title: "subject", max: 30 }, { title: "detail", max: 40 }]}
          rows={list.map((e) => [
            when(str(e.created_at ?? e.at)).slice(5),
            str(e.severity),
            str(e.kind ?? e.type),
            str(e.email ?? e.user_id ?? e.ip ?? e.identifier),
            str(e.details ?? e.data ?? ""),
          ])}
          rowTone={(i) => {
            const s = str(list[i]?.severity);
            return s === "critical" || s === "high" ? tone("danger") : s === "medium" || s === "warning" ? tone("warn") : undefined;
          }}
          empty="No security events."
        />
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text>locks · {list.length}</Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[{ title: "kind" }, { title: "subject", max: 36 }, { title: "until" }, { title: "failures", align: "right" }]}
        rows={list.map((l) => [
          str(l.kind ?? l.scope),
          str(l.identifier ?? l.key ?? l.ip ?? l.id),
          when(str(l.locked_until ?? l.until)),
          str(l.failures ?? l.count),
        ])}
        empty="No locks."
      />
    </Box>
  );
}
