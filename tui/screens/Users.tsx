// users: the project's end users, searched on the server (the `/` filter is the search), paged.
// Enter opens one (sessions, MFA factors); b ban, u unban, o sign out everywhere, p reset password,
// n create, I invite, x delete (after a confirmation).
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { errorLine } from "../api/client.ts";
import type { EndUser } from "../api/types.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { count, when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

export const USERS_PAGE = 200;
type Overlay = { kind: "ban" | "create" | "invite"; error: string | null } | { kind: "delete" } | null;

export function Users({ width, height }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const [overlay, setOverlay] = useState<Overlay>(null);
  const users = useLoad(() => client.users({ search: nav.filter.trim() || undefined, limit: USERS_PAGE }), [nav.filter]);
  const list = users.data?.users ?? [];
  const { selected } = useList(list.length, height - 3, { active: !overlay, onEnter: (i) => nav.push("user", { id: list[i]!.id }) });
  useCapture(overlay !== null);
  const current: EndUser | undefined = list[selected];
  const manage = can("users:manage");
  const adminOps = can("users:admin");
  useHints([
    { key: "Enter", label: "open" },
    ...(manage
      ? [
          { key: "b/u", label: "ban/unban" },
          { key: "o", label: "sign out" },
          { key: "p", label: "reset pw" },
        ]
      : []),
    ...(adminOps
      ? [
          { key: "n", label: "new" },
          { key: "I", label: "invite" },
          { key: "x", label: "delete" },
        ]
      : []),
  ]);
  const act = async (what: () => Promise<unknown>, done: string, formKind?: "ban" | "create" | "invite") => {
    try {
      await what();
      setOverlay(null);
      nav.say(done);
      users.reload();
    } catch (err) {
      if (formKind) setOverlay({ kind: formKind, error: errorLine(err) });
      else {
        setOverlay(null);
        nav.say(errorLine(err), "danger");
      }
    }
  };
  useInput(
    (input) => {
      if (input === "r") return users.reload();
      if (adminOps && input === "n") return setOverlay({ kind: "create", error: null });
      if (adminOps && input === "I") return setOverlay({ kind: "invite", error: null });
      if (!current) return;
      const who = current.email ?? current.phone ?? current.id;
      if (manage && input === "b") setOverlay({ kind: "ban", error: null });
      else if (manage && input === "u") void act(() => client.userAction(current.id, "unban"), `Unbanned ${who}`);
      else if (manage && input === "o") void act(() => client.userAction(current.id, "signout"), `Signed ${who} out everywhere`);
      else if (manage && input === "p") void act(() => client.userAction(current.id, "reset-password"), `Sent ${who} a password reset`);
      else if (adminOps && input === "x") setOverlay({ kind: "delete" });
    },
    { isActive: nav.mode === "normal" && !overlay },
  );
  if (overlay?.kind === "ban" && current) {
    return (
      <Form
        title={`Ban ${current.email ?? current.id}`}
        fields={[{ name: "duration", label: "duration", initial: "24h", hint: "a Go duration: 1h, 24h, 876000h" }]}
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) =>
          act(() => client.userAction(current.id, "ban", { duration: v.duration!.trim() }), `Banned ${current.email ?? current.id} for ${v.duration}`, "ban")
        }
      />
    );
  }
  if (overlay?.kind === "create") {
    return (
      <Form
        title="Create a user"
        fields={[
          { name: "email", label: "email" },
          { name: "password", label: "password", mask: true, hint: "empty: none" },
        ]}
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) =>
          act(
            () => client.createUser({ email: v.email!.trim(), email_confirm: true, ...(v.password ? { password: v.password } : {}) }),
            `Created ${v.email}`,
            "create",
          )
        }
      />
    );
  }
  if (overlay?.kind === "invite") {
    return (
      <Form
        title="Invite a user by email"
        fields={[{ name: "email", label: "email" }]}
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) => act(() => client.inviteUser(v.email!.trim()), `Invited ${v.email}`, "invite")}
      />
    );
  }
  if (overlay?.kind === "delete" && current) {
    return (
      <Confirm
        title={`Delete user ${current.email ?? current.id}?`}
        lines={["Its sessions, factors and identities go with it."]}
        onYes={() => void act(() => client.deleteUser(current.id), `Deleted ${current.email ?? current.id}`)}
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (!users.data) return users.error ? <ErrorText error={users.error} /> : <Loading />;
  return (
    <Box flexDirection="column">
      <Text>
        {count(users.data.total)} user(s){nav.filter ? ` matching "${nav.filter}"` : ""}
        {users.data.total > list.length ? ` · first ${list.length}` : ""}
        {users.error ? <Text color={tone("danger")}> · {errorLine(users.error)}</Text> : null}
      </Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[
          { title: "email / phone", max: 32 },
          { title: "created" },
          { title: "last sign-in" },
          { title: "MFA" },
          { title: "state" },
          { title: "admin" },
        ]}
        rows={list.map((u) => [
          u.email ?? u.phone ?? u.username ?? u.id,
          when(u.created_at).slice(0, 10),
          when(u.last_sign_in_at).slice(0, 16),
          String(u.factor_count),
          u.banned ? "banned" : "",
          u.admin_level ?? "",
        ])}
        rowTone={(i) => (list[i]?.banned ? tone("danger") : undefined)}
      />
    </Box>
  );
}
