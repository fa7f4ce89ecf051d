// The table security editor's form, keyboard only: one field per line — the template (←/→ choose),
// the owner column (Tab cycles the table's uuid columns), the team and its membership table, the
// per-operation roles (custom), a read and a write field per column, the hand-written policies to
// replace. Fields the template does not use are not shown (and not sent: security-draft.ts). ↑/↓
// (or Enter) move, Ctrl+S asks for the dry run, Enter on the last field too; Esc cancels. The list
// scrolls when the table has more columns than the terminal has lines.
import { Box, Text, useInput } from "ink";
import { useState } from "react";
import { SECURITY_OPERATIONS } from "../api/types.ts";
import { oneLine } from "../lib/format.ts";
import { cycleTemplate, uses, type SecurityDraft } from "../lib/security-draft.ts";
import { tone } from "../lib/theme.ts";
import { LineInput } from "./LineInput.tsx";
import { wrap } from "./ScrollLines.tsx";

interface FieldDef {
  key: string;
  label: string;
  choice?: boolean;
  hint?: string;
  get(d: SecurityDraft): string;
  set(d: SecurityDraft, v: string): SecurityDraft;
}

const AUDIENCE_HINT = "anon, authenticated, owner, team · none = nobody · empty = no rule";

function fieldsOf(d: SecurityDraft, info: { uuidColumns: string[]; handPolicies: string[] }): FieldDef[] {
  const use = uses(d);
  const f: FieldDef[] = [{ key: "template", label: "template", choice: true, get: (x) => x.template, set: (x, v) => ({ ...x, template: v }) }];
  if (use.owner)
    f.push({
      key: "owner",
      label: "owner column",
      hint: info.uuidColumns.length ? `a uuid column (Tab: ${info.uuidColumns.join(", ")})` : "a uuid column holding the user id",
      get: (x) => x.owner_column,
      set: (x, v) => ({ ...x, owner_column: v }),
    });
  if (use.team) {
    const team: [keyof SecurityDraft, string, string][] = [
      ["team_column", "team column", "this table's column naming the row's team"],
      ["membership_table", "membership table", "schema.table with one row per (team, user)"],
      ["membership_team_column", "  its team column", "e.g. team_id"],
      ["membership_user_column", "  its user column", "e.g. user_id (uuid)"],
    ];
    for (const [k, label, hint] of team) f.push({ key: k, label, hint, get: (x) => x[k] as string, set: (x, v) => ({ ...x, [k]: v }) });
  }
  if (use.operations)
    for (const op of SECURITY_OPERATIONS)
      f.push({
        key: `op.${op}`,
        label: `${op} roles`,
        hint: "anon, authenticated, owner, team (empty: nobody)",
        get: (x) => x.operations[op],
        set: (x, v) => ({ ...x, operations: { ...x.operations, [op]: v } }),
      });
  for (const c of Object.keys(d.columns)) {
    for (const rw of ["read", "write"] as const)
      f.push({
        key: `col.${c}.${rw}`,
        label: `${c} ${rw}`,
        hint: AUDIENCE_HINT,
        get: (x) => x.columns[c]?.[rw] ?? "",
        set: (x, v) => ({ ...x, columns: { ...x.columns, [c]: { ...(x.columns[c] ?? { read: "", write: "" }), [rw]: v } } }),
      });
  }
  f.push({
    key: "replace",
    label: "replace policies",
    hint: info.handPolicies.length ? `hand-written here: ${info.handPolicies.join(", ")}` : "hand-written policies to drop with this change",
    get: (x) => x.replace_policies,
    set: (x, v) => ({ ...x, replace_policies: v }),
  });
  return f;
}

export function SecurityForm({
  title,
  draft,
  onChange,
  onSubmit,
  onCancel,
  error,
  uuidColumns,
  handPolicies,
  width,
  height,
}: {
  title: string;
  draft: SecurityDraft;
  onChange(d: SecurityDraft): void;
  onSubmit(): void;
  onCancel(): void;
  /** The server's answer to the last dry run, when it refused: its lines, shown under the fields. */
  error: string[] | null;
  uuidColumns: string[];
  handPolicies: string[];
  width: number;
  height: number;
}) {
  const fields = fieldsOf(draft, { uuidColumns, handPolicies });
  const [at, setAt] = useState(0);
  const cur = Math.min(at, fields.length - 1);
  const field = fields[cur]!;
  const move = (by: number) => setAt(Math.max(0, Math.min(fields.length - 1, cur + by)));
  useInput((input, key) => {
    if (key.ctrl && input === "s") return onSubmit();
    if (!field.choice) return; // a text field's own input handles the rest
    if (key.leftArrow || key.rightArrow || input === " ") onChange(field.set(draft, cycleTemplate(field.get(draft), key.leftArrow ? -1 : 1)));
    else if (key.upArrow) move(-1);
    else if (key.downArrow || key.tab) move(1);
    else if (key.return) cur === fields.length - 1 ? onSubmit() : move(1);
    else if (key.escape) onCancel();
  });
  // The refusal wraps (its code is at the end of the message) but keeps to a few lines.
  const errorLines = (error ?? []).flatMap((l) => wrap(l, width - 4)).slice(0, 6);
  // Title, footer, the border (2) and the error lines take their share; the fields scroll in the rest.
  const room = Math.max(3, height - 4 - errorLines.length);
  const start = Math.max(0, Math.min(cur - Math.floor(room / 2), fields.length - room));
  const labelWidth = Math.min(24, Math.max(...fields.map((f) => f.label.length)) + 1);
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={tone("accent")} paddingX={1} width={width}>
      <Text bold wrap="truncate">
        {oneLine(title)}
        {fields.length > room ? (
          <Text color={tone("muted")}>
            {" "}
            · field {cur + 1} of {fields.length}
          </Text>
        ) : null}
      </Text>
      {fields.slice(start, start + room).map((f) => {
        const i = fields.indexOf(f);
        const active = i === cur;
        return (
          <Box key={f.key}>
            <Text color={active ? tone("accent") : undefined} bold={active} wrap="truncate">
              {oneLine(f.label)
                .slice(0, labelWidth - 1)
                .padEnd(labelWidth)}
            </Text>
            {f.choice ? (
              <Text wrap="truncate">
                <Text inverse={active}>◂ {f.get(draft)} ▸</Text>
                {active ? <Text color={tone("muted")}> ←→ choose</Text> : null}
              </Text>
            ) : (
              <LineInput
                value={f.get(draft)}
                active={active}
                placeholder={f.hint}
                onChange={(v) => onChange(f.set(draft, v))}
                onSubmit={() => (i === fields.length - 1 ? onSubmit() : move(1))}
                onUp={() => move(-1)}
                onDown={() => move(1)}
                onTab={() => {
                  if (f.key === "owner" && uuidColumns.length) {
                    const next = uuidColumns[(uuidColumns.indexOf(f.get(draft)) + 1) % uuidColumns.length]!;
                    onChange(f.set(draft, next));
                  } else move(1);
                }}
                onCancel={onCancel}
              />
            )}
          </Box>
        );
      })}
      {errorLines.map((l, i) => (
        <Text key={i} color={tone("danger")} wrap="truncate">
          {oneLine(l)}
        </Text>
      ))}
      <Text color={tone("muted")} wrap="truncate">
        ↑↓ field · Ctrl+S dry run · Esc cancel
      </Text>
    </Box>
  );
}
