// rows: a table's data grid. Rows come a page at a time (PAGE rows per request, the page under the
// cursor and the next one prefetched), so a table of millions scrolls as fast as one of ten.
// ←/→ move between columns (the grid scrolls sideways), s sorts by the column (asc, desc, off), `/`
// filters (any text searches the text columns; `col=op.value` is a PostgREST filter), Enter or e
// edits the cell, v shows the whole value, i inserts a row, d deletes the row after a confirmation.
import { Box, Text, useInput } from "ink";
import { useEffect, useMemo, useRef, useState } from "react";
import { errorLine } from "../api/client.ts";
import type { RowPage } from "../api/types.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { LineInput } from "../components/LineInput.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { layoutWidths, Table } from "../components/Table.tsx";
import { cell, count, inert, oneLine } from "../lib/format.ts";
import { editText, filterParams, orderParam, parseCell, rowKey } from "../lib/rows.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useCapture } from "../state/use-list.ts";
import type { ScreenProps } from "../shell/screens.ts";

export const PAGE = 100;

type Overlay = { kind: "edit"; text: string } | { kind: "view" } | { kind: "insert"; error: string | null } | { kind: "delete" } | null;

export function TableRows({ width, height, params }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const schema = params.schema!;
  const table = params.table!;
  const [pages, setPages] = useState<Map<number, RowPage>>(new Map());
  const [meta, setMeta] = useState<RowPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [row, setRow] = useState(0);
  const [col, setCol] = useState(0);
  const [colOffset, setColOffset] = useState(0);
  const [order, setOrder] = useState<{ col: string; dir: "asc" | "desc" } | null>(null);
  const [overlay, setOverlay] = useState<Overlay>(null);
  const [version, setVersion] = useState(0);
  const [lastFetchMs, setLastFetchMs] = useState<number | null>(null);
  const inflight = useRef(new Set<number>());
  const writable = can("rows:write");
  useCapture(overlay !== null);

  const columns = meta?.columns ?? [];
  const { filters, note } = useMemo(() => filterParams(nav.filter, columns), [nav.filter, columns]);
  const queryKey = JSON.stringify([filters, order, version]);

  // A new filter, order or a write starts over.
  // biome-ignore lint/correctness/useExhaustiveDependencies: queryKey covers them.
  useEffect(() => {
    setPages(new Map());
    inflight.current.clear();
    setRow(0);
  }, [queryKey]);

  const load = (page: number) => {
    if (pages.has(page) || inflight.current.has(page)) return;
    if (meta && page * PAGE >= Math.max(meta.total, 1) && page > 0) return;
    inflight.current.add(page);
    const key = queryKey;
    const started = performance.now();
    client.rows(schema, table, { limit: PAGE, offset: page * PAGE, order: order ? orderParam(order.col, order.dir) : null, filters }).then(
      (p) => {
        if (key !== queryKeyRef.current) return;
        setLastFetchMs(performance.now() - started);
        setMeta(p);
        setError(null);
        setPages((m) => new Map(m).set(page, p));
      },
      (e) => {
        inflight.current.delete(page);
        if (key === queryKeyRef.current) setError(e);
      },
    );
  };
  const queryKeyRef = useRef(queryKey);
  queryKeyRef.current = queryKey;
  const page = Math.floor(row / PAGE);
  // biome-ignore lint/correctness/useExhaustiveDependencies: load reads the current state.
  useEffect(() => {
    load(page);
    if (row % PAGE > PAGE / 2) load(page + 1);
  }, [page, row, pages, queryKey]);

  const total = meta?.total ?? 0;
  const rowAt = (i: number) => pages.get(Math.floor(i / PAGE))?.rows[i % PAGE];
  const current = rowAt(row);
  const currentCol = columns[col];
  const bodyRows = Math.max(1, height - 3);

  // Keep the cursor's column on screen.
  useEffect(() => {
    if (col < colOffset) return setColOffset(col);
    const sample = Array.from({ length: Math.min(bodyRows, 50) }, (_, i) => rowAt(Math.max(0, row - 10) + i)).filter(Boolean) as Record<string, unknown>[];
    const cells = sample.map((r) => columns.map((c) => cell(r[c.name], c.type)));
    const widths = layoutWidths(
      columns.map((c) => ({ title: c.name, max: 30 })),
      cells,
      Number.MAX_SAFE_INTEGER,
    );
    let off = colOffset;
    const span = (from: number) => widths.slice(from, col + 1).reduce((a, b) => a + Math.max(6, Math.min(b, 30)) + 1, 0);
    while (off < col && span(off) > width) off++;
    if (off !== colOffset) setColOffset(off);
  }, [col, width, columns.length]);

  useHints(
    overlay
      ? []
      : [
          { key: "←→", label: "column" },
          { key: "s", label: "sort" },
          ...(writable
            ? [
                { key: "e", label: "edit" },
                { key: "i", label: "insert" },
                { key: "d", label: "delete" },
              ]
            : []),
          { key: "v", label: "view" },
        ],
  );

  useInput(
    (input, key) => {
      if (overlay?.kind === "view") {
        if (key.escape || key.return || input === "v" || input === "q") setOverlay(null);
        return;
      }
      if (overlay) return;
      const last = Math.max(0, total - 1);
      if (key.upArrow || input === "k") setRow((r) => Math.max(0, r - 1));
      else if (key.downArrow || input === "j") setRow((r) => Math.min(last, r + 1));
      else if (key.pageDown) setRow((r) => Math.min(last, r + bodyRows));
      else if (key.pageUp) setRow((r) => Math.max(0, r - bodyRows));
      else if (key.home || input === "g") setRow(0);
      else if (key.end || input === "G") setRow(last);
      else if (key.leftArrow || input === "h") setCol((c) => Math.max(0, c - 1));
      else if (key.rightArrow || input === "l") setCol((c) => Math.min(columns.length - 1, c + 1));
      else if (input === "s" && currentCol) {
        setOrder((o) => (o?.col !== currentCol.name ? { col: currentCol.name, dir: "asc" } : o.dir === "asc" ? { col: o.col, dir: "desc" } : null));
      } else if (input === "v" && current) setOverlay({ kind: "view" });
      else if ((input === "e" || key.return) && current && currentCol && writable) {
        if (!meta?.primary_key.length) return nav.say("This table has no primary key: rows cannot be edited one by one", "warn");
        setOverlay({ kind: "edit", text: editText(current[currentCol.name], currentCol.type) });
      } else if (input === "i" && writable && meta) setOverlay({ kind: "insert", error: null });
      else if (input === "d" && current && writable) {
        if (!meta?.primary_key.length) return nav.say("This table has no primary key: delete by filter in the SQL console", "warn");
        setOverlay({ kind: "delete" });
      } else if (input === "r") setVersion((v) => v + 1);
    },
    { isActive: nav.mode === "normal" && (!nav.capturing || overlay !== null) },
  );

  const saveCell = async (text: string) => {
    if (!current || !currentCol || !meta) return;
    let value: unknown;
    try {
      value = parseCell(text, currentCol.type);
    } catch (err) {
      return nav.say((err as Error).message, "danger");
    }
    const key = rowKey(current, meta.primary_key);
    if (key === null) return nav.say("This row has no key", "danger");
    try {
      const stored = await client.updateRow(schema, table, key, { [currentCol.name]: value });
      setOverlay(null);
      nav.say(`Saved ${currentCol.name} of row ${key}`);
      // Patch the cached page in place: the cursor stays where it is.
      setPages((m) => {
        const p = m.get(page);
        if (!p) return m;
        const rows = p.rows.slice();
        rows[row % PAGE] = stored;
        return new Map(m).set(page, { ...p, rows });
      });
    } catch (err) {
      nav.say(errorLine(err), "danger");
    }
  };

  const insert = async (values: Record<string, string>) => {
    const body: Record<string, unknown> = {};
    try {
      for (const c of columns) {
        const text = values[c.name] ?? "";
        if (text !== "") body[c.name] = parseCell(text, c.type);
      }
      await client.insertRow(schema, table, body);
      setOverlay(null);
      nav.say(`Inserted a row into ${schema}.${table}`);
      setVersion((v) => v + 1);
    } catch (err) {
      setOverlay({ kind: "insert", error: err instanceof Error && !("code" in err) ? err.message : errorLine(err) });
    }
  };

  const remove = async () => {
    if (!current || !meta) return;
    const key = rowKey(current, meta.primary_key)!;
    setOverlay(null);
    try {
      await client.deleteRow(schema, table, key);
      nav.say(`Deleted row ${key}`);
      setVersion((v) => v + 1);
    } catch (err) {
      nav.say(errorLine(err), "danger");
    }
  };

  if (!meta) return error ? <ErrorText error={error} /> : <Loading what={`Loading ${schema}.${table}`} />;
  if (overlay?.kind === "insert") {
    return (
      <Form
        title={`Insert into ${schema}.${table} (empty: the column's default; \\N: null; JSON for json and array columns)`}
        fields={columns.slice(0, Math.max(1, height - 5)).map((c) => ({ name: c.name, label: c.name, hint: c.type }))}
        error={overlay.error}
        onSubmit={insert}
        onCancel={() => setOverlay(null)}
      />
    );
  }
  if (overlay?.kind === "delete" && current) {
    const key = rowKey(current, meta.primary_key)!;
    return (
      <Confirm
        title={`Delete row ${key} from ${schema}.${table}?`}
        lines={columns.slice(0, 5).map((c) => `${c.name}: ${cell(current[c.name], c.type)}`)}
        onYes={remove}
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (overlay?.kind === "view" && current && currentCol) {
    const v = current[currentCol.name];
    const text = typeof v === "string" ? v : JSON.stringify(v, null, 2);
    return (
      <Box flexDirection="column">
        <Text bold>
          {currentCol.name} <Text color={tone("muted")}>({currentCol.type})</Text>
        </Text>
        <Text wrap="wrap">
          {inert(text ?? "null")
            .split("\n")
            .slice(0, height - 2)
            .join("\n")}
        </Text>
      </Box>
    );
  }

  const visibleStart = Math.max(0, Math.min(row - Math.floor(bodyRows / 2), total - bodyRows));
  const windowRows: string[][] = [];
  for (let i = visibleStart; i < Math.min(total, visibleStart + bodyRows); i++) {
    const r = rowAt(i);
    windowRows.push(r ? columns.map((c) => cell(r[c.name], c.type)) : columns.map((_, j) => (j === 0 ? "…" : "")));
  }
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>{oneLine(`${schema}.${table}`)}</Text> · row {total ? count(row + 1) : 0} of {meta.total_exact ? "" : "≈"}
        {count(total)}
        {order ? ` · sorted by ${order.col} ${order.dir}` : ""}
        {lastFetchMs !== null ? <Text color={tone("muted")}> · page {Math.round(lastFetchMs)} ms</Text> : null}
      </Text>
      {note ? (
        <Text color={tone("warn")} wrap="truncate">
          {note}
        </Text>
      ) : null}
      {error ? (
        <Text color={tone("danger")} wrap="truncate">
          {errorLine(error)}
        </Text>
      ) : null}
      <Table
        width={width}
        height={height - (overlay?.kind === "edit" ? 3 : 1) - (note ? 1 : 0) - (error ? 1 : 0)}
        selected={row - visibleStart}
        activeCol={col}
        colOffset={colOffset}
        columns={columns.map((c) => ({
          title: `${c.pk ? "🔑" : ""}${c.name}${order?.col === c.name ? (order.dir === "asc" ? "↑" : "↓") : ""}`.replace("🔑", "*"),
          max: 30,
        }))}
        rows={windowRows}
        empty={nav.filter ? "No row matches the filter." : "No rows."}
      />
      {overlay?.kind === "edit" && currentCol ? (
        <Box flexDirection="column">
          <Text color={tone("accent")}>
            Edit {currentCol.name} ({currentCol.type}) · Enter save · Esc cancel · \N for null
          </Text>
          <Box>
            <Text>&gt; </Text>
            <LineInput value={overlay.text} onChange={(t) => setOverlay({ kind: "edit", text: t })} onSubmit={saveCell} onCancel={() => setOverlay(null)} />
          </Box>
        </Box>
      ) : null}
    </Box>
  );
}
