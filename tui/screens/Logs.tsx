// logs: the server's recent log lines (GET /admin/v1/logs, a bounded ring on the server), newest at
// the bottom, following live (f pauses). l cycles the minimum level, a the area; `/` filters the
// text. Warnings and errors are coloured.
import { Box, Text, useInput } from "ink";
import { useEffect, useRef, useState } from "react";
import { errorLine } from "../api/client.ts";
import type { LogLine } from "../api/types.ts";
import { ErrorText } from "../components/Message.tsx";
import { fit } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter } from "../state/use-list.ts";
import type { ScreenProps } from "../shell/screens.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"];
export const LOG_AREAS = [null, "auth", "rest", "storage", "realtime", "admin", "system"] as const;
export const LOGS_POLL_MS = 1000;
const KEEP = 2000;

export function fieldsText(f: Record<string, unknown>): string {
  const { method, path, status, duration_ms, ...rest } = f;
  const head = method && path ? `${method} ${path} ${status ?? ""} ${duration_ms !== undefined ? `${duration_ms}ms` : ""}`.trim() : "";
  const tail = Object.entries(rest)
    .filter(([k]) => k !== "request_id")
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return [head, tail].filter(Boolean).join(" ");
}

export function Logs({ width, height }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [level, setLevel] = useState("info");
  const [area, setArea] = useState<(typeof LOG_AREAS)[number]>(null);
  const [follow, setFollow] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [scroll, setScroll] = useState(0);
  const cursor = useRef(0);

  useEffect(() => {
    cursor.current = 0;
    setLines([]);
    setScroll(0);
  }, [level, area]);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      try {
        const r = await client.logs({ level, area, after: cursor.current, limit: 500 });
        if (stopped) return;
        cursor.current = r.cursor;
        if (r.lines.length) setLines((l) => [...l, ...r.lines].slice(-KEEP));
        setError(null);
      } catch (err) {
        if (!stopped) setError(err);
      }
      if (!stopped && follow) timer = setTimeout(poll, LOGS_POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [client, level, area, follow]);

  useHints([
    { key: "f", label: follow ? "pause" : "follow" },
    { key: "l", label: `level ≥${level}` },
    { key: "a", label: `area ${area ?? "all"}` },
    { key: "↑↓", label: "scroll" },
  ]);
  useInput(
    (input, key) => {
      if (input === "f") setFollow((f) => !f);
      else if (input === "l") setLevel((l) => LOG_LEVELS[(LOG_LEVELS.indexOf(l) + 1) % LOG_LEVELS.length]!);
      else if (input === "a") setArea((a) => LOG_AREAS[(LOG_AREAS.indexOf(a) + 1) % LOG_AREAS.length]!);
      else if (key.upArrow || input === "k") setScroll((s) => s + 1);
      else if (key.downArrow || input === "j") setScroll((s) => Math.max(0, s - 1));
      else if (key.pageUp) setScroll((s) => s + height - 2);
      else if (key.pageDown) setScroll((s) => Math.max(0, s - height + 2));
      else if (key.end || input === "G") setScroll(0);
    },
    { isActive: nav.mode === "normal" && !nav.capturing },
  );
  const shown = byFilter(lines, nav.filter, (l) => `${l.level} ${l.area} ${l.msg} ${fieldsText(l.fields)}`);
  const rows = Math.max(1, height - 1);
  const end = Math.max(0, shown.length - scroll);
  const visible = shown.slice(Math.max(0, end - rows), end);
  if (error && !lines.length) return <ErrorText error={error} />;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        {shown.length} line(s) · {follow ? <Text color={tone("ok")}>following</Text> : <Text color={tone("warn")}>paused</Text>}
        {scroll ? ` · ${scroll} up` : ""}
        {error ? <Text color={tone("danger")}> · {errorLine(error)}</Text> : null}
      </Text>
      {visible.map((l) => (
        <Text key={l.seq} wrap="truncate" color={l.level === "error" ? tone("danger") : l.level === "warn" ? tone("warn") : undefined}>
          <Text color={tone("muted")}>{l.time.slice(11, 19)} </Text>
          {fit(l.level, 5)} {fit(l.area, 8)} {fit(`${l.msg} ${fieldsText(l.fields)}`, Math.max(10, width - 29))}
        </Text>
      ))}
    </Box>
  );
}
