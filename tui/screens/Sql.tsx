// sql: a multi-line editor with highlighting and completion (Tab: keywords, tables, the columns of
// tables the text names, `table.` for its columns), F5 or Ctrl+R runs, results as a grid with row
// counts and timings. History (Ctrl+P / Ctrl+N) is kept across sessions in the config dir. A
// dangerous statement comes back as 409 dangerous_statement with the server's impact estimate: it
// runs again with confirm only after y. A running query is cancelled with Esc: the request is
// dropped, and the server cancels the statement it was running and rolls its transaction back
// (src/admin/meta/sql-console.ts), so nothing keeps running and nothing of the batch is committed.
import { Box, Text, useInput, useStdin } from "ink";
import { useEffect, useRef, useState } from "react";
import { ApiError, errorLine } from "../api/client.ts";
import type { DangerDetail, SqlReply } from "../api/types.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Table } from "../components/Table.tsx";
import { backspace, emptyEditor, insert, move, newline, textOf, type EditorState } from "../lib/editor.ts";
import { cell, count, ms } from "../lib/format.ts";
import { complete, isEmpty, tokenize, type Catalog, type TokenKind } from "../lib/sql-text.ts";
import { tone, type Tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useCapture } from "../state/use-list.ts";
import type { ScreenProps } from "../shell/screens.ts";

/** The escape sequences terminals send for F5 (xterm/VT220, the Linux console, rxvt). */
const F5 = new Set(["\u001b[15~", "\u001b[[E", "\u001b[15^"]);

const TONE_OF: Partial<Record<TokenKind, Tone>> = { keyword: "keyword", string: "string", number: "number", comment: "comment", quoted: "accent" };

interface Outcome {
  reply: SqlReply;
  roundTripMs: number;
}

