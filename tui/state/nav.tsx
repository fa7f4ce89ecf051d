// Where the console is and what the keyboard is doing: the screen stack (`:name` replaces it, a
// screen opening a detail pushes, Esc pops), the shell's modes (command line, filter, help), the
// per-screen filter text, the key hints the current screen shows in the bottom bar, whether the
// screen is capturing text (then the shell's single-letter keys are off), and a status line.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";

export interface Route {
  name: string;
  params?: Record<string, string>;
  /** The filter this screen had when another was opened over it (restored by back). */
  filter?: string;
}

export type Mode = "normal" | "command" | "filter" | "help";
export interface Hint {
  key: string;
  label: string;
}
export interface Status {
  text: string;
  tone: "ok" | "danger" | "warn" | "muted";
}

export interface Nav {
  route: Route;
  depth: number;
  go(name: string, params?: Record<string, string>): void;
  push(name: string, params?: Record<string, string>): void;
  back(): void;
  mode: Mode;
  setMode(m: Mode): void;
  /** The `/` filter of the current screen (cleared when the screen changes). */
  filter: string;
  setFilter(f: string): void;
  hints: Hint[];
  setHints(h: Hint[]): void;
  capturing: boolean;
  setCapturing(c: boolean): void;
  status: Status | null;
  say(text: string, tone?: Status["tone"]): void;
  quit(): void;
}

const NavContext = createContext<Nav | null>(null);

export function NavProvider({ initial, onQuit, children }: { initial: Route; onQuit: () => void; children: ReactNode }) {
  const [stack, setStack] = useState<Route[]>([initial]);
  const [mode, setMode] = useState<Mode>("normal");
  const [filter, setFilter] = useState("");
  const [hints, setHints] = useState<Hint[]>([]);
  const [capturing, setCapturing] = useState(false);
  const [status, setStatus] = useState<Status | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  const reset = () => {
    setFilter("");
    setCapturing(false);
    setHints([]);
  };
  const say = useCallback((text: string, tone: Status["tone"] = "ok") => {
    setStatus({ text, tone });
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => setStatus(null), 6000);
    timer.current.unref?.();
  }, []);
  const nav = useMemo<Nav>(
    () => ({
      route: stack.at(-1)!,
      depth: stack.length,
      go: (name, params) => {
        reset();
        setStack([{ name, params }]);
      },
      push: (name, params) => {
        reset();
        setStack((s) => [...s.slice(0, -1), { ...s.at(-1)!, filter }, { name, params }]);
      },
      back: () => {
        if (stack.length < 2) return;
        reset();
        setFilter(stack.at(-2)!.filter ?? "");
        setStack((s) => (s.length > 1 ? s.slice(0, -1) : s));
      },
      mode,
      setMode,
      filter,
      setFilter,
      hints,
      setHints,
      capturing,
      setCapturing,
      status,
      say,
      quit: onQuit,
    }),
    [stack, mode, filter, hints, capturing, status, say, onQuit],
  );
  return <NavContext.Provider value={nav}>{children}</NavContext.Provider>;
}

export function useNav(): Nav {
  const n = useContext(NavContext);
  if (!n) throw new Error("useNav outside NavProvider");
  return n;
}

/** Declares the current screen's key hints (re-declared when they change). */
export function useHints(hints: Hint[]): void {
  const { setHints } = useNav();
  const key = hints.map((h) => `${h.key}:${h.label}`).join("|");
  // biome-ignore lint/correctness/useExhaustiveDependencies: the joined key is the dependency.
  useEffect(() => setHints(hints), [key]);
}

/** Whether a screen's own keys should be live (the shell is not in a mode of its own). */
export function useScreenKeysActive(): boolean {
  return useNav().mode === "normal";
}
