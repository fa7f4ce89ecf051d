// One-line states every screen shows the same way: loading, the server's error (message and code,
// never a stack), and "not available on this server" for an endpoint this server lacks.
import { Text } from "ink";
import { errorLine, isMissingEndpoint } from "../api/client.ts";
import { tone } from "../lib/theme.ts";

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  if (isMissingEndpoint(error)) return <Text color={tone("warn")}>Not available on this server (its admin API has no such endpoint).</Text>;
  return (
    <Text color={tone("danger")} wrap="wrap">
      Error: {errorLine(error)}
    </Text>
  );
}

export const Loading = ({ what = "Loading" }: { what?: string }) => <Text color={tone("muted")}>{what}…</Text>;
