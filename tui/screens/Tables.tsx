// tables: the tables of a schema with their row estimates, size and RLS state. Enter opens the
// data grid, e the table's structure (editor), S its security settings; s switches schema; R turns
// RLS on or off (off asks first: it opens the table to every API role the grants allow).
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { bytes, count } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

export function Tables({ width, height, params }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const [schema, setSchema] = useState(params.schema ?? "public");
  const [confirmRls, setConfirmRls] = useState<{ name: string } | null>(null);
  const schemas = useLoad(() => client.schemas(), []);
  const tables = useLoad(() => client.tables(schema), [schema]);
  const shown = byFilter(tables.data ?? [], nav.filter, (t) => t.name);
  const list = useList(shown.length, height - 3, {
    active: !confirmRls,
    onEnter: (i) => can("rows:read") && nav.push("rows", { schema, table: shown[i]!.name }),
  });
  useCapture(!!confirmRls);
  const current = shown[list.selected];
  useHints([
    { key: "Enter", label: "rows" },
    { key: "e", label: "structure" },
    { key: "S", label: "security" },
    { key: "s", label: `schema (${schema})` },
    ...(can("meta:write") ? [{ key: "R", label: "RLS on/off" }] : []),
    { key: "r", label: "refresh" },
  ]);
  const setRls = async (name: string, on: boolean) => {
    try {
      await client.patchTable(schema, name, { rls: on });
      nav.say(`RLS ${on ? "enabled" : "disabled"} on ${schema}.${name}`);
      tables.reload();
    } catch (err) {
      nav.say(errorLine(err), "danger");
    }
  };
  useInput(
    (input) => {
      if (input === "r") tables.reload();
      else if (input === "e" && current) nav.push("table", { schema, table: current.name });
      else if (input === "S" && current) nav.push("tablesecurity", { schema, table: current.name });
      else if (input === "s") {
        const names = (schemas.data ?? []).map((s) => s.name).filter((n) => !["pg_catalog", "information_schema"].includes(n));
        if (names.length) setSchema(names[(names.indexOf(schema) + 1) % names.length]!);
      } else if (input === "R" && current && can("meta:write")) {
        if (current.rls_enabled) setConfirmRls({ name: current.name });
        else void setRls(current.name, true);
      }
    },
    { isActive: nav.mode === "normal" && !nav.capturing },
  );
  if (confirmRls) {
    return (
      <Confirm
        title={`Disable row level security on ${schema}.${confirmRls.name}?`}
        lines={["Every API role the grants allow will see and change every row."]}
        onYes={() => {
          setConfirmRls(null);
          void setRls(confirmRls.name, false);
        }}
        onNo={() => setConfirmRls(null)}
      />
    );
  }
  if (!tables.data) return tables.error ? <ErrorText error={tables.error} /> : <Loading />;
  return (
    <Box flexDirection="column">
      <Text>
        schema <Text bold>{schema}</Text> · {shown.length} table(s)
        {tables.error ? <Text color={tone("danger")}> · {errorLine(tables.error)}</Text> : null}
      </Text>
      <Table
        width={width}
        height={height - 1}
        selected={list.selected}
        columns={[
          { title: "table", max: 40 },
          { title: "rows≈", align: "right" },
          { title: "RLS" },
          { title: "size", align: "right" },
          { title: "comment", max: 30 },
        ]}
        rows={shown.map((t) => [t.name, count(t.rows_estimate), t.rls_enabled ? "on" : "OFF", bytes(t.bytes), t.comment ?? ""])}
        rowTone={(i) => (shown[i]?.rls_enabled ? undefined : tone("warn"))}
        empty={nav.filter ? "No table matches the filter." : "No tables in this schema."}
      />
    </Box>
  );
}
