// simulate: the policy simulator, "what would user X see" (POST /admin/v1/security/simulate,
// src/admin/security/tables/simulate.ts). Choose a table, who asks (anon, authenticated, a user by
// e-mail or id — the server builds that user's claims — or service_role) and an operation (select:
// the rows and the columns that caller may read; insert with a JSON row, update, delete: whether it
// is allowed and how many rows it touches), or a query of one's own (one SELECT/INSERT/UPDATE/DELETE,
// checked by the server). The server runs it as that caller in a transaction it always rolls back.
// The rows show in the grid (↑↓ rows, ←→ columns); a denial shows PostgreSQL's message and code, a
// refusal the server's. e edits the question, r asks again. Needs security:manage (the server's own
// capability for simulate); naming a user by e-mail also needs users:read to look the e-mail up.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { type AdminClient, errorLine } from "../api/client.ts";
import type { SecurityOperation, SimulateAs, SimulateRequest, SimulationResult } from "../api/types.ts";
import { LineInput } from "../components/LineInput.tsx";
import { wrap } from "../components/ScrollLines.tsx";
import { Table } from "../components/Table.tsx";
import { cell, oneLine } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useCapture, useList } from "../state/use-list.ts";
import type { ScreenProps } from "../shell/screens.ts";

const WHO = ["anon", "authenticated", "user", "service_role"] as const;
const WHAT = ["select", "insert", "update", "delete", "query"] as const;
type Who = (typeof WHO)[number];
type What = (typeof WHAT)[number];

