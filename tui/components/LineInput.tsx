// A one-line text field: typing, Backspace/Delete, ←/→, Home/End (Ctrl+A/Ctrl+E), Ctrl+U clears.
// Enter submits, Esc cancels, Tab asks the owner for a completion. A masked field shows • for each
// character (passwords, codes).
import { Text, useInput } from "ink";
import { useState } from "react";
import { tone } from "../lib/theme.ts";

export interface LineInputProps {
  value: string;
  onChange(v: string): void;
  onSubmit?(v: string): void;
  onCancel?(): void;
  onTab?(): void;
  onUp?(): void;
  onDown?(): void;
  mask?: boolean;
  active?: boolean;
  placeholder?: string;
}

export function LineInput({ value, onChange, onSubmit, onCancel, onTab, onUp, onDown, mask, active = true, placeholder }: LineInputProps) {
  const [cursor, setCursor] = useState<number | null>(null);
  const at = Math.min(cursor ?? value.length, value.length);
  useInput(
    (input, key) => {
      if (key.return) return onSubmit?.(value);
      if (key.escape) return onCancel?.();
      if (key.tab) return onTab?.();
      if (key.upArrow) return onUp?.();
      if (key.downArrow) return onDown?.();
      if (key.leftArrow) return setCursor(Math.max(0, at - 1));
      if (key.rightArrow) return setCursor(Math.min(value.length, at + 1));
      if (key.home || (key.ctrl && input === "a")) return setCursor(0);
      if (key.end || (key.ctrl && input === "e")) return setCursor(null);
      if (key.ctrl && input === "u") {
        setCursor(null);
        return onChange("");
      }
      if (key.backspace) {
        if (at === 0) return;
        onChange(value.slice(0, at - 1) + value.slice(at));
        return setCursor(cursor === null ? null : at - 1);
      }
      if (key.delete) {
        // Many terminals send DEL (0x7f) for Backspace, which Ink reports as delete.
        if (at === 0) return;
        onChange(value.slice(0, at - 1) + value.slice(at));
        return setCursor(cursor === null ? null : at - 1);
      }
      if (key.ctrl || key.meta || !input) return;
      // Typed text and Enter can arrive in one read (a fast typist, tmux send-keys, a paste): the
      // text before the first line break is typed, the break submits.
      const brk = input.search(/[\r\n]/);
      // Control characters that came along in a chunk are never typed into a field.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point.
      const clean = (brk < 0 ? input : input.slice(0, brk)).replace(/[\u0000-\u001f\u007f]/g, "");
      const next = value.slice(0, at) + clean + value.slice(at);
      onChange(next);
      setCursor(cursor === null ? null : at + clean.length);
      if (brk >= 0) onSubmit?.(next);
    },
    { isActive: active },
  );
  const shown = mask ? "•".repeat(value.length) : value;
  if (!shown && placeholder && active) return <Text color={tone("muted")}>{placeholder}</Text>;
  return (
    <Text>
      {shown.slice(0, at)}
      {active ? <Text inverse>{shown[at] ?? " "}</Text> : (shown[at] ?? "")}
      {shown.slice(at + 1)}
    </Text>
  );
}
