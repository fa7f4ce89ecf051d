// overview: the server's live numbers from GET /admin/v1/stats, refreshed every 2 s (like htop):
// version and uptime, each service's health, requests/s and p95 per API area, websockets, the
// database pool, database size, the replication stream, storage used.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { bytes, duration, ms } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { ErrorText, Loading } from "../components/Message.tsx";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

export const OVERVIEW_REFRESH_MS = 2000;

export function Overview({ width }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const [paused, setPaused] = useState(false);
  const stats = useLoad(() => client.stats(), [], { intervalMs: paused ? undefined : OVERVIEW_REFRESH_MS });
  useHints([
    { key: "p", label: paused ? "resume" : "pause" },
    { key: "r", label: "refresh" },
  ]);
  useInput(
    (input) => {
      if (input === "p") setPaused((p) => !p);
      else if (input === "r") stats.reload();
    },
    { isActive: nav.mode === "normal" && !nav.capturing },
  );
  const s = stats.data;
  if (!s) return stats.error ? <ErrorText error={stats.error} /> : <Loading />;
  const areas = Object.entries(s.areas);
  const half = width >= 78;
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>Plinth {s.version}</Text> · up {duration(s.uptime_s)} · memory {bytes(s.memory_rss_bytes)}
        {paused ? <Text color={tone("warn")}> · paused</Text> : null}
        {stats.error ? <Text color={tone("danger")}> · stale</Text> : null}
      </Text>
      <Text>
        {s.services.map((svc) => (
          <Text key={svc.name}>
            <Text color={svc.status === "up" ? tone("ok") : tone("danger")}>{svc.status === "up" ? "●" : "○"}</Text> {svc.name}{" "}
          </Text>
        ))}
      </Text>
      <Box flexDirection={half ? "row" : "column"} marginTop={1}>
        <Box flexDirection="column" width={half ? 38 : undefined}>
          <Text bold color={tone("title")}>
            {"area".padEnd(10)}
            {"req/s".padStart(8)}
            {"p95".padStart(10)}
            {"total".padStart(9)}
          </Text>
          {areas.map(([name, a]) => (
            <Text key={name}>
              {name.padEnd(10)}
              {a.requests_per_s.toFixed(1).padStart(8)}
              {ms(a.p95_ms).padStart(10)}
              {String(a.total).padStart(9)}
            </Text>
          ))}
        </Box>
        <Box flexDirection="column" marginLeft={half ? 2 : 0} marginTop={half ? 0 : 1}>
          <Text>
            <Text bold>websockets </Text>
            {s.websocket_connections}
          </Text>
          <Text>
            <Text bold>db pool </Text>
            {s.db_pool.in_use}/{s.db_pool.max} in use
          </Text>
          <Text>
            <Text bold>database </Text>
            <Text color={s.database.status === "up" ? tone("ok") : tone("danger")}>{s.database.status}</Text> · {bytes(s.database.size_bytes)} ·{" "}
            {ms(s.database.ms)}
          </Text>
          <Text>
            <Text bold>replication </Text>
            {s.replication.state}
            {s.replication.slots.length
              ? ` · ${s.replication.slots.length} slot(s), lag ${bytes(Math.max(0, ...s.replication.slots.map((x) => x.lag_bytes ?? 0)))}`
              : ""}
          </Text>
          <Text>
            <Text bold>storage </Text>
            {bytes(s.storage.used_bytes)} in {s.storage.objects ?? "–"} objects
          </Text>
        </Box>
      </Box>
    </Box>
  );
}
