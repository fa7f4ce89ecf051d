// What each statement of a user migration does to a live database, decided on PostgreSQL's parse
// tree: destructive (data lost), locking (the lock it takes, on what, and whether it scans or
// rewrites the table), security (access opened). The dangers the SQL console's guard already knows
// (drops, filterless writes, truncates, grants to the API roles, RLS disabled, constant policies,
// DO blocks, server files, role changes) come from guard.ts — one rule book — and are only sorted
// here into the plan's three kinds; what a migration adds on top (lock levels, rewriting type
// changes, SECURITY DEFINER without a search_path, new exposed tables without RLS, policies
// dropped or widened) is read here. Database facts (does the table exist, how big, the column's
// current type) come through `Facts`, so this module stays free of SQL.
//
// Traps:
// - A table created earlier in the same migration holds no rows: locks and rewrites on it are not
//   findings, and it needs no size lookup.
// - Lock levels follow PostgreSQL's AlterTableGetLockLevel: most ALTER TABLE forms take ACCESS
//   EXCLUSIVE, but ADD FOREIGN KEY and trigger changes take SHARE ROW EXCLUSIVE (on both tables
//   for a foreign key), VALIDATE CONSTRAINT and SET STATISTICS take SHARE UPDATE EXCLUSIVE.
// - Since PostgreSQL 11 ADD COLUMN with a constant default does not rewrite; a volatile default
//   (a function call), an identity, a serial or a stored generated column does.
// - The guard counts `ALTER TABLE … DROP NOT NULL`/`DROP DEFAULT`/`DROP IDENTITY` as "drops"; they
//   lose no data, so only DROP COLUMN and DROP CONSTRAINT are kept as destructive.
// - CREATE INDEX CONCURRENTLY and VACUUM cannot run inside a transaction, and every migration file
//   runs in one: PostgreSQL will refuse them, which the plan says before the run does.
import { inspectBatch, type Finding as GuardFinding, type TableName } from "../meta/guard.ts";
import { nodeKind, type ParsedStatement } from "../meta/parser.ts";

export type FindingKind = "destructive" | "locking" | "security";
export type Severity = "info" | "warning" | "danger";
const KIND_ORDER: FindingKind[] = ["destructive", "security", "locking"];

export const LOCK_MODES = [
  "ACCESS SHARE",
  "ROW SHARE",
  "ROW EXCLUSIVE",
  "SHARE UPDATE EXCLUSIVE",
  "SHARE",
  "SHARE ROW EXCLUSIVE",
  "EXCLUSIVE",
  "ACCESS EXCLUSIVE",
] as const;
export type LockMode = (typeof LOCK_MODES)[number];

export interface TableFacts {
  exists: boolean;
  rows: number;
  bytes: number;
}

export interface ColumnTypeFacts {
  /** The column's current type as PostgreSQL prints it; null when the column does not exist (yet). */
  current: string | null;
  currentOid: number | null;
  currentTypmod: number;
  /** OID of the new type, null when PostgreSQL does not know it (yet). */
  newOid: number | null;
  /** A binary-coercible cast from the current to the new type exists (pg_cast method 'b'). */
  binaryCoercible: boolean;
}

/** What the classifier asks the database (src/admin/migrations/plan.ts answers from the catalog). */
export interface Facts {
  table(t: TableName): Promise<TableFacts>;
  columnType(t: TableName, column: string, newType: { text: string; typmod: number }): Promise<ColumnTypeFacts>;
  /** Rows a guard finding puts at stake (impact.ts), or null when unknown. */
  impact(f: GuardFinding, stmt: ParsedStatement): Promise<number | null>;
}

export interface TableImpact {
  schema: string | null;
  name: string;
  exists: boolean;
  rows: number;
  bytes: number;
}

