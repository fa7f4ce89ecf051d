// policies: every RLS policy (the `/` filter narrows by table, name, command or expression), n
// creates one, x drops one after a confirmation, Enter shows its USING and WITH CHECK in full.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { inert, oneLine } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

type Overlay = { kind: "create"; error: string | null } | { kind: "drop" } | null;

export function Policies({ width, height }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const [overlay, setOverlay] = useState<Overlay>(null);
  const [open, setOpen] = useState(false);
  const policies = useLoad(() => client.policies(), []);
  const list = byFilter(policies.data ?? [], nav.filter, (p) => `${p.schema}.${p.table} ${p.name} ${p.command} ${p.using} ${p.with_check}`);
  const { selected } = useList(list.length, height - 3, { active: !overlay && !open, onEnter: () => setOpen(true) });
  useCapture(overlay !== null || open);
  const current = list[selected];
  const writable = can("meta:write");
  useHints([
    { key: "Enter", label: "show" },
    ...(writable
      ? [
          { key: "n", label: "new" },
          { key: "x", label: "drop" },
        ]
      : []),
  ]);
  useInput(
    (input, key) => {
      if (open) {
        if (key.escape || key.return || input === "q") setOpen(false);
        return;
      }
      if (input === "r") policies.reload();
      else if (input === "n" && writable) setOverlay({ kind: "create", error: null });
      else if (input === "x" && writable && current) setOverlay({ kind: "drop" });
    },
    { isActive: nav.mode === "normal" && !overlay },
  );
  if (overlay?.kind === "create") {
    return (
      <Form
        title="Create a policy"
        fields={[
          { name: "table", label: "table", hint: "schema.table" },
          { name: "name", label: "name" },
          { name: "command", label: "command", initial: "select", hint: "all, select, insert, update, delete" },
          { name: "roles", label: "roles", initial: "authenticated", hint: "comma-separated" },
          { name: "using", label: "using", hint: "e.g. auth.uid() = user_id" },
          { name: "with_check", label: "with check", hint: "insert/update: the check expression" },
        ]}
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={async (v) => {
          try {
            await client.createPolicy({
              table: v.table!.trim(),
              name: v.name!.trim(),
              command: v.command!.trim() || "all",
              roles: (v.roles ?? "")
                .split(",")
                .map((r) => r.trim())
                .filter(Boolean),
              ...(v.using?.trim() ? { using: v.using.trim() } : {}),
              ...(v.with_check?.trim() ? { with_check: v.with_check.trim() } : {}),
            });
            setOverlay(null);
            nav.say(`Policy ${v.name} created on ${v.table}`);
            policies.reload();
          } catch (err) {
            setOverlay({ kind: "create", error: errorLine(err) });
          }
        }}
      />
    );
  }
  if (overlay?.kind === "drop" && current) {
    return (
      <Confirm
        title={`Drop policy ${current.name} on ${current.schema}.${current.table}?`}
        lines={["Rows it let through become invisible (or, if it was the last restrictive one, visible)."]}
        onYes={async () => {
          setOverlay(null);
          try {
            await client.dropPolicy(current.schema, current.table, current.name);
            nav.say(`Dropped ${current.name}`);
            policies.reload();
          } catch (err) {
            nav.say(errorLine(err), "danger");
          }
        }}
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (!policies.data) return policies.error ? <ErrorText error={policies.error} /> : <Loading />;
  if (open && current) {
    return (
      <Box flexDirection="column">
        <Text bold>{oneLine(`${current.schema}.${current.table} · ${current.name}`)}</Text>
        <Text>
          {current.permissive ? "permissive" : "restrictive"} · for {current.command} · to {current.roles.join(", ")}
        </Text>
        <Text color={tone("title")}>using</Text>
        <Text wrap="wrap">{inert(current.using ?? "–")}</Text>
        <Text color={tone("title")}>with check</Text>
        <Text wrap="wrap">{inert(current.with_check ?? "–")}</Text>
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text>
        {list.length} polic{list.length === 1 ? "y" : "ies"}
      </Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[{ title: "table", max: 28 }, { title: "name", max: 24 }, { title: "cmd" }, { title: "roles", max: 16 }, { title: "using", max: 40 }]}
        rows={list.map((p) => [`${p.schema}.${p.table}`, p.name, p.command, p.roles.join(","), oneLine(p.using ?? p.with_check ?? "")])}
      />
    </Box>
  );
}
