// user: one end user — the account, its sessions and its MFA factors (never a secret: the server
// sends none).
import { Box, Text } from "ink";
import { ErrorText, Loading } from "../components/Message.tsx";
import { oneLine, when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

export function UserDetail({ params }: ScreenProps) {
  const { client } = useSession();
  const d = useLoad(() => client.user(params.id!), [params.id]);
  useHints([]);
  if (!d.data) return d.error ? <ErrorText error={d.error} /> : <Loading />;
  const { user, sessions, factors } = d.data;
  return (
    <Box flexDirection="column">
      <Text bold>{oneLine(user.email ?? user.phone ?? user.id)}</Text>
      <Text>
        id {user.id} · created {when(user.created_at)} · last sign-in {when(user.last_sign_in_at)}
      </Text>
      <Text>
        {user.banned ? <Text color={tone("danger")}>banned until {when(user.banned_until)}</Text> : "not banned"}
        {user.admin_level ? ` · admin level ${user.admin_level}` : ""}
      </Text>
      <Text bold color={tone("title")}>
        Sessions ({sessions.length})
      </Text>
      {sessions.slice(0, 8).map((s) => (
        <Text key={s.id} wrap="truncate">
          {oneLine(`${when(s.created_at)} · ${s.aal ?? "aal1"} · ${s.ip ?? "–"} · ${s.user_agent ?? ""}`)}
        </Text>
      ))}
      <Text bold color={tone("title")}>
        MFA factors ({factors.length})
      </Text>
      {factors.map((f) => (
        <Text key={f.id} wrap="truncate">
          {oneLine(`${f.factor_type} · ${f.status} · ${f.friendly_name ?? ""} · ${when(f.created_at)}`)}
        </Text>
      ))}
    </Box>
  );
}
