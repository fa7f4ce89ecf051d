// Request bodies of the meta API, declared once; the services take the types derived from them.
import { z } from "zod";

const name = z.string().min(1).max(63);
const qualifiedName = z.string().min(1).max(140);
export const ON_DELETE = ["cascade", "restrict", "set null", "set default", "no action"] as const;
const onDelete = z.enum(ON_DELETE);
const defaultValue = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);

export const ColumnInput = z
  .object({
    name,
    type: z.string().min(1).max(200),
    nullable: z.boolean().optional(),
    default: defaultValue.optional(),
    primary_key: z.boolean().optional(),
    unique: z.boolean().optional(),
    identity: z.enum(["always", "by default"]).optional(),
    comment: z.string().max(10_000).nullable().optional(),
    references: z.object({ table: qualifiedName, column: name.optional(), on_delete: onDelete.optional() }).strict().optional(),
  })
  .strict();
export type ColumnInput = z.infer<typeof ColumnInput>;

export const CreateTableInput = z
  .object({
    schema: name.optional(),
    name,
    comment: z.string().max(10_000).nullable().optional(),
    rls: z.boolean().optional(),
    columns: z.array(ColumnInput).max(1600),
  })
  .strict();
export type CreateTableInput = z.infer<typeof CreateTableInput>;

export const AlterColumnInput = z
  .object({
    name,
    rename: name.optional(),
    type: z.string().min(1).max(200).optional(),
    nullable: z.boolean().optional(),
    /** null drops the default. */
    default: defaultValue.optional(),
    comment: z.string().max(10_000).nullable().optional(),
  })
  .strict();

export const PatchTableInput = z
  .object({
    rename: name.optional(),
    rls: z.boolean().optional(),
    comment: z.string().max(10_000).nullable().optional(),
    add_columns: z.array(ColumnInput).max(1600).optional(),
    drop_columns: z.array(name).max(1600).optional(),
    alter_columns: z.array(AlterColumnInput).max(1600).optional(),
  })
  .strict();
export type PatchTableInput = z.infer<typeof PatchTableInput>;

export const RelationshipInput = z
  .object({
    type: z.enum(["many_to_one", "one_to_one", "many_to_many"]),
    from: qualifiedName,
    to: qualifiedName,
    on_delete: onDelete.optional(),
    /** many_to_many: the junction table's name (default `<from>_<to>`, in from's schema). */
    junction: qualifiedName.optional(),
    /** many_to_one / one_to_one: the key column's name (default `<to, singular>_id`). */
    column: name.optional(),
    nullable: z.boolean().optional(),
  })
  .strict();
export type RelationshipInput = z.infer<typeof RelationshipInput>;

export const POLICY_COMMANDS = ["all", "select", "insert", "update", "delete"] as const;

export const PolicyInput = z
  .object({
    schema: name.optional(),
    table: qualifiedName,
    name,
    command: z.enum(POLICY_COMMANDS).default("all"),
    roles: z.array(name).max(100).default(["public"]),
    permissive: z.boolean().default(true),
    using: z.string().max(10_000).nullable().optional(),
    with_check: z.string().max(10_000).nullable().optional(),
  })
  .strict();
export type PolicyInput = z.infer<typeof PolicyInput>;

export const SqlInput = z
  .object({
    query: z.string().min(1).max(1_000_000),
    params: z
      .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .max(1000)
      .optional(),
    read_only: z.boolean().optional(),
    confirm: z.boolean().optional(),
    timeout_ms: z.number().int().min(1).max(600_000).optional(),
    max_rows: z.number().int().min(0).max(100_000).optional(),
  })
  .strict();
export type SqlInput = z.infer<typeof SqlInput>;
