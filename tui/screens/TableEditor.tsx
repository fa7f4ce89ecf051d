// table: a table's structure and its editor — columns (type, default, nullability, key), foreign
// keys, indexes, RLS. a adds a column, x drops one (after a confirmation), n flips NOT NULL, R turns
// RLS on or off, f adds a foreign key to another table (many-to-one), m the many-to-many helper
// (a junction table). Every change is one admin API call; the server validates it.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { oneLine } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

type Overlay = "add" | "drop" | "fk" | "m2m" | "rls" | null;

export function TableEditor({ width, height, params }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const schema = params.schema!;
  const name = params.table!;
  const [overlay, setOverlay] = useState<Overlay>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const detail = useLoad(() => client.table(schema, name), [schema, name]);
  const cols = detail.data?.columns ?? [];
  const list = useList(cols.length, height - 6, { active: !overlay });
  const writable = can("meta:write");
  useCapture(overlay !== null);
  const current = cols[list.selected];
  useHints(
    writable
      ? [
          { key: "a", label: "add column" },
          { key: "x", label: "drop" },
          { key: "n", label: "null/not null" },
          { key: "R", label: "RLS" },
          { key: "f", label: "foreign key" },
          { key: "m", label: "many-to-many" },
          { key: "Enter", label: "rows" },
        ]
      : [{ key: "Enter", label: "rows" }],
  );
  const change = async (body: unknown, done: string) => {
    try {
      await client.patchTable(schema, name, body);
      setOverlay(null);
      setFormError(null);
      nav.say(done);
      detail.reload();
    } catch (err) {
      setFormError(errorLine(err));
      if (!overlay || overlay === "drop" || overlay === "rls") {
        setOverlay(null);
        nav.say(errorLine(err), "danger");
      }
    }
  };
  const relate = async (body: Record<string, unknown>, done: string) => {
    try {
      await client.post("/relationships", body);
      setOverlay(null);
      setFormError(null);
      nav.say(done);
      detail.reload();
    } catch (err) {
      setFormError(errorLine(err));
    }
  };
  useInput(
    (input, key) => {
      if (key.return && can("rows:read")) return nav.push("rows", { schema, table: name });
      if (!writable || !detail.data) return;
      if (input === "a") setOverlay("add");
      else if (input === "x" && current) setOverlay("drop");
      else if (input === "n" && current)
        void change(
          { alter_columns: [{ name: current.name, nullable: !current.nullable }] },
          `${current.name} is now ${current.nullable ? "NOT NULL" : "nullable"}`,
        );
      else if (input === "R") {
        if (detail.data.rls_enabled) setOverlay("rls");
        else void change({ rls: true }, `RLS enabled on ${schema}.${name}`);
      } else if (input === "f") setOverlay("fk");
      else if (input === "m") setOverlay("m2m");
    },
    { isActive: nav.mode === "normal" && !overlay },
  );
  if (!detail.data) return detail.error ? <ErrorText error={detail.error} /> : <Loading />;
  const t = detail.data;
  if (overlay === "add") {
    return (
      <Form
        title={`Add a column to ${schema}.${name}`}
        fields={[
          { name: "name", label: "name" },
          { name: "type", label: "type", hint: "text, bigint, jsonb, plinth.rich_text, …" },
          { name: "default", label: "default", hint: "an SQL expression, or empty" },
          { name: "nullable", label: "nullable", initial: "yes", hint: "yes / no" },
        ]}
        error={formError}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) =>
          change(
            {
              add_columns: [
                {
                  name: v.name!.trim(),
                  type: v.type!.trim(),
                  nullable: !/^n/i.test(v.nullable ?? "yes"),
                  ...(v.default?.trim() ? { default: v.default.trim() } : {}),
                },
              ],
            },
            `Added ${v.name} to ${schema}.${name}`,
          )
        }
      />
    );
  }
  if (overlay === "fk") {
    return (
      <Form
        title={`Foreign key from ${schema}.${name} (many-to-one)`}
        fields={[
          { name: "to", label: "to table", hint: "schema.table" },
          { name: "column", label: "column", hint: "default: <to, singular>_id" },
          { name: "on_delete", label: "on delete", hint: "cascade, restrict, set null, no action" },
        ]}
        error={formError}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) =>
          relate(
            {
              type: "many_to_one",
              from: `${schema}.${name}`,
              to: v.to!.trim(),
              ...(v.column?.trim() ? { column: v.column.trim() } : {}),
              ...(v.on_delete?.trim() ? { on_delete: v.on_delete.trim() } : {}),
            },
            `Foreign key from ${name} to ${v.to} created`,
          )
        }
      />
    );
  }
  if (overlay === "m2m") {
    return (
      <Form
        title={`Many-to-many between ${schema}.${name} and another table (a junction table)`}
        fields={[
          { name: "to", label: "other table", hint: "schema.table" },
          { name: "junction", label: "junction", hint: `default: ${name}_<other>` },
        ]}
        error={formError}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) =>
          relate(
            { type: "many_to_many", from: `${schema}.${name}`, to: v.to!.trim(), ...(v.junction?.trim() ? { junction: v.junction.trim() } : {}) },
            `Junction table between ${name} and ${v.to} created`,
          )
        }
      />
    );
  }
  if (overlay === "drop" && current) {
    return (
      <Confirm
        title={`Drop column ${current.name} of ${schema}.${name}?`}
        lines={["Its data is gone for good."]}
        onYes={() => void change({ drop_columns: [current.name] }, `Dropped ${current.name}`)}
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (overlay === "rls") {
    return (
      <Confirm
        title={`Disable row level security on ${schema}.${name}?`}
        lines={["Every API role the grants allow will see and change every row."]}
        onYes={() => void change({ rls: false }, `RLS disabled on ${schema}.${name}`)}
        onNo={() => setOverlay(null)}
      />
    );
  }
  const fks = t.foreign_keys.map((f) => {
    const ref =
      typeof f.references === "string"
        ? f.references
        : `${f.references.schema ? `${f.references.schema}.` : ""}${f.references.table}(${f.references.columns.join(", ")})`;
    return `${f.columns.join(", ")} → ${ref}${f.on_delete ? ` on delete ${f.on_delete}` : ""}`;
  });
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>{oneLine(`${schema}.${name}`)}</Text> · RLS <Text color={t.rls_enabled ? tone("ok") : tone("warn")}>{t.rls_enabled ? "on" : "OFF"}</Text> ·{" "}
        {t.policies.length} polic
        {t.policies.length === 1 ? "y" : "ies"} · {t.indexes.length} index(es)
      </Text>
      <Table
        width={width}
        height={Math.max(3, height - 2 - Math.min(fks.length, 3))}
        selected={list.selected}
        columns={[{ title: "column", max: 30 }, { title: "type", max: 28 }, { title: "null" }, { title: "default", max: 30 }, { title: "key" }]}
        rows={cols.map((c) => [
          c.name,
          c.type,
          c.nullable ? "yes" : "no",
          c.default ?? (c.identity ? `identity ${c.identity}` : ""),
          c.primary_key ? "PK" : c.unique ? "unique" : "",
        ])}
      />
      {fks.slice(0, 3).map((f) => (
        <Text key={f} color={tone("muted")} wrap="truncate">
          FK {f}
        </Text>
      ))}
    </Box>
  );
}