interface Question {
  table: string;
  who: Who;
  user: string;
  what: What;
  query: string;
  row: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who asks, as the API takes it: a user named by id, or by e-mail looked up among the end users. */
export async function resolveAs(client: AdminClient, who: Who, user: string): Promise<SimulateAs> {
  if (who !== "user") return { role: who };
  const u = user.trim();
  if (UUID.test(u)) return { user_id: u };
  if (!u.includes("@")) throw new Error("Name the user by e-mail or by id (a UUID)");
  const found = await client.users({ search: u, limit: 50 });
  const match = found.users.find((x) => x.email?.toLowerCase() === u.toLowerCase());
  if (!match) throw new Error(`No user has the e-mail ${u}`);
  return { user_id: match.id, email: match.email ?? undefined };
}

/** The request body for a question (the row of an insert must be a JSON object). */
export function requestOf(q: Question, as: SimulateAs): SimulateRequest {
  if (q.what === "query") return { as, query: q.query };
  const body: SimulateRequest = { as, table: q.table.trim(), operation: q.what as SecurityOperation };
  if (q.what === "insert" && q.row.trim()) {
    let row: unknown;
    try {
      row = JSON.parse(q.row);
    } catch {
      throw new Error('The row must be a JSON object, e.g. {"title": "hi"}');
    }
    if (!row || typeof row !== "object" || Array.isArray(row)) throw new Error('The row must be a JSON object, e.g. {"title": "hi"}');
    body.row = row as Record<string, unknown>;
  }
  return body;
}

interface Field {
  key: keyof Question;
  label: string;
  choices?: readonly string[];
  hint?: string;
}

const fieldsOf = (q: Question): Field[] => [
  ...(q.what === "query" ? [] : [{ key: "table" as const, label: "table", hint: "schema.table (Tab completes)" }]),
  { key: "who", label: "as", choices: WHO },
  ...(q.who === "user" ? [{ key: "user" as const, label: "user", hint: "e-mail or user id" }] : []),
  { key: "what", label: "operation", choices: WHAT },
  ...(q.what === "query" ? [{ key: "query" as const, label: "query", hint: "one SELECT/INSERT/UPDATE/DELETE, e.g. select * from notes where done" }] : []),
  ...(q.what === "insert" ? [{ key: "row" as const, label: "row", hint: 'JSON, e.g. {"title": "hi"} (owner column: the user)' }] : []),
];

const whoText = (r: SimulationResult, userLabel: string) => (r.as.user_id ? `user ${userLabel || r.as.user_id}` : r.as.role);

export function Simulator({ width, height, params }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const [q, setQ] = useState<Question>({ table: params.table ?? "", who: "user", user: "", what: "select", query: "", row: "" });
  const [asking, setAsking] = useState(true);
  const [at, setAt] = useState(0);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ r: SimulationResult; label: string; asked: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [colOffset, setColOffset] = useState(0);
  const fields = fieldsOf(q);
  const cur = Math.min(at, fields.length - 1);
  const field = fields[cur]!;
  const rows = result?.r.rows ?? [];
  const columns = result?.r.columns?.length ? result.r.columns : Object.keys(rows[0] ?? {});
  const gridHeight = Math.max(2, height - (asking ? fields.length + 4 : 3));
  const { selected } = useList(rows.length, gridHeight - 1, { active: !asking });
  useCapture(asking);
  useHints(
    asking
      ? [
          { key: "↑↓", label: "field" },
          { key: "←→", label: "choose" },
          { key: "Ctrl+S", label: "run" },
          { key: "Esc", label: result ? "to the rows" : "back" },
        ]
      : [
          { key: "e", label: "edit question" },
          { key: "r", label: "run again" },
          { key: "←→", label: "columns" },
        ],
  );

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const as = await resolveAs(client, q.who, q.user);
      const body = requestOf(q, as);
      const r = await client.simulate(body);
      const asked = q.what === "query" ? oneLine(q.query) : `${q.what} ${q.table.trim()}`;
      setResult({ r, label: "email" in as && as.email ? `${as.email} (${as.user_id})` : "", asked });
      setColOffset(0);
      setAsking(false);
    } catch (err) {
      setError(errorLine(err));
      setResult(null);
    } finally {
      setBusy(false);
    }
  };

  // Tab in the table field: the first table of the typed schema (public when none) whose name starts with what was typed.
  const completeTable = async () => {
    const typed = q.table.trim();
    const dot = typed.indexOf(".");
    const schema = dot < 0 ? "public" : typed.slice(0, dot);
    const prefix = dot < 0 ? typed : typed.slice(dot + 1);
    try {
      const names = (await client.tables(schema)).map((t) => t.name).sort();
      const matches = names.filter((n) => n.startsWith(prefix));
      const next = matches.find((n) => n > prefix) ?? matches[0];
      if (next) setQ((cur) => ({ ...cur, table: `${schema}.${next}` }));
    } catch (err) {
      setError(errorLine(err));
    }
  };
  const move = (by: number) => setAt(Math.max(0, Math.min(fields.length - 1, cur + by)));
  const choose = (step: 1 | -1) => {
    const list = field.choices!;
    const i = list.indexOf(q[field.key]);
    setQ({ ...q, [field.key]: list[(i + step + list.length) % list.length]! });
  };
  useInput(
    (input, key) => {
      if (asking) {
        if (key.ctrl && input === "s") return void run();
        if (!field.choices) return; // the text field handles its own keys
        if (key.leftArrow) choose(-1);
        else if (key.rightArrow || input === " ") choose(1);
        else if (key.upArrow) move(-1);
        else if (key.downArrow || key.tab) move(1);
        else if (key.return) cur === fields.length - 1 ? void run() : move(1);
        else if (key.escape) result ? setAsking(false) : nav.back();
        return;
      }
      if (input === "e") setAsking(true);
      else if (input === "r") void run();
      else if (key.leftArrow) setColOffset((o) => Math.max(0, o - 1));
      else if (key.rightArrow) setColOffset((o) => Math.min(Math.max(0, columns.length - 1), o + 1));
    },
    { isActive: nav.mode === "normal" && !busy && (asking || !nav.capturing) },
  );

  const r = result?.r;
  return (
    <Box flexDirection="column">
      {asking ? (
        <Box flexDirection="column">
          <Text bold>What would this caller see? (run as the caller, always rolled back)</Text>
          {fields.map((f, i) => {
            const active = i === cur;
            return (
              <Box key={f.key}>
                <Text color={active ? tone("accent") : undefined} bold={active}>
                  {f.label.padEnd(10)}
                </Text>
                {f.choices ? (
                  <Text wrap="truncate">
                    {f.choices.map((c) => (
                      <Text key={c} inverse={c === q[f.key] && active} bold={c === q[f.key]} color={c === q[f.key] ? undefined : tone("muted")}>
                        {` ${c} `}
                      </Text>
                    ))}
                  </Text>
                ) : (
                  <LineInput
                    value={q[f.key]}
                    active={active && !busy}
                    placeholder={f.hint}
                    onChange={(v) => setQ({ ...q, [f.key]: v })}
                    onSubmit={() => (i === fields.length - 1 ? void run() : move(1))}
                    onUp={() => move(-1)}
                    onDown={() => move(1)}
                    onTab={() => (f.key === "table" ? void completeTable() : move(1))}
                    onCancel={() => (result ? setAsking(false) : nav.back())}
                  />
                )}
              </Box>
            );
          })}
        </Box>
      ) : (
        <Text wrap="truncate" color={tone("muted")}>
          {oneLine(`asked: ${result?.asked ?? ""} as ${r ? whoText(r, result?.label ?? "") : ""}`)}
        </Text>
      )}
      {busy ? <Text color={tone("muted")}>Running as the caller…</Text> : null}
      {error
        ? wrap(`Error: ${error}`, width)
            .slice(0, 4)
            .map((l, i) => (
              <Text key={i} color={tone("danger")} wrap="truncate">
                {l}
              </Text>
            ))
        : null}
      {r && !busy ? <Summary r={r} width={width} /> : null}
      {r?.rows && !busy ? (
        <Table
          width={width}
          height={gridHeight}
          selected={selected}
          colOffset={Math.min(colOffset, Math.max(0, columns.length - 1))}
          columns={columns.map((c) => ({ title: c, max: 30 }))}
          rows={rows.map((row) => columns.map((c) => cell(row[c])))}
          empty="No rows: this caller sees none."
        />
      ) : null}
    </Box>
  );
}

function Summary({ r, width }: { r: SimulationResult; width: number }) {
  if (r.error) {
    return (
      <Box flexDirection="column">
        {wrap(`denied: ${r.error.message} (${r.error.code}) · rolled back`, width)
          .slice(0, 3)
          .map((l, i) => (
            <Text key={i} color={tone("danger")} wrap="truncate">
              {l}
            </Text>
          ))}
      </Box>
    );
  }
  const parts = [r.allowed ? "allowed" : "not allowed (no row touched)", `${r.row_count} row(s)${r.truncated ? " (more not shown)" : ""}`];
  if (r.hidden_columns?.length) parts.push(`hidden columns: ${r.hidden_columns.join(", ")}`);
  parts.push("rolled back");
  return (
    <Text color={r.allowed ? tone("ok") : tone("warn")} wrap="truncate">
      {oneLine(parts.join(" · "))}
    </Text>
  );
}
