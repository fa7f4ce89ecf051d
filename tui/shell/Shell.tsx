// The frame around every screen: a title bar (server, identity, screen), the screen, and the
// bottom bar — the keys that work here, or the `:` command line with completion, or the `/` filter.
// Global keys: `:` command, `/` filter, `?` help, Esc back, q quit from a top screen (Ctrl+C quits
// anywhere: Ink handles it). A screen that captures text (an editor, a form) turns the single-letter
// keys off with setCapturing(true); Esc is then the screen's own.
import { Box, Text, useInput, useWindowSize } from "ink";
import { useState } from "react";
import { fit, oneLine } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useNav } from "../state/nav.tsx";
import { identityLabel, useSession } from "../state/session.tsx";
import { LineInput } from "../components/LineInput.tsx";
import { completeCommand, screenNamed, topScreens } from "./screens.ts";

const GLOBAL_HINTS = [
  { key: ":", label: "go to" },
  { key: "/", label: "filter" },
  { key: "?", label: "help" },
];

export function Shell() {
  const nav = useNav();
  const session = useSession();
  const { columns, rows } = useWindowSize();
  const [command, setCommand] = useState("");
  const allowed = topScreens(session.can);
  const names = allowed.map((s) => s.name);
  const def = screenNamed(nav.route.name);
  const isTop = nav.depth === 1;

  useInput(
    (input, key) => {
      if (nav.mode === "help") return nav.setMode("normal");
      if (nav.mode !== "normal" || nav.capturing) return;
      // A chunk may carry more than the key (a paste, a fast typist over SSH): ":sql\r" goes to sql.
      if (input.startsWith(":")) {
        const rest = input.slice(1);
        const brk = rest.search(/[\r\n]/);
        if (brk >= 0) return runCommand(rest.slice(0, brk));
        setCommand(rest);
        nav.setMode("command");
      } else if (input.startsWith("/")) {
        nav.setFilter(input.slice(1).replace(/[\r\n].*$/s, ""));
        if (!/[\r\n]/.test(input)) nav.setMode("filter");
      } else if (input === "?") nav.setMode("help");
      else if (key.escape) {
        if (nav.filter) nav.setFilter("");
        else nav.back();
      } else if (input === "q" && isTop) nav.quit();
    },
    { isActive: true },
  );

  const runCommand = (text: string) => {
    const t = text.trim().toLowerCase();
    nav.setMode("normal");
    if (!t) return;
    if (t === "q" || t === "quit") return nav.quit();
    const match = names.includes(t) ? t : completeCommand(t, names)[0];
    if (!match) {
      const known = screenNamed(t);
      return nav.say(known ? `Your level may not open ${t} (it needs ${known.needs})` : `No screen named "${t}": ${names.join(", ")}`, "danger");
    }
    nav.go(match);
  };

  const width = Math.max(20, columns);
  // One line of title, one of status, one of hints; Ink redraws the whole height on resize.
  const bodyHeight = Math.max(3, rows - 3);
  const Screen = def && session.can(def.needs) ? def.component : null;
  const suggestions = nav.mode === "command" ? completeCommand(command, names) : [];
  // The screen first: on a narrow terminal the URL and identity are what gets cut.
  const title = ` ${def?.title ?? "plinth"}${nav.depth > 1 ? ` (${nav.depth - 1} deep)` : ""} · ${identityLabel(session.who)} · ${session.client.url} `;

  return (
    <Box flexDirection="column" width={width} height={Math.max(6, rows)}>
      <Text inverse bold wrap="truncate">
        {fit(title, width)}
      </Text>
      <Box height={bodyHeight} flexDirection="column" overflow="hidden">
        {nav.mode === "help" ? (
          <Help names={names} width={width} />
        ) : Screen ? (
          <Screen key={JSON.stringify(nav.route)} width={width} height={bodyHeight} params={nav.route.params ?? {}} />
        ) : (
          <Text color={tone("danger")}>Your level may not open this screen.</Text>
        )}
      </Box>
      <Text color={nav.status ? tone(nav.status.tone) : tone("muted")} wrap="truncate">
        {oneLine(nav.status?.text ?? (nav.filter ? `filter: ${nav.filter}` : " "))}
      </Text>
      {nav.mode === "command" ? (
        <Box>
          <Text color={tone("accent")}>:</Text>
          <LineInput
            value={command}
            onChange={setCommand}
            onSubmit={runCommand}
            onCancel={() => nav.setMode("normal")}
            onTab={() => suggestions[0] && setCommand(suggestions.length === 1 ? suggestions[0] : commonPrefix(suggestions))}
          />
          <Text color={tone("muted")} wrap="truncate">
            {"  "}
            {suggestions.join(" ")}
          </Text>
        </Box>
      ) : nav.mode === "filter" ? (
        <Box>
          <Text color={tone("accent")}>/</Text>
          <LineInput
            value={nav.filter}
            onChange={nav.setFilter}
            onSubmit={() => nav.setMode("normal")}
            onCancel={() => {
              nav.setFilter("");
              nav.setMode("normal");
            }}
          />
        </Box>
      ) : (
        <Hints
          width={width}
          hints={[
            ...nav.hints,
            ...(nav.capturing ? [] : GLOBAL_HINTS),
            ...(nav.capturing ? [] : isTop ? [{ key: "q", label: "quit" }] : [{ key: "Esc", label: "back" }]),
          ]}
        />
      )}
    </Box>
  );
}

function commonPrefix(list: string[]): string {
  let p = list[0] ?? "";
  for (const s of list) while (!s.startsWith(p)) p = p.slice(0, -1);
  return p;
}

function Hints({ hints, width }: { hints: { key: string; label: string }[]; width: number }) {
  return (
    <Text wrap="truncate">
      {hints.map((h, i) => (
        <Text key={i}>
          <Text bold color={tone("accent")}>
            {h.key}
          </Text>
          <Text> {h.label}</Text>
          {i < hints.length - 1 ? <Text color={tone("muted")}> · </Text> : null}
        </Text>
      ))}
      {width > 0 ? "" : ""}
    </Text>
  );
}

function Help({ names, width }: { names: string[]; width: number }) {
  const lines: [string, string][] = [
    [":name Enter", `go to a screen (Tab completes): ${names.join(", ")}`],
    ["/", "filter the list in front of you (Esc clears)"],
    ["↑ ↓ PgUp PgDn Home End", "move; Enter opens"],
    ["Esc", "back (or clear the filter)"],
    ["q", "quit from a top screen"],
    ["Ctrl+C", "quit from anywhere"],
    ["F5 / Ctrl+R", "run the SQL in the editor"],
    ["?", "this help (any key closes it)"],
  ];
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={Math.min(width, 100)}>
      <Text bold>Keys</Text>
      {lines.map(([k, v]) => (
        <Text key={k} wrap="truncate">
          <Text bold color={tone("accent")}>
            {k.padEnd(24)}
          </Text>
          {v}
        </Text>
      ))}
      <Text color={tone("muted")}>Each screen lists its own keys in the bottom bar.</Text>
    </Box>
  );
}
