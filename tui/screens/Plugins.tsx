// plugins: the server's loaded plugins (GET /admin/v1/plugins, stats:read) — version, lifecycle
// state, each hook with its failure policy, calls and failures, and the routes a plugin mounts;
// the data.change feed's counters underneath. Read-only; r refreshes.
import { Box, Text, useInput } from "ink";
import { errorLine } from "../api/client.ts";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

export function Plugins({ width, height }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const reply = useLoad(() => client.plugins(), []);
  const list = byFilter(reply.data?.plugins ?? [], nav.filter, (p) => `${p.name} ${p.hooks.map((h) => h.event).join(" ")}`);
  const { selected } = useList(list.length, height - 4, { active: true });
  useHints([{ key: "r", label: "refresh" }]);
  useInput(
    (input) => {
      if (input === "r") reply.reload();
    },
    { isActive: nav.mode === "normal" },
  );
  if (!reply.data) return reply.error ? <ErrorText error={reply.error} /> : <Loading />;
  const feed = reply.data.data_change;
  return (
    <Box flexDirection="column">
      <Text>
        {list.length} plugin(s)
        {reply.error ? <Text color={tone("danger")}> · {errorLine(reply.error)}</Text> : null}
      </Text>
      <Table
        width={width}
        height={height - 2}
        selected={selected}
        columns={[
          { title: "name", max: 24 },
          { title: "version" },
          { title: "state" },
          { title: "hooks (policy)", max: 60 },
          { title: "calls" },
          { title: "failed" },
          { title: "routes", max: 30 },
        ]}
        rows={list.map((p) => [
          p.name,
          p.version,
          p.state,
          p.hooks.map((h) => `${h.event}(${h.policy})`).join(" ") || "–",
          String(p.hook_calls),
          String(p.hook_failures),
          p.routes ?? "–",
        ])}
      />
      {feed ? (
        <Text color={feed.dropped ? tone("danger") : undefined}>
          data.change: {feed.delivered} delivered · {feed.backlog} queued · {feed.dropped} dropped
        </Text>
      ) : null}
    </Box>
  );
}