export interface PlanFinding {
  kind: FindingKind;
  severity: Severity;
  /** The statement's text (long statements cut). */
  statement: string;
  message: string;
  /** Index of the statement in the file, and the line it starts on. */
  index: number;
  line: number;
  tables: TableImpact[];
  /** Locking findings: the lock taken and whether the table is scanned or rewritten under it. */
  lock?: { mode: LockMode; on: string[]; rewrites: boolean; scans: boolean };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const sval = (v: unknown): string | undefined => {
  const s = obj(obj(v).String).sval;
  return typeof s === "string" ? s : undefined;
};

const MAX_STATEMENT = 1000;
const cut = (s: string) => (s.length > MAX_STATEMENT ? `${s.slice(0, MAX_STATEMENT)}…` : s);

export const tableLabel = (t: { schema: string | null; name: string }) => (t.schema ? `${t.schema}.${t.name}` : t.name);
const sameTable = (a: TableName, b: TableName, defaultSchema: string) => a.name === b.name && (a.schema ?? defaultSchema) === (b.schema ?? defaultSchema);

function rangeVar(v: unknown): TableName {
  const r = obj(obj(v).RangeVar ?? v);
  return { schema: typeof r.schemaname === "string" ? r.schemaname : null, name: String(r.relname ?? "") };
}

/** Guard kinds, sorted into the plan's kinds (null: handled here instead, or not a finding). */
const GUARD_KIND: Record<string, { kind: FindingKind; severity: Severity } | null> = {
  drop: { kind: "destructive", severity: "danger" },
  drop_database: { kind: "destructive", severity: "danger" },
  truncate: { kind: "destructive", severity: "danger" },
  delete_without_where: { kind: "destructive", severity: "danger" },
  update_without_where: { kind: "destructive", severity: "danger" },
  delete_every_row: { kind: "destructive", severity: "danger" },
  update_every_row: { kind: "destructive", severity: "danger" },
  merge_every_row: { kind: "destructive", severity: "danger" },
  write_unplanned: { kind: "destructive", severity: "warning" },
  alter_drop: null, // decided per subcommand below
  alter_system: { kind: "security", severity: "danger" },
  grant_public: { kind: "security", severity: "danger" },
  grant_api_role: { kind: "security", severity: "warning" },
  disable_rls: { kind: "security", severity: "danger" },
  permissive_policy: { kind: "security", severity: "danger" },
  role_attribute: { kind: "security", severity: "danger" },
  do_block: { kind: "security", severity: "warning" },
  server_file_access: { kind: "security", severity: "danger" },
  role_change: { kind: "security", severity: "danger" },
  replication_role: { kind: "security", severity: "danger" },
};

/** Drops that lose no rows: still destructive (something is gone), but a warning. */
const SOFT_DROPS = new Set([
  "OBJECT_INDEX",
  "OBJECT_FUNCTION",
  "OBJECT_PROCEDURE",
  "OBJECT_TRIGGER",
  "OBJECT_VIEW",
  "OBJECT_SEQUENCE",
  "OBJECT_TYPE",
  "OBJECT_DOMAIN",
]);

export interface ClassifyOptions {
  /** Schemas the REST API exposes: new tables there need RLS. */
  exposedSchemas: readonly string[];
  /** Where unqualified names go (the first schema of the search path). */
  defaultSchema?: string;
  /** 1-based line of a character index in the file. */
  lineOf(offset: number): number;
}

interface Draft {
  kind: FindingKind;
  severity: Severity;
  message: string;
  tables: TableName[];
  lock?: { mode: LockMode; on: TableName[]; rewrites: boolean; scans: boolean };
  /** Rows known from the guard's impact estimate (overrides the catalog's for the message). */
  rows?: number | null;
}

/** Every finding of a migration's statements, in statement order. */
export async function classifyMigration(stmts: ParsedStatement[], facts: Facts, opts: ClassifyOptions): Promise<PlanFinding[]> {
  const defaultSchema = opts.defaultSchema ?? "public";
  const created: TableName[] = [];
  const rlsEnabled: TableName[] = [];
  // First pass: what the migration itself creates and protects (RLS may be enabled after CREATE).
  for (const s of stmts) {
    const [k, v] = nodeKind(s.node);
    if (k === "CreateStmt") created.push(rangeVar(v.relation));
    if (k === "CreateTableAsStmt") created.push(rangeVar(obj(v.into).rel));
    if (k === "AlterTableStmt") {
      for (const c of list(v.cmds)) {
        const sub = String(obj(obj(c).AlterTableCmd).subtype ?? "");
        if (sub === "AT_EnableRowSecurity") rlsEnabled.push(rangeVar(v.relation));
      }
    }
  }
  const isNew = (t: TableName) => created.some((c) => sameTable(c, t, defaultSchema));
  const guardFindings = await inspectBatch(stmts);
  const out: PlanFinding[] = [];
  for (const [index, s] of stmts.entries()) {
    const drafts: Draft[] = [];
    for (const g of guardFindings.filter((f) => f.index === index)) {
      const d = await fromGuard(g, s, facts);
      if (d) drafts.push(d);
    }
    drafts.push(...(await ownRules(s, facts, { ...opts, defaultSchema }, isNew, rlsEnabled)));
    // Within a statement: what needs approval first, then how it locks.
    drafts.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
    for (const d of drafts) out.push(await finish(d, s, index, facts, isNew, opts));
  }
  return out;
}

async function fromGuard(g: GuardFinding, s: ParsedStatement, facts: Facts): Promise<Draft | null> {
  const [k, v] = nodeKind(s.node);
  // Policies dropped are a security matter (ownRules); DROP of other objects stays destructive.
  if (g.kind === "drop" && k === "DropStmt" && v.removeType === "OBJECT_POLICY") return null;
  const sort = GUARD_KIND[g.kind];
  if (!sort) return null;
  const severity = g.kind === "drop" && k === "DropStmt" && SOFT_DROPS.has(String(v.removeType)) ? "warning" : sort.severity;
  const rows = g.tables.length || g.explainable ? await facts.impact(g, s) : null;
  return { kind: sort.kind, severity, message: g.reason, tables: g.tables, rows };
}

const ALTER_LOCKS: Record<string, LockMode> = {
  AT_SetStatistics: "SHARE UPDATE EXCLUSIVE",
  AT_ClusterOn: "SHARE UPDATE EXCLUSIVE",
  AT_DropCluster: "SHARE UPDATE EXCLUSIVE",
  AT_SetRelOptions: "SHARE UPDATE EXCLUSIVE",
  AT_ResetRelOptions: "SHARE UPDATE EXCLUSIVE",
  AT_ValidateConstraint: "SHARE UPDATE EXCLUSIVE",
  AT_AttachPartition: "SHARE UPDATE EXCLUSIVE",
  AT_EnableTrig: "SHARE ROW EXCLUSIVE",
  AT_EnableAlwaysTrig: "SHARE ROW EXCLUSIVE",
  AT_EnableReplicaTrig: "SHARE ROW EXCLUSIVE",
  AT_EnableTrigAll: "SHARE ROW EXCLUSIVE",
  AT_EnableTrigUser: "SHARE ROW EXCLUSIVE",
  AT_DisableTrig: "SHARE ROW EXCLUSIVE",
  AT_DisableTrigAll: "SHARE ROW EXCLUSIVE",
  AT_DisableTrigUser: "SHARE ROW EXCLUSIVE",
};

const stronger = (a: LockMode, b: LockMode): LockMode => (LOCK_MODES.indexOf(a) >= LOCK_MODES.indexOf(b) ? a : b);

/** Functions whose value is the same for every row, so ADD COLUMN … DEFAULT f() needs no rewrite. */
const STABLE_DEFAULTS = new Set(["now", "current_timestamp", "transaction_timestamp", "statement_timestamp", "current_date", "current_user"]);

async function ownRules(
  s: ParsedStatement,
  facts: Facts,
  opts: ClassifyOptions & { defaultSchema: string },
  isNew: (t: TableName) => boolean,
  rlsEnabled: TableName[],
): Promise<Draft[]> {
  const [k, v] = nodeKind(s.node);
  const drafts: Draft[] = [];
  const lock = (mode: LockMode, on: TableName[], message: string, extra: { rewrites?: boolean; scans?: boolean } = {}) => {
    const existing = on.filter((t) => !isNew(t));
    if (!existing.length) return;
    const heavy = extra.rewrites || extra.scans;
    drafts.push({
      kind: "locking",
      severity: heavy || mode === "ACCESS EXCLUSIVE" ? "warning" : "info",
      message,
      tables: existing,
      lock: { mode, on: existing, rewrites: !!extra.rewrites, scans: !!extra.scans },
    });
  };
  switch (k) {
    case "CreateStmt":
    case "CreateTableAsStmt": {
      const t = k === "CreateStmt" ? rangeVar(v.relation) : rangeVar(obj(v.into).rel);
      const schema = t.schema ?? opts.defaultSchema;
      const partition = k === "CreateStmt" && v.partbound !== undefined;
      if (k === "CreateTableAsStmt" && v.objtype === "OBJECT_MATVIEW") {
        if (opts.exposedSchemas.includes(schema)) {
          drafts.push({
            kind: "security",
            severity: "warning",
            message: `materialized view ${schema}.${t.name} in the exposed schema ${schema}: it cannot have row level security, so every role granted SELECT reads all of it (revoke it from anon and authenticated, or keep it in a private schema)`,
            tables: [],
          });
        }
        break;
      }
      if (opts.exposedSchemas.includes(schema) && !partition && !rlsEnabled.some((r) => sameTable(r, t, opts.defaultSchema))) {
        drafts.push({
          kind: "security",
          severity: "danger",
          message: `new table ${schema}.${t.name} in the exposed schema ${schema} without row level security: anon and authenticated read and write every row (add ALTER TABLE … ENABLE ROW LEVEL SECURITY and policies)`,
          tables: [],
        });
      }
      break;
    }
    case "ViewStmt": {
      // A view runs with its owner's rights unless security_invoker is on: the owner (who runs
      // migrations) bypasses the RLS of every table the view reads, so anon reads what it shows.
      const t = rangeVar(v.view);
      const schema = t.schema ?? opts.defaultSchema;
      const invoker = list(v.options).some((o) => {
        const d = obj(obj(o).DefElem);
        const arg = obj(d.arg);
        const on = arg.Boolean
          ? obj(arg.Boolean).boolval === true
          : ["true", "on", "1", "yes"].includes(String(sval(d.arg) ?? obj(arg.Integer).ival ?? "").toLowerCase());
        return d.defname === "security_invoker" && on;
      });
      if (opts.exposedSchemas.includes(schema) && !invoker) {
        drafts.push({
          kind: "security",
          severity: "warning",
          message: `view ${schema}.${t.name} in the exposed schema ${schema} runs with its owner's rights: the RLS of the tables it reads does not apply to API clients (add WITH (security_invoker = true))`,
          tables: [],
        });
      }
      break;
    }
    case "CreateFunctionStmt":
    case "AlterFunctionStmt": {
      const options = list(k === "CreateFunctionStmt" ? v.options : v.actions).map((o) => obj(obj(o).DefElem));
      const definer = options.some((d) => d.defname === "security" && obj(obj(d.arg).Boolean).boolval === true);
      const fixedPath = options.some((d) => d.defname === "set" && obj(obj(d.arg).VariableSetStmt).name === "search_path");
      if (definer && !fixedPath) {
        const name = list(k === "CreateFunctionStmt" ? v.funcname : obj(v.func).objname)
          .map(sval)
          .join(".");
        drafts.push({
          kind: "security",
          severity: "danger",
          message: `SECURITY DEFINER function ${name} without a fixed search_path: a caller can put their own objects first on the path and run them with the owner's rights (add SET search_path = '')`,
          tables: [],
        });
      }
      break;
    }
    case "DropStmt":
      if (v.removeType === "OBJECT_POLICY") {
        for (const o of list(v.objects)) {
          const parts = list(obj(obj(o).List).items).map(sval);
          const policy = parts.pop();
          const table = { schema: parts.length > 1 ? parts[0]! : null, name: parts[parts.length - 1] ?? "?" };
          drafts.push({
            kind: "security",
            severity: "warning",
            message: `DROP POLICY ${policy} on ${tableLabel(table)}: access changes (a permissive policy's rows are hidden; a restrictive one's limit is lifted)`,
            tables: [table],
          });
          lock("ACCESS EXCLUSIVE", [table], `DROP POLICY takes ACCESS EXCLUSIVE on ${tableLabel(table)} (brief)`);
        }
      }
      break;
    case "CreatePolicyStmt":
    case "AlterPolicyStmt": {
      const table = rangeVar(v.table);
      const roles = list(v.roles).map((r) => obj(obj(r).RoleSpec));
      const wide = roles.filter((r) => r.roletype === "ROLESPEC_PUBLIC" || r.rolename === "anon").map((r) => (r.rolename as string) ?? "public");
      if (k === "AlterPolicyStmt" && wide.length) {
        drafts.push({
          kind: "security",
          severity: "warning",
          message: `ALTER POLICY ${String(v.policy_name)} on ${tableLabel(table)} widens it to ${wide.join(", ")}`,
          tables: [table],
        });
      }
      lock("ACCESS EXCLUSIVE", [table], `${k === "CreatePolicyStmt" ? "CREATE" : "ALTER"} POLICY takes ACCESS EXCLUSIVE on ${tableLabel(table)} (brief)`);
      break;
    }
    case "AlterTableStmt":
      if (v.objtype === "OBJECT_TABLE" || v.objtype === undefined) drafts.push(...(await alterTable(v, facts, lock, isNew)));
      break;
    case "IndexStmt": {
      const t = rangeVar(v.relation);
      if (v.concurrent) {
        drafts.push({
          kind: "locking",
          severity: "danger",
          message: "CREATE INDEX CONCURRENTLY cannot run inside a transaction, and each migration file runs in one: PostgreSQL will refuse it",
          tables: [t],
        });
      } else {
        lock("SHARE", [t], `CREATE INDEX takes SHARE on ${tableLabel(t)}: writes wait while the whole table is read to build the index`, { scans: true });
      }
      break;
    }
    case "CreateTrigStmt": {
      const t = rangeVar(v.relation);
      lock("SHARE ROW EXCLUSIVE", [t], `CREATE TRIGGER takes SHARE ROW EXCLUSIVE on ${tableLabel(t)}: writes wait (brief)`);
      break;
    }
    case "RenameStmt": {
      const t = v.relation ? rangeVar(v.relation) : null;
      if (t && ["OBJECT_TABLE", "OBJECT_COLUMN"].includes(String(v.renameType))) {
        lock("ACCESS EXCLUSIVE", [t], `RENAME takes ACCESS EXCLUSIVE on ${tableLabel(t)} (brief); clients using the old name stop working`);
      }
      break;
    }
    case "VacuumStmt":
      // JSON leaves false out: ANALYZE is a VacuumStmt without is_vacuumcmd, and runs fine here.
      if (v.is_vacuumcmd === true) {
        drafts.push({
          kind: "locking",
          severity: "danger",
          message: "VACUUM cannot run inside a transaction, and each migration file runs in one: PostgreSQL will refuse it",
          tables: [],
        });
      }
      break;
    case "ClusterStmt": {
      const t = v.relation ? rangeVar(v.relation) : null;
      if (t) lock("ACCESS EXCLUSIVE", [t], `CLUSTER rewrites ${tableLabel(t)} under ACCESS EXCLUSIVE: reads and writes wait`, { rewrites: true });
      break;
    }
    case "RefreshMatViewStmt": {
      const t = rangeVar(v.relation);
      lock(
        v.concurrent ? "EXCLUSIVE" : "ACCESS EXCLUSIVE",
        [t],
        `REFRESH MATERIALIZED VIEW recomputes ${tableLabel(t)}${v.concurrent ? "" : " while reads wait"}`,
        {
          rewrites: true,
        },
      );
      break;
    }
    case "LockStmt": {
      const mode = LOCK_MODES[Math.max(0, Number(v.mode ?? 8) - 1)] ?? "ACCESS EXCLUSIVE";
      const tables = list(v.relations).map(rangeVar);
      lock(mode, tables, `LOCK TABLE … IN ${mode} MODE until the migration commits`);
      break;
    }
    case "ReindexStmt": {
      if (v.relation) {
        const t = rangeVar(v.relation);
        lock("SHARE", [t], `REINDEX blocks writes to ${tableLabel(t)} while it rebuilds`, { scans: true });
      }
      break;
    }
  }
  return drafts;
}

async function alterTable(
  v: Obj,
  facts: Facts,
  lock: (mode: LockMode, on: TableName[], message: string, extra?: { rewrites?: boolean; scans?: boolean }) => void,
  isNew: (t: TableName) => boolean,
): Promise<Draft[]> {
  const t = rangeVar(v.relation);
  const drafts: Draft[] = [];
  let mode: LockMode = "ROW SHARE";
  let rewrites = false;
  let scans = false;
  const why: string[] = [];
  const others: TableName[] = [];
  for (const c of list(v.cmds)) {
    const cmd = obj(obj(c).AlterTableCmd);
    const sub = String(cmd.subtype ?? "");
    let m: LockMode = ALTER_LOCKS[sub] ?? "ACCESS EXCLUSIVE";
    const def = obj(cmd.def);
    switch (sub) {
      case "AT_DropColumn":
        drafts.push({
          kind: "destructive",
          severity: "danger",
          message: `DROP COLUMN ${String(cmd.name)} on ${tableLabel(t)} removes its values from every row`,
          tables: [t],
        });
        break;
      case "AT_DropConstraint":
        drafts.push({
          kind: "destructive",
          severity: "warning",
          message: `DROP CONSTRAINT ${String(cmd.name)} on ${tableLabel(t)}: the rule it enforced is gone`,
          tables: [t],
        });
        break;
      case "AT_DetachPartition":
        drafts.push({ kind: "destructive", severity: "warning", message: `DETACH PARTITION on ${tableLabel(t)}: its rows leave the table`, tables: [t] });
        break;
      case "AT_AddColumn": {
        const col = obj(def.ColumnDef);
        const typeName = list(obj(col.typeName).names).map(sval).pop() ?? "";
        const constraints = list(col.constraints).map((x) => obj(obj(x).Constraint));
        const volatileDefault = constraints.some((x) => x.contype === "CONSTR_DEFAULT" && callsVolatile(x.raw_expr));
        const filled =
          constraints.some((x) => x.contype === "CONSTR_IDENTITY" || x.contype === "CONSTR_GENERATED") || /^(small|big)?serial[248]?$/.test(typeName);
        if (volatileDefault || filled) {
          rewrites = true;
          why.push(`ADD COLUMN ${String(col.colname)} fills every row (${filled ? "identity, serial or generated" : "volatile default"})`);
        }
        break;
      }
      case "AT_AlterColumnType": {
        const col = obj(def.ColumnDef);
        const type = typeText(obj(col.typeName));
        if (isNew(t)) break;
        const f = await facts.columnType(t, String(cmd.name), type);
        const rewrite = col.raw_default !== undefined || !keepsStorage(f, type.typmod);
        if (rewrite && f.current !== null) {
          rewrites = true;
          why.push(`ALTER COLUMN ${String(cmd.name)} TYPE ${type.text} (from ${f.current}) rewrites every row`);
          drafts.push({
            kind: "destructive",
            severity: "warning",
            message: `ALTER COLUMN ${String(cmd.name)} TYPE ${type.text} (was ${f.current}) converts every row of ${tableLabel(t)}: values that do not convert fail the migration, and lossy casts lose data`,
            tables: [t],
          });
        }
        break;
      }
      case "AT_SetNotNull":
        scans = true;
        why.push(`SET NOT NULL on ${String(cmd.name)} reads every row`);
        break;
      case "AT_ValidateConstraint":
        scans = true;
        why.push(`VALIDATE CONSTRAINT ${String(cmd.name)} reads every row`);
        break;
      case "AT_AddConstraint": {
        const con = obj(def.Constraint);
        if (con.contype === "CONSTR_FOREIGN") {
          m = "SHARE ROW EXCLUSIVE";
          const ref = rangeVar(con.pktable);
          if (!others.some((o) => sameTable(o, ref, "public"))) others.push(ref);
          if (!con.skip_validation) {
            scans = true;
            why.push(`ADD FOREIGN KEY checks every row (add it NOT VALID, then VALIDATE CONSTRAINT)`);
          }
        } else if (con.contype === "CONSTR_CHECK" && !con.skip_validation) {
          scans = true;
          why.push(`ADD CHECK reads every row (add it NOT VALID, then VALIDATE CONSTRAINT)`);
        } else if ((con.contype === "CONSTR_PRIMARY" || con.contype === "CONSTR_UNIQUE" || con.contype === "CONSTR_EXCLUSION") && !con.indexname) {
          scans = true;
          why.push(`ADD ${String(con.contype).replace("CONSTR_", "")} builds an index over every row (build it CONCURRENTLY first, then ADD … USING INDEX)`);
        }
        break;
      }
      case "AT_SetTableSpace":
      case "AT_SetLogged":
      case "AT_SetUnLogged":
        rewrites = true;
        why.push(`${sub.replace("AT_", "")} rewrites the table`);
        break;
    }
    mode = stronger(mode, m);
  }
  const extra = why.length ? `: ${why.join("; ")}` : " (brief: catalog only)";
  lock(mode, [t, ...others], `ALTER TABLE takes ${mode} on ${[t, ...others].map(tableLabel).join(", ")}${extra}`, { rewrites, scans });
  return drafts;
}

function callsVolatile(expr: unknown): boolean {
  let found = false;
  const visit = (n: unknown): void => {
    if (found || !n || typeof n !== "object") return;
    if (Array.isArray(n)) return n.forEach(visit);
    for (const [key, value] of Object.entries(n as Obj)) {
      if (key === "FuncCall") {
        const name = list(obj(value).funcname).map(sval).pop()?.toLowerCase() ?? "";
        if (!STABLE_DEFAULTS.has(name)) found = true;
      } else if (key === "SubLink") found = true;
      visit(value);
    }
  };
  visit(expr);
  return found;
}

/** A TypeName as text PostgreSQL's to_regtype() reads, and the typmod varchar(n)/numeric(p,s) get. */
function typeText(t: Obj): { text: string; typmod: number } {
  const names = list(t.names).map((n) => `"${(sval(n) ?? "").replace(/"/g, '""')}"`);
  const mods = list(t.typmods).map((m) => Number(obj(obj(obj(m).A_Const).ival).ival ?? NaN));
  const last = list(t.names).map(sval).pop() ?? "";
  let typmod = -1;
  if (mods.length && mods.every((m) => Number.isFinite(m))) {
    if (last === "varchar" || last === "bpchar") typmod = mods[0]! + 4;
    else if (last === "numeric") typmod = ((mods[0]! << 16) | (mods[1] ?? 0)) + 4;
  }
  const array = list(t.arrayBounds).length ? "[]" : "";
  return { text: `${names.join(".")}${array}`, typmod };
}

/**
 * Whether PostgreSQL keeps the stored values (no rewrite): the same type with a wider or no limit
 * (varchar(n) → varchar(m ≥ n), numeric(p, s) → numeric(p' ≥ p, s)), or a binary-coercible type
 * with no limit (varchar → text).
 */
function keepsStorage(f: ColumnTypeFacts, newTypmod: number): boolean {
  if (f.current === null || f.newOid === null) return true; // unknown column: nothing stored to rewrite
  if (f.currentOid === f.newOid) {
    if (newTypmod === -1 || newTypmod === f.currentTypmod) return true;
    if (f.currentTypmod === -1) return false;
    const numeric = f.newOid === 1700;
    if (numeric) return (newTypmod & 0xffff) === (f.currentTypmod & 0xffff) && newTypmod >> 16 >= f.currentTypmod >> 16;
    return newTypmod >= f.currentTypmod;
  }
  return f.binaryCoercible && newTypmod === -1;
}

async function finish(
  d: Draft,
  s: ParsedStatement,
  index: number,
  facts: Facts,
  isNew: (t: TableName) => boolean,
  opts: ClassifyOptions,
): Promise<PlanFinding> {
  const tables: TableImpact[] = [];
  for (const t of d.tables) {
    if (isNew(t)) tables.push({ schema: t.schema, name: t.name, exists: false, rows: 0, bytes: 0 });
    else tables.push({ schema: t.schema, name: t.name, ...(await facts.table(t)) });
  }
  if (d.rows != null && tables.length <= 1) {
    if (tables[0]) tables[0].rows = d.rows;
  }
  const sizes = tables.filter((t) => t.exists).map((t) => `${tableLabel(t)}: ${formatRows(t.rows)}, ${formatBytes(t.bytes)}`);
  const rowsOnly = !tables.length && d.rows != null ? ` (${formatRows(d.rows)})` : "";
  const message = `${d.message}${rowsOnly}${sizes.length ? ` [${sizes.join("; ")}]` : ""}`;
  return {
    kind: d.kind,
    severity: d.severity,
    statement: cut(s.text),
    message,
    index,
    line: opts.lineOf(s.offset),
    tables,
    ...(d.lock ? { lock: { mode: d.lock.mode, on: d.lock.on.map(tableLabel), rewrites: d.lock.rewrites, scans: d.lock.scans } } : {}),
  };
}

export const formatRows = (n: number) => `${Math.round(n).toLocaleString("en-US")} row${Math.round(n) === 1 ? "" : "s"}`;

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}