export function Sql({ width, height }: ScreenProps) {
  const { client, store } = useSession();
  const nav = useNav();
  const [ed, setEd] = useState<EditorState>(() => emptyEditor());
  const [focused, setFocused] = useState(true);
  const [running, setRunning] = useState<AbortController | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cancelled, setCancelled] = useState(false);
  const elapsed = useElapsed(running !== null);
  const [danger, setDanger] = useState<{ query: string; details: DangerDetail[] } | null>(null);
  const [resultIndex, setResultIndex] = useState(0);
  const [sel, setSel] = useState(0);
  const [colOffset, setColOffset] = useState(0);
  const [suggest, setSuggest] = useState<string[]>([]);
  const history = useRef<string[]>(store.history());
  const historyAt = useRef<number | null>(null);
  const catalog = useRef<Catalog>({ tables: [], columns: {} });
  const { internal_eventEmitter: keys } = useStdin() as unknown as { internal_eventEmitter?: NodeJS.EventEmitter };
  useCapture(focused || danger !== null);

  useEffect(() => {
    client.tables("public").then(
      (ts) => (catalog.current = { tables: ts.map((t) => t.name), columns: {} }),
      () => {},
    );
  }, [client]);

  useHints(
    danger
      ? []
      : focused
        ? [
            { key: "F5/Ctrl+R", label: "run" },
            { key: "Tab", label: "complete" },
            { key: "Ctrl+P/N", label: "history" },
            { key: "Esc", label: running ? "cancel" : "leave editor" },
          ]
        : [
            { key: "Enter/i", label: "edit" },
            { key: "F5", label: "run" },
            { key: "↑↓←→", label: "results" },
            { key: "[ ]", label: "result set" },
          ],
  );

  const run = async (confirm = false, query = textOf(ed)) => {
    if (running || isEmpty(query)) return;
    const ctrl = new AbortController();
    setRunning(ctrl);
    setError(null);
    setCancelled(false);
    setDanger(null);
    history.current = store.remember(query);
    historyAt.current = null;
    const started = performance.now();
    try {
      const reply = await client.sql(query, { confirm, signal: ctrl.signal });
      setOutcome({ reply, roundTripMs: performance.now() - started });
      const withRows = reply.results.map((r, i) => [r, i] as const).filter(([r]) => r.columns.length > 0);
      setResultIndex(withRows.at(-1)?.[1] ?? Math.max(0, reply.results.length - 1));
      setSel(0);
      setColOffset(0);
    } catch (err) {
      if (err instanceof ApiError && err.code === "dangerous_statement" && Array.isArray(err.details))
        setDanger({ query, details: err.details as DangerDetail[] });
      else if (ctrl.signal.aborted) setCancelled(true);
      else setError(err);
    } finally {
      setRunning(null);
    }
  };

  // F5 reaches Ink as a key without a name; listen for its escape sequence on the raw input.
  const runRef = useRef(run);
  runRef.current = run;
  useEffect(() => {
    if (!keys) return;
    const onInput = (data: string) => {
      if (F5.has(data) && nav.mode === "normal" && !danger) void runRef.current();
    };
    keys.on("input", onInput);
    return () => void keys.off("input", onInput);
  }, [keys, nav.mode, danger]);

  const tab = async () => {
    const line = ed.lines[ed.row]!;
    const text = textOf(ed);
    // Columns of the tables the text names (fetched once each).
    const c = catalog.current;
    const named = c.tables.filter((t) => new RegExp(`\\b${t}\\b`, "i").test(text) && !c.columns[t]);
    await Promise.all(
      named.slice(0, 10).map((t) =>
        client.table("public", t).then(
          (d) => (c.columns[t] = d.columns.map((x) => x.name)),
          () => (c.columns[t] = []),
        ),
      ),
    );
    const { word, candidates } = complete(text, line, ed.col, c);
    if (candidates.length === 0) return setSuggest([]);
    let prefix = candidates[0]!;
    for (const x of candidates) while (!x.toLowerCase().startsWith(prefix.toLowerCase())) prefix = prefix.slice(0, -1);
    const addition = candidates.length === 1 ? candidates[0]!.slice(word.length) + " " : prefix.slice(word.length);
    if (addition) setEd((s) => insert(s, addition));
    setSuggest(candidates.length > 1 ? candidates : []);
  };

  const fromHistory = (dir: -1 | 1) => {
    const list = history.current;
    if (!list.length) return;
    const at = historyAt.current === null ? (dir < 0 ? list.length - 1 : list.length) : historyAt.current + dir;
    if (at < 0) return;
    if (at >= list.length) {
      historyAt.current = null;
      return setEd(emptyEditor());
    }
    historyAt.current = at;
    setEd(emptyEditor(list[at]));
  };

  const result = outcome?.reply.results[resultIndex];
  useInput(
    (input, key) => {
      if (danger) return;
      if (key.ctrl && input === "r") return void run();
      if (key.escape) {
        if (running) return running.abort();
        if (focused) return setFocused(false);
        return;
      }
      if (focused) {
        setSuggest([]);
        if (key.ctrl && input === "p") return fromHistory(-1);
        if (key.ctrl && input === "n") return fromHistory(1);
        if (key.ctrl && input === "l") return setEd(emptyEditor());
        if (key.tab) return void tab();
        if (key.return) return setEd(newline);
        if (key.backspace || key.delete) return setEd(backspace);
        if (key.upArrow) return setEd((s) => move(s, "up"));
        if (key.downArrow) return setEd((s) => move(s, "down"));
        if (key.leftArrow) return setEd((s) => move(s, "left"));
        if (key.rightArrow) return setEd((s) => move(s, "right"));
        if (key.home || (key.ctrl && input === "a")) return setEd((s) => move(s, "home"));
        if (key.end || (key.ctrl && input === "e")) return setEd((s) => move(s, "end"));
        if (key.ctrl || key.meta || !input) return;
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are not text.
        return setEd((s) =>
          insert(
            s,
            input
              .replace(/\r\n?/g, "\n")
              .replace(/\t/g, "  ")
              .replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, ""),
          ),
        );
      }
      if (key.return || input === "i") return setFocused(true);
      const rows = result?.rows.length ?? 0;
      if (key.upArrow || input === "k") setSel((s) => Math.max(0, s - 1));
      else if (key.downArrow || input === "j") setSel((s) => Math.min(Math.max(0, rows - 1), s + 1));
      else if (key.pageDown) setSel((s) => Math.min(Math.max(0, rows - 1), s + 10));
      else if (key.pageUp) setSel((s) => Math.max(0, s - 10));
      else if (key.leftArrow) setColOffset((c) => Math.max(0, c - 1));
      else if (key.rightArrow) setColOffset((c) => Math.min(Math.max(0, (result?.columns.length ?? 1) - 1), c + 1));
      else if (input === "[") setResultIndex((i) => Math.max(0, i - 1));
      else if (input === "]") setResultIndex((i) => Math.min((outcome?.reply.results.length ?? 1) - 1, i + 1));
    },
    { isActive: nav.mode === "normal" },
  );

  if (danger) {
    const lines = danger.details.flatMap((d) => [
      d.statement,
      `  ${d.kind}: ${d.reason}`,
      ...(d.impact ? [`  impact: ${count(d.impact.rows)} row(s) ${d.impact.exact ? "(counted)" : "(the planner's estimate)"}`] : []),
    ]);
    return (
      <Confirm
        title="Dangerous statement: the server wants an explicit confirmation"
        lines={lines.slice(0, Math.max(2, height - 5))}
        onYes={() => void run(true, danger.query)}
        onNo={() => {
          setDanger(null);
          nav.say("Not run.", "warn");
        }}
      />
    );
  }

  const editorHeight = Math.max(3, Math.min(ed.lines.length + 1, Math.floor(height * 0.4)));
  const top = Math.max(0, Math.min(ed.row - editorHeight + 1, ed.lines.length - editorHeight));
  let inComment = false;
  for (let i = 0; i < top; i++) inComment = tokenize(ed.lines[i]!, inComment).inComment;
  const shownLines = ed.lines.slice(top, top + editorHeight);
  const gutter = String(ed.lines.length).length + 1;
  const resultHeight = Math.max(2, height - editorHeight - 4);
  return (
    <Box flexDirection="column">
      <Box flexDirection="column" borderStyle="single" borderColor={focused ? tone("accent") : tone("muted")} height={editorHeight + 2}>
        {shownLines.map((line, i) => {
          const lineNo = top + i;
          const { tokens, inComment: next } = tokenize(line, inComment);
          inComment = next;
          return (
            <Text key={lineNo} wrap="truncate">
              <Text color={tone("muted")}>{String(lineNo + 1).padStart(gutter - 1)} </Text>
              <HighlightedLine tokens={tokens} cursor={focused && lineNo === ed.row ? ed.col : null} />
            </Text>
          );
        })}
      </Box>
      {suggest.length ? (
        <Text color={tone("muted")} wrap="truncate">
          {suggest.join("  ")}
        </Text>
      ) : null}
      {running ? <Text color={tone("warn")}>Running… {(elapsed / 1000).toFixed(1)} s (Esc cancels it on the server)</Text> : null}
      {cancelled ? (
        <Text color={tone("warn")} wrap="wrap">
          Cancelled on the server: dropping the request stops the statement there (57014 query_canceled) and rolls its transaction back; nothing of the batch is
          committed.
        </Text>
      ) : null}
      {error ? (
        <Text color={tone("danger")} wrap="wrap">
          {errorLine(error)}
          {error instanceof ApiError && error.details && typeof error.details === "object" && "position" in (error.details as object)
            ? ` at character ${(error.details as { position: unknown }).position}`
            : ""}
        </Text>
      ) : null}
      {outcome && !error && !cancelled ? (
        <Text wrap="truncate">
          {outcome.reply.results.length > 1 ? `result ${resultIndex + 1}/${outcome.reply.results.length} · ` : ""}
          {result
            ? `${result.command} · ${count(result.columns.length ? result.rows.length : result.row_count)} row(s)${result.truncated ? " (truncated)" : ""}`
            : "no statement"}
          <Text color={tone("muted")}>
            {" "}
            · server {ms(outcome.reply.duration_ms)} · round trip {ms(outcome.roundTripMs)}
          </Text>
        </Text>
      ) : null}
      {result && result.columns.length && !error && !cancelled ? (
        <Table
          width={width}
          height={resultHeight}
          selected={sel}
          colOffset={colOffset}
          columns={result.columns.map((c) => ({ title: c.name, max: 30 }))}
          rows={result.rows.map((r) => result.columns.map((c) => cell(r[c.name], c.type)))}
        />
      ) : null}
    </Box>
  );
}

