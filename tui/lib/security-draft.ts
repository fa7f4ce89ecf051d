// A table security document as the console's form holds it while it is being edited (strings, one
// per field), and back. Pure: no React, no server. The server is the one that validates: words this
// file does not know (a misspelt role, a column that does not exist) are sent as typed, so the
// answer is the server's own error with its code (unknown_role, unknown_column, …), never a guess
// made here.
//
// Audience lists are typed as words separated by commas or spaces. In a column rule an empty field
// means "no rule" (the key is left out) and `none` means an empty list (nobody but service_role),
// which are different things to the server; `-` is read as `none` too.
import { SECURITY_OPERATIONS, SECURITY_TEMPLATES, type SecurityOperation, type TableSecurityDocument } from "../api/types.ts";

export interface SecurityDraft {
  template: string;
  owner_column: string;
  team_column: string;
  membership_table: string;
  membership_team_column: string;
  membership_user_column: string;
  operations: Record<SecurityOperation, string>;
  /** Per column of the table: the read and write audiences as typed. */
  columns: Record<string, { read: string; write: string }>;
  replace_policies: string;
}

/** Templates whose rows belong to an owner column (validate.ts: USES_OWNER). */
const OWNER_TEMPLATES = new Set(["owner_only", "public_read_owner_write"]);

export const audienceText = (list: string[] | undefined): string => (list === undefined ? "" : list.length ? list.join(",") : "none");

/** Typed audiences: undefined for an empty field, [] for `none`/`-`, else the words as typed. */
export function parseAudiences(text: string): string[] | undefined {
  const words = text
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter(Boolean);
  if (!words.length) return undefined;
  if (words.length === 1 && (words[0] === "none" || words[0] === "-")) return [];
  return words;
}

/** The draft of a stored document (or a fresh one), with a field for every column of the table. */
export function draftOf(doc: TableSecurityDocument | null, columns: string[]): SecurityDraft {
  const cols: SecurityDraft["columns"] = {};
  for (const c of columns) cols[c] = { read: audienceText(doc?.columns?.[c]?.read), write: audienceText(doc?.columns?.[c]?.write) };
  // A rule for a column the table no longer has stays visible (the server will name it).
  for (const [c, r] of Object.entries(doc?.columns ?? {})) if (!cols[c]) cols[c] = { read: audienceText(r.read), write: audienceText(r.write) };
  return {
    template: doc?.template ?? "owner_only",
    owner_column: doc?.owner_column ?? "",
    team_column: doc?.team?.column ?? "",
    membership_table: doc?.team?.membership.table ?? "",
    membership_team_column: doc?.team?.membership.team_column ?? "",
    membership_user_column: doc?.team?.membership.user_column ?? "",
    operations: Object.fromEntries(SECURITY_OPERATIONS.map((op) => [op, audienceText(doc?.operations?.[op])])) as Record<SecurityOperation, string>,
    columns: cols,
    replace_policies: (doc?.replace_policies ?? []).join(","),
  };
}

/** Whether the draft's template (or one of its rules) uses the owner column / the team. */
export function uses(draft: SecurityDraft): { owner: boolean; team: boolean; operations: boolean } {
  const named = (word: string) =>
    (draft.template === "custom" && SECURITY_OPERATIONS.some((op) => parseAudiences(draft.operations[op])?.includes(word))) ||
    Object.values(draft.columns).some((r) => parseAudiences(r.read)?.includes(word) || parseAudiences(r.write)?.includes(word));
  return {
    owner: OWNER_TEMPLATES.has(draft.template) || draft.template === "custom" || named("owner"),
    team: draft.template === "team" || draft.template === "custom" || named("team"),
    operations: draft.template === "custom",
  };
}

/**
 * The document PUT receives. Fields the template does not use are left out (a leftover owner column
 * after switching to admin_only is not sent); a team is sent when any of its fields was filled, so a
 * half-filled one gets the server's validation rather than silently vanishing.
 */
export function documentOf(draft: SecurityDraft): TableSecurityDocument {
  const use = uses(draft);
  const doc: TableSecurityDocument = { template: draft.template.trim() };
  const owner = draft.owner_column.trim();
  if (use.owner && owner) doc.owner_column = owner;
  const team = [draft.team_column, draft.membership_table, draft.membership_team_column, draft.membership_user_column].map((s) => s.trim());
  if (use.team && team.some(Boolean)) {
    doc.team = { column: team[0]!, membership: { table: team[1]!, team_column: team[2]!, user_column: team[3]! } };
  }
  if (use.operations) {
    const ops: NonNullable<TableSecurityDocument["operations"]> = {};
    for (const op of SECURITY_OPERATIONS) {
      const a = parseAudiences(draft.operations[op]);
      if (a) ops[op] = a;
    }
    doc.operations = ops;
  }
  const columns: NonNullable<TableSecurityDocument["columns"]> = {};
  for (const [c, r] of Object.entries(draft.columns)) {
    const read = parseAudiences(r.read);
    const write = parseAudiences(r.write);
    if (read || write) columns[c] = { ...(read ? { read } : {}), ...(write ? { write } : {}) };
  }
  if (Object.keys(columns).length) doc.columns = columns;
  const replace = draft.replace_policies
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (replace.length) doc.replace_policies = replace;
  return doc;
}

/** The next (or previous) template in the server's order. */
export function cycleTemplate(current: string, step: 1 | -1): string {
  const i = SECURITY_TEMPLATES.indexOf(current as (typeof SECURITY_TEMPLATES)[number]);
  const n = SECURITY_TEMPLATES.length;
  return SECURITY_TEMPLATES[((i < 0 ? 0 : i + step) + n) % n]!;
}

/** A stored document in a few words: "owner_only · owner owner_id · 1 column rule". */
export function documentSummary(doc: TableSecurityDocument | null): string {
  if (!doc) return "no document (set by hand, or never set)";
  const parts = [doc.template];
  if (doc.owner_column) parts.push(`owner ${doc.owner_column}`);
  if (doc.team) parts.push(`team ${doc.team.column} via ${doc.team.membership.table}`);
  if (doc.operations)
    parts.push(
      SECURITY_OPERATIONS.map((op) => `${op}=${audienceText(doc.operations?.[op]) || "none"}`)
        .join(" ")
        .trim(),
    );
  const rules = Object.entries(doc.columns ?? {});
  if (rules.length)
    parts.push(
      rules
        .map(([c, r]) => `${c}(${r.read ? `r:${audienceText(r.read)}` : ""}${r.read && r.write ? " " : ""}${r.write ? `w:${audienceText(r.write)}` : ""})`)
        .join(" "),
    );
  return parts.join(" · ");
}
