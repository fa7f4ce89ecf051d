// A small form: one labelled field per line, ↑/↓ or Tab between fields, Enter on the last field
// (or Ctrl+S anywhere) submits, Esc cancels. Values are strings; the owner parses them.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { oneLine } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { LineInput } from "./LineInput.tsx";

export interface Field {
  name: string;
  label: string;
  hint?: string;
  mask?: boolean;
  initial?: string;
}

export function Form({
  title,
  fields,
  onSubmit,
  onCancel,
  error,
}: {
  title: string;
  fields: Field[];
  onSubmit(v: Record<string, string>): void;
  onCancel(): void;
  error?: string | null;
}) {
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ""])));
  const [at, setAt] = useState(0);
  useInput((input, key) => {
    if (key.ctrl && input === "s") onSubmit(values);
  });
  const labelWidth = Math.max(...fields.map((f) => f.label.length)) + 1;
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={tone("accent")} paddingX={1}>
      <Text bold>{oneLine(title)}</Text>
      {fields.map((f, i) => (
        <Box key={f.name}>
          <Text color={i === at ? tone("accent") : undefined} bold={i === at}>
            {f.label.padEnd(labelWidth)}
          </Text>
          <LineInput
            value={values[f.name]!}
            mask={f.mask}
            active={i === at}
            placeholder={f.hint}
            onChange={(v) => setValues((s) => ({ ...s, [f.name]: v }))}
            onSubmit={() => (i === fields.length - 1 ? onSubmit(values) : setAt(i + 1))}
            onTab={() => setAt((i + 1) % fields.length)}
            onDown={() => setAt(Math.min(fields.length - 1, i + 1))}
            onUp={() => setAt(Math.max(0, i - 1))}
            onCancel={onCancel}
          />
        </Box>
      ))}
      {error ? <Text color={tone("danger")}>{oneLine(error)}</Text> : null}
      <Text color={tone("muted")}>Enter next/submit · Ctrl+S submit · Esc cancel</Text>
    </Box>
  );
}
