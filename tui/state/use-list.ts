// Moving a selection through a list: ↑/↓ (k/j), PgUp/PgDn, Home/End (g/G). Returns the clamped
// selection; `active` follows the shell's mode so keys typed into the command line do not move it.
import { useInput } from "ink";
import { useEffect, useState } from "react";
import { useNav } from "./nav.tsx";

export function useList(count: number, page: number, opts: { active?: boolean; onEnter?(i: number): void } = {}) {
  const nav = useNav();
  const [selected, setSelected] = useState(0);
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  useEffect(() => {
    if (selected > count - 1) setSelected(Math.max(0, count - 1));
  }, [count, selected]);
  useInput(
    (input, key) => {
      if (key.upArrow || input === "k") setSelected((s) => clamp(s - 1));
      else if (key.downArrow || input === "j") setSelected((s) => clamp(s + 1));
      else if (key.pageUp) setSelected((s) => clamp(s - page));
      else if (key.pageDown) setSelected((s) => clamp(s + page));
      else if (key.home || input === "g") setSelected(0);
      else if (key.end || input === "G") setSelected(clamp(count - 1));
      else if (key.return && count > 0) opts.onEnter?.(selected);
    },
    { isActive: (opts.active ?? true) && nav.mode === "normal" && !nav.capturing },
  );
  return { selected: clamp(selected), setSelected };
}

/** While `on`, the shell's single-letter keys are off (a form, an editor, a confirmation is up). */
export function useCapture(on: boolean): void {
  const { setCapturing } = useNav();
  useEffect(() => {
    setCapturing(on);
    return () => setCapturing(false);
  }, [on, setCapturing]);
}

/** The rows whose text contains the shell's `/` filter (case-insensitive). */
export function byFilter<T>(items: T[], filter: string, text: (t: T) => string): T[] {
  const f = filter.trim().toLowerCase();
  return f ? items.filter((i) => text(i).toLowerCase().includes(f)) : items;
}
