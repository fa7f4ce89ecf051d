// sessions: admin sessions — one's own, or everyone's for a system_admin. x revokes one (after a
// confirmation); the server refuses it at once on every node. The session in use is marked.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

export function Sessions({ width, height }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const [confirm, setConfirm] = useState(false);
  const sessions = useLoad(() => client.sessions(), []);
  const list = byFilter(sessions.data ?? [], nav.filter, (s) => `${s.email} ${s.ip} ${s.user_agent} ${s.method}`);
  const { selected } = useList(list.length, height - 3, { active: !confirm });
  useCapture(confirm);
  const current = list[selected];
  useHints([
    { key: "x", label: "revoke" },
    { key: "r", label: "refresh" },
  ]);
  useInput(
    (input) => {
      if (input === "r") sessions.reload();
      else if (input === "x" && current) setConfirm(true);
    },
    { isActive: nav.mode === "normal" && !confirm },
  );
  if (confirm && current) {
    return (
      <Confirm
        title={`Revoke the session of ${current.email ?? "emergency access"} from ${current.ip ?? "?"}?`}
        lines={[
          current.current
            ? "This is the session you are using: the console will be signed out."
            : `Started ${when(current.created_at)}, last seen ${when(current.last_seen_at)}.`,
        ]}
        onYes={async () => {
          setConfirm(false);
          try {
            await client.revokeSession(current.id);
            nav.say(`Revoked session ${current.id.slice(0, 8)}`);
            sessions.reload();
          } catch (err) {
            nav.say(errorLine(err), "danger");
          }
        }}
        onNo={() => setConfirm(false)}
      />
    );
  }
  if (!sessions.data) return sessions.error ? <ErrorText error={sessions.error} /> : <Loading />;
  return (
    <Box flexDirection="column">
      <Text>
        {list.length} session(s)
        {sessions.error ? <Text color={tone("danger")}> · {errorLine(sessions.error)}</Text> : null}
      </Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[
          { title: "" },
          { title: "admin", max: 28 },
          { title: "level" },
          { title: "via" },
          { title: "ip" },
          { title: "last seen" },
          { title: "client", max: 24 },
        ]}
        rows={list.map((s) => [
          s.current ? "*" : "",
          s.email ?? (s.emergency ? "emergency" : "–"),
          s.level ?? "",
          s.method,
          s.ip ?? "",
          when(s.last_seen_at).slice(5, 16),
          s.user_agent ?? "",
        ])}
      />
    </Box>
  );
}