/** Milliseconds since `on` became true, ticking a few times a second while it stays true. */
function useElapsed(on: boolean): number {
  const [now, setNow] = useState(0);
  const since = useRef(0);
  useEffect(() => {
    if (!on) return;
    since.current = performance.now();
    setNow(0);
    const tick = setInterval(() => setNow(performance.now() - since.current), 250);
    return () => clearInterval(tick);
  }, [on]);
  return on ? now : 0;
}

function HighlightedLine({ tokens, cursor }: { tokens: { kind: TokenKind; text: string }[]; cursor: number | null }) {
  const parts: React.ReactNode[] = [];
  let at = 0;
  tokens.forEach((t, i) => {
    const color = TONE_OF[t.kind] ? tone(TONE_OF[t.kind]!) : undefined;
    if (cursor !== null && cursor >= at && cursor < at + t.text.length) {
      const k = cursor - at;
      parts.push(
        <Text key={i} color={color} bold={t.kind === "keyword"}>
          {t.text.slice(0, k)}
          <Text inverse>{t.text[k]}</Text>
          {t.text.slice(k + 1)}
        </Text>,
      );
    } else {
      parts.push(
        <Text key={i} color={color} bold={t.kind === "keyword"}>
          {t.text}
        </Text>,
      );
    }
    at += t.text.length;
  });
  if (cursor !== null && cursor >= at)
    parts.push(
      <Text key="cursor" inverse>
        {" "}
      </Text>,
    );
  return <>{parts}</>;
}
