// tablesecurity: one table's security settings (GET/PUT /admin/v1/tables/{schema}/{table}/security,
// src/admin/security/tables/). Opened from tables (S on a table), from security (t, then the table's
// name) or with params {schema, table}. It shows the stored document, what is in force (RLS, every
// policy with Plinth's own marked, the API roles' grants, in the server's plain sentences) and the
// server's warnings; ↑↓ scroll.
//
// e edits the document in a form (SecurityForm). Ctrl+S asks the server for a dry run: its up SQL
// (scrollable; d switches to the down SQL) and warnings are shown, and only y applies it — the same
// document the dry run answered for; n or Esc goes back to the form with nothing applied. A refusal
// (400 validation, 409 conflicting_policy, …) keeps the form with the server's message and code and
// each finding it named (policy, column, grant). Reading needs meta:read (a viewer may look);
// changing and the simulator need security:manage, so their keys are offered only then — the
// server checks again.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { ApiError, errorLine } from "../api/client.ts";
import type { SecurityFinding, TableSecurityChange, TableSecurityDocument, TableSecurityView } from "../api/types.ts";
import { Form } from "../components/Form.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { ScrollLines, scrollBy, wrapAll, type Line } from "../components/ScrollLines.tsx";
import { SecurityForm } from "../components/SecurityForm.tsx";
import { oneLine, when } from "../lib/format.ts";
import { documentOf, documentSummary, draftOf, type SecurityDraft } from "../lib/security-draft.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useCapture } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

type Mode =
  | { kind: "view" }
  | { kind: "edit"; error: string[] | null }
  | { kind: "busy"; what: string }
  | { kind: "preview"; change: TableSecurityChange; doc: TableSecurityDocument; showDown: boolean };

/** A table name as typed: "schema.table" or "table" (public). */
export function splitTableName(text: string): { schema: string; table: string } | null {
  const t = text.trim();
  if (!t) return null;
  const dot = t.indexOf(".");
  return dot < 0 ? { schema: "public", table: t } : { schema: t.slice(0, dot), table: t.slice(dot + 1) };
}

/** The server's refusal as lines: "message (code status)", then each finding it named. */
export function refusalLines(err: unknown): string[] {
  const lines = [`Refused: ${errorLine(err)}`];
  if (err instanceof ApiError && err.details && typeof err.details === "object") {
    const d = err.details as { errors?: SecurityFinding[]; warnings?: SecurityFinding[] };
    // The first finding is the answer's own message already: only what it names is added.
    for (const f of d.errors ?? []) lines.push(err.message.startsWith(f.message) ? `✗ ${f.code}${named(f)}` : `✗ ${f.code}${named(f)}: ${f.message}`);
  }
  return lines;
}

const named = (f: SecurityFinding) => (f.policy ? ` (policy ${f.policy})` : f.column ? ` (column ${f.column})` : f.grant ? ` (grant ${f.grant})` : "");

/**
 * The warnings, one entry per code: a lone one with its message; several of a kind (a dozen revoked
 * grants is usual) as the code, how many, and what each names — so the SQL is not pushed off screen.
 */
export function warningLines(ws: SecurityFinding[]): Line[] {
  const byCode = new Map<string, SecurityFinding[]>();
  for (const w of ws) byCode.set(w.code, [...(byCode.get(w.code) ?? []), w]);
  return [...byCode].map(([code, list]) => ({
    text:
      list.length === 1
        ? `⚠ ${code}: ${list[0]!.message}`
        : `⚠ ${code} ×${list.length}: ${list.map((w) => w.grant ?? w.policy ?? w.column ?? w.message).join("; ")}`,
    tone: "warn" as const,
  }));
}

function viewLines(v: TableSecurityView): Line[] {
  const lines: Line[] = [];
  lines.push({ text: `document: ${documentSummary(v.document)}`, bold: true });
  if (v.migration) lines.push({ text: `applied by migration ${v.migration}${v.updated_at ? ` at ${when(v.updated_at)}` : ""}`, tone: "muted" });
  lines.push(...warningLines(v.warnings));
  lines.push({ text: "in force", tone: "title" });
  lines.push(...v.described.map((text) => ({ text })));
  return lines;
}

