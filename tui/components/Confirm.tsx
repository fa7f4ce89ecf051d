// An explicit confirmation: the question, what is at stake, and y to go ahead; n or Esc refuses.
// Nothing else confirms (Enter does not), so a stray key never runs a destructive action.
import { Box, Text, useInput } from "ink";
import { oneLine } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";

export function Confirm({
  title,
  lines = [],
  onYes,
  onNo,
  yes = "run it",
  no = "cancel",
}: {
  title: string;
  lines?: string[];
  onYes(): void;
  onNo(): void;
  /** What y and n do, in the key line. */
  yes?: string;
  no?: string;
}) {
  useInput((input, key) => {
    if (input === "y" || input === "Y") onYes();
    else if (input === "n" || input === "N" || key.escape) onNo();
  });
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={tone("danger")} paddingX={1}>
      <Text bold color={tone("danger")}>
        {oneLine(title)}
      </Text>
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate-end">
          {oneLine(l)}
        </Text>
      ))}
      <Text>
        <Text bold>y</Text> {yes} · <Text bold>n</Text>/<Text bold>Esc</Text> {no}
      </Text>
    </Box>
  );
}
