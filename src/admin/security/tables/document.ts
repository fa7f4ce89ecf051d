// The table security document (PUT /admin/v1/tables/{schema}/{table}/security): a template, the
// columns that say who owns a row or which team it belongs to, per-operation audiences (custom), and
// per-column read/write rules. Declared once with zod; everything else takes the types derived here.
//
// Audiences are the document's words, not database roles: `anon` and `authenticated` are the API
// roles; `owner` and `team` are authenticated callers narrowed by a row condition (auth.uid() in the
// owner column, or a membership row for the row's team); `service_role` is the machine's key, which
// bypasses row level security and always keeps every right (the document cannot take it away).
import { z } from "zod";
import { AdminError, AdminErrors } from "../../errors.ts";

export const TEMPLATES = ["owner_only", "public_read_owner_write", "authenticated_read", "team", "admin_only", "custom"] as const;
export type Template = (typeof TEMPLATES)[number];

export const AUDIENCES = ["anon", "authenticated", "owner", "team", "service_role"] as const;
export type Audience = (typeof AUDIENCES)[number];

export const OPERATIONS = ["select", "insert", "update", "delete"] as const;
export type Operation = (typeof OPERATIONS)[number];

const name = z.string().min(1).max(63);
const audiences = z.array(z.enum(AUDIENCES)).max(AUDIENCES.length);

const ColumnRule = z.object({ read: audiences.optional(), write: audiences.optional() }).strict();
export type ColumnRule = z.infer<typeof ColumnRule>;

export const TeamSpec = z
  .object({
    /** The column of this table that holds the row's team. */
    column: name,
    /** The membership table: one row per (team, user). */
    membership: z
      .object({
        table: z.string().min(1).max(140),
        team_column: name,
        user_column: name,
      })
      .strict(),
  })
  .strict();
export type TeamSpec = z.infer<typeof TeamSpec>;

export const TableSecurityDocument = z
  .object({
    template: z.enum(TEMPLATES),
    owner_column: name.optional(),
    team: TeamSpec.optional(),
    /** custom only: who may do each operation (an operation left out: nobody but service_role). */
    operations: z.object({ select: audiences, insert: audiences, update: audiences, delete: audiences }).partial().strict().optional(),
    columns: z.record(name, ColumnRule).optional(),
    /** Hand-written policies on the table to drop as part of this change (the down file recreates them). */
    replace_policies: z.array(name).max(100).optional(),
  })
  .strict();
export type TableSecurityDocument = z.infer<typeof TableSecurityDocument>;

/** Who may do each operation under the document (service_role implied, not listed). */
export type OperationAudiences = Record<Operation, ReadonlySet<Audience>>;

const all = (a: Audience[]): OperationAudiences => ({ select: new Set(a), insert: new Set(a), update: new Set(a), delete: new Set(a) });

export function operationAudiences(doc: TableSecurityDocument): OperationAudiences {
  switch (doc.template) {
    case "owner_only":
      return all(["owner"]);
    case "public_read_owner_write":
      return { ...all(["owner"]), select: new Set<Audience>(["anon", "authenticated"]) };
    case "authenticated_read":
      return { ...all([]), select: new Set<Audience>(["authenticated"]) };
    case "team":
      return all(["team"]);
    case "admin_only":
      return all([]);
    case "custom": {
      const ops = doc.operations ?? {};
      return {
        select: new Set(ops.select ?? []),
        insert: new Set(ops.insert ?? []),
        update: new Set(ops.update ?? []),
        delete: new Set(ops.delete ?? []),
      };
    }
  }
}

/**
 * The request body as a document, with stable codes for the two mistakes worth naming (an unknown
 * template, an unknown audience); anything else is validation_failed with zod's issue list.
 */
export function parseDocument(raw: unknown): TableSecurityDocument {
  let body = raw;
  if (typeof raw === "string") {
    try {
      body = JSON.parse(raw);
    } catch {
      throw new AdminError(400, "bad_json", "Request body could not be parsed as JSON");
    }
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw AdminErrors.validation("Request body must be a JSON object");
  const parsed = TableSecurityDocument.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  const first = parsed.error.issues[0]!;
  const path = first.path.map(String);
  if (path[0] === "template" && first.code === "invalid_value") {
    throw new AdminError(400, "unknown_template", `Unknown template: use one of ${TEMPLATES.join(", ")}`, issues);
  }
  if (first.code === "invalid_value" && (path.includes("read") || path.includes("write") || path[0] === "operations")) {
    throw new AdminError(400, "unknown_role", `Unknown role at ${path.join(".")}: use one of ${AUDIENCES.join(", ")}`, issues);
  }
  throw AdminErrors.validation(`Invalid ${issues[0]!.path || "body"}: ${issues[0]!.message}`, issues);
}