export function TableSecurity({ width, height, params }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const [target, setTarget] = useState(params.schema && params.table ? { schema: params.schema, table: params.table } : null);
  const [pickError, setPickError] = useState<string | null>(null);
  const [mode, setMode] = useState<Mode>({ kind: "view" });
  const [draft, setDraft] = useState<SecurityDraft | null>(null);
  const [offset, setOffset] = useState(0);
  const manage = can("security:manage");
  const view = useLoad(() => (target ? client.tableSecurity(target.schema, target.table) : Promise.resolve(null)), [target?.schema, target?.table]);
  // Column names and types for the form (a field per column, the uuid columns for the owner).
  const detail = useLoad(() => (target ? client.table(target.schema, target.table) : Promise.resolve(null)), [target?.schema, target?.table], {
    enabled: manage,
  });
  useCapture(target === null || mode.kind !== "view");
  const name = target ? `${target.schema}.${target.table}` : "";

  useHints(
    mode.kind === "preview"
      ? [
          { key: "y", label: "apply" },
          { key: "n/Esc", label: "back, nothing applied" },
          { key: "d", label: mode.showDown ? "up SQL" : "down SQL" },
          { key: "↑↓", label: "scroll" },
        ]
      : mode.kind === "view" && target
        ? [
            ...(manage
              ? [
                  { key: "e", label: "edit" },
                  { key: "w", label: "simulate" },
                ]
              : [{ key: "", label: "read only (changing needs security:manage)" }]),
            { key: "↑↓", label: "scroll" },
            { key: "r", label: "refresh" },
          ]
        : [],
  );

  const dryRun = async (d: SecurityDraft) => {
    if (!target) return;
    const doc = documentOf(d);
    setMode({ kind: "busy", what: "Asking the server for a dry run" });
    try {
      const change = await client.putTableSecurity(target.schema, target.table, doc, true);
      setOffset(0);
      setMode({ kind: "preview", change, doc, showDown: false });
    } catch (err) {
      setMode({ kind: "edit", error: refusalLines(err) });
    }
  };

  const apply = async (doc: TableSecurityDocument) => {
    if (!target) return;
    setMode({ kind: "busy", what: "Applying" });
    try {
      const done = await client.putTableSecurity(target.schema, target.table, doc, false);
      nav.say(`Applied to ${name}${done.migration ? ` as migration ${done.migration.version}` : ""} (${done.up.length} statements)`);
      setMode({ kind: "view" });
      setOffset(0);
      view.reload();
    } catch (err) {
      setMode({ kind: "edit", error: refusalLines(err) });
    }
  };

  const previewLines = (m: Extract<Mode, { kind: "preview" }>): Line[] => [
    ...warningLines(m.change.warnings),
    { text: m.showDown ? "down SQL (what `plinth migrate down` would run)" : "up SQL (what applying runs, in one transaction)", tone: "title" },
    ...(m.showDown ? m.change.down : m.change.up).map((s) => ({ text: `${s};`, sql: true })),
  ];
  const bodyLines = mode.kind === "preview" ? previewLines(mode) : view.data ? viewLines(view.data) : [];
  const scrollHeight = Math.max(3, height - 2);
  const total = wrapAll(bodyLines, width).length;

  useInput(
    (input, key) => {
      const scroll = (by: number) => setOffset((o) => scrollBy(o, by, total, scrollHeight));
      if (key.upArrow || input === "k") return scroll(-1);
      if (key.downArrow || input === "j") return scroll(1);
      if (key.pageUp) return scroll(-scrollHeight);
      if (key.pageDown) return scroll(scrollHeight);
      if (mode.kind === "preview") {
        if (input === "y" || input === "Y") void apply(mode.doc);
        else if (input === "n" || input === "N" || key.escape) {
          nav.say(`Nothing applied to ${name}`, "muted");
          setMode({ kind: "edit", error: null });
        } else if (input === "d") {
          setOffset(0);
          setMode({ ...mode, showDown: !mode.showDown });
        }
        return;
      }
      if (input === "r") view.reload();
      else if (input === "e" && manage && view.data) {
        if (!detail.data) return nav.say(detail.error ? errorLine(detail.error) : "Still reading the table's columns…", detail.error ? "danger" : "muted");
        setDraft(
          draftOf(
            view.data.document,
            detail.data.columns.map((c) => c.name),
          ),
        );
        setMode({ kind: "edit", error: null });
      } else if (input === "w" && manage) nav.push("simulate", { table: name });
    },
    { isActive: nav.mode === "normal" && target !== null && (mode.kind === "view" || mode.kind === "preview") },
  );

  if (!target) {
    return (
      <Form
        title="Security settings of which table?"
        fields={[{ name: "table", label: "table", hint: "schema.table (or a table in public)" }]}
        error={pickError}
        onCancel={() => nav.back()}
        onSubmit={(v) => {
          const t = splitTableName(v.table ?? "");
          if (!t) return setPickError("Type a table name");
          client.tableSecurity(t.schema, t.table).then(
            () => setTarget(t),
            (err) => setPickError(errorLine(err)),
          );
        }}
      />
    );
  }
  if (mode.kind === "busy") return <Text color={tone("muted")}>{mode.what}…</Text>;
  if (mode.kind === "edit" && draft) {
    return (
      <SecurityForm
        title={`Security of ${name}`}
        draft={draft}
        onChange={setDraft}
        onSubmit={() => void dryRun(draft)}
        onCancel={() => setMode({ kind: "view" })}
        error={mode.error}
        uuidColumns={(detail.data?.columns ?? []).filter((c) => c.type === "uuid").map((c) => c.name)}
        handPolicies={(view.data?.policies ?? []).filter((p) => !p.managed).map((p) => p.name)}
        width={width}
        height={height}
      />
    );
  }
  if (mode.kind === "preview") {
    const c = mode.change;
    return (
      <Box flexDirection="column">
        <Text bold color={tone("danger")} wrap="truncate">
          {oneLine(`Dry run for ${name} → ${c.document.template}: ${c.up.length} statement(s), ${c.warnings.length} warning(s). Apply? y / n`)}
        </Text>
        <Text color={tone("muted")} wrap="truncate">
          Applying writes it as a user migration (up and down files) and runs it; nothing has changed yet.
        </Text>
        <ScrollLines lines={bodyLines} height={scrollHeight} offset={offset} width={width} />
      </Box>
    );
  }
  if (!view.data) return view.error ? <ErrorText error={view.error} /> : <Loading />;
  const v = view.data;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>{oneLine(name)}</Text> · RLS {v.rls_enabled ? "on" : <Text color={tone("warn")}>OFF</Text>}
        {v.rls_forced ? " (forced)" : ""} · {v.policies.length} polic{v.policies.length === 1 ? "y" : "ies"} ({v.policies.filter((p) => p.managed).length}{" "}
        Plinth's) · {v.warnings.length} warning(s)
      </Text>
      {view.error ? <ErrorText error={view.error} /> : <Text> </Text>}
      <ScrollLines lines={bodyLines} height={scrollHeight} offset={offset} width={width} />
    </Box>
  );
}
