// admins: admin accounts, their levels and assigned tables. + / - promote or demote one level (the
// server applies the rules: nobody above their own level, only a system_admin touches system_admins,
// not one's own level, never the last system_admin), t sets the tables of a moderator or viewer,
// n makes a user an admin, x removes an admin (the user stays).
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { when } from "../lib/format.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

export const LEVELS = ["system_admin", "admin", "moderator", "viewer"];
type Overlay = { kind: "add" | "tables"; error: string | null } | { kind: "remove" } | null;

export function Admins({ width, height }: ScreenProps) {
  const { client } = useSession();
  const nav = useNav();
  const [overlay, setOverlay] = useState<Overlay>(null);
  const admins = useLoad(() => client.admins(), []);
  const list = byFilter(admins.data ?? [], nav.filter, (a) => `${a.email} ${a.username} ${a.level}`);
  const { selected } = useList(list.length, height - 3, { active: !overlay });
  useCapture(overlay !== null);
  const current = list[selected];
  useHints([
    { key: "+/-", label: "promote/demote" },
    { key: "t", label: "tables" },
    { key: "n", label: "add" },
    { key: "x", label: "remove" },
  ]);
  const act = async (what: () => Promise<unknown>, done: string, form?: "add" | "tables") => {
    try {
      await what();
      setOverlay(null);
      nav.say(done);
      admins.reload();
    } catch (err) {
      if (form) setOverlay({ kind: form, error: errorLine(err) });
      else nav.say(errorLine(err), "danger");
    }
  };
  useInput(
    (input) => {
      if (input === "r") return admins.reload();
      if (input === "n") return setOverlay({ kind: "add", error: null });
      if (!current) return;
      const i = LEVELS.indexOf(current.level);
      if (input === "+" && i > 0) void act(() => client.patchAdmin(current.id, { level: LEVELS[i - 1] }), `${current.email} is now ${LEVELS[i - 1]}`);
      else if (input === "-" && i < LEVELS.length - 1)
        void act(() => client.patchAdmin(current.id, { level: LEVELS[i + 1] }), `${current.email} is now ${LEVELS[i + 1]}`);
      else if (input === "t") setOverlay({ kind: "tables", error: null });
      else if (input === "x") setOverlay({ kind: "remove" });
    },
    { isActive: nav.mode === "normal" && !overlay },
  );
  if (overlay?.kind === "add") {
    return (
      <Form
        title="Make a user an admin"
        fields={[
          { name: "email", label: "email" },
          { name: "level", label: "level", initial: "viewer", hint: LEVELS.join(" / ") },
          { name: "tables", label: "tables", hint: "schema.table, … (moderator and viewer)" },
        ]}
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) => {
          const tables = (v.tables ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean);
          return act(
            () => client.addAdmin({ email: v.email!.trim(), level: v.level!.trim(), ...(tables.length ? { tables } : {}) }),
            `${v.email} is now ${v.level}`,
            "add",
          );
        }}
      />
    );
  }
  if (overlay?.kind === "tables" && current) {
    return (
      <Form
        title={`Tables of ${current.email} (${current.level})`}
        fields={[{ name: "tables", label: "tables", initial: current.tables.join(", "), hint: "schema.table, …" }]}
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) =>
          act(
            () =>
              client.patchAdmin(current.id, {
                tables: (v.tables ?? "")
                  .split(",")
                  .map((s) => s.trim())
                  .filter(Boolean),
              }),
            `Tables of ${current.email} changed`,
            "tables",
          )
        }
      />
    );
  }
  if (overlay?.kind === "remove" && current) {
    return (
      <Confirm
        title={`Remove ${current.email} as an admin?`}
        lines={["The user stays; its admin sessions end."]}
        onYes={() => void act(() => client.removeAdmin(current.id), `${current.email} is no admin any more`).then(() => setOverlay(null))}
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (!admins.data) return admins.error ? <ErrorText error={admins.error} /> : <Loading />;
  return (
    <Box flexDirection="column">
      <Text>{list.length} admin(s)</Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[{ title: "email", max: 32 }, { title: "level" }, { title: "MFA" }, { title: "tables", max: 30 }, { title: "since" }]}
        rows={list.map((a) => [a.email ?? a.username ?? a.id, a.level, a.mfa ? "yes" : "no", a.tables.join(", "), when(a.created_at).slice(0, 10)])}
      />
    </Box>
  );
}
