// Migration templates: the security patterns every app needs, written once and tested (apply,
// revert, re-apply, and RLS per role through REST: test/migrate.templates.test.ts). Each template
// renders an up and a down file for one table name; `security-indexes` reads the table's policies
// from the database to know which columns they filter on.
//
// Traps, kept here on purpose:
// - Policies call `(select auth.uid())`, not `auth.uid()`: the sub-select is evaluated once per
//   statement (an InitPlan) instead of once per row.
// - Helper functions that policies call on a table with its own policies (team membership) are
//   SECURITY DEFINER with `set search_path = ''` and fully qualified names: without the definer,
//   the policy on the members table would recurse into itself; without the fixed path, a caller
//   could shadow the names it uses.
// - Audit tables live in the `audit` schema, which the REST API does not expose, with RLS on and no
//   grant to the API roles: the trigger (SECURITY DEFINER) is the only writer.
// - Every name a template writes goes through the one identifier quoter; the table name is
//   validated first (a template is DDL, and DDL takes no bind parameters).
import { quoteIdentifier } from "../../lib/sql-text.ts";
import type { Sql } from "../../db/pool.ts";
import { nodeKind, pgQuery, walk } from "../meta/parser.ts";

export interface RenderedTemplate {
  up: string;
  down: string;
}

export interface TemplateInput {
  /** The table the template is about (schema public). */
  table: string;
  /** The database, for templates that read it (security-indexes). */
  sql?: Sql;
}

export interface MigrationTemplate {
  name: string;
  description: string;
  /** What the template expects to exist already. */
  requires: string | null;
  needsDatabase: boolean;
  render(input: TemplateInput): Promise<RenderedTemplate>;
}

export class TemplateError extends Error {
  constructor(
    readonly code: "unknown_template" | "invalid_table_name" | "no_policies" | "nothing_to_index" | "table_not_found",
    message: string,
  ) {
    super(message);
    this.name = "TemplateError";
  }
}

const q = quoteIdentifier;
/** `public.<table>`, quoted. */
const pub = (t: string) => `public.${q(t)}`;
/** A derived name (`posts_owner_id_idx`), cut to PostgreSQL's 63 bytes. */
const derived = (t: string, suffix: string) => q(`${t}_${suffix}`.slice(0, 63));
const policy = (t: string, what: string) => q(`${t}: ${what}`.slice(0, 63));

/** Lower-case letters, digits and underscores, starting with a letter: a name that never needs quoting in clients. */
export function checkTableName(name: string): string {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) {
    throw new TemplateError(
      "invalid_table_name",
      `table name '${name}' must be lower-case letters, digits and underscores, starting with a letter (at most 63)`,
    );
  }
  return name;
}

const ownerTable: MigrationTemplate = {
  name: "owner-table",
  description: "a table whose rows belong to the user who created them: owner-only RLS for select, insert, update and delete",
  requires: null,
  needsDatabase: false,
  async render({ table: t }) {
    const up = `-- ${t}: rows owned by the signed-in user who created them. Only the owner reads or changes
-- them; anon sees nothing; service_role bypasses RLS.
create table ${pub(t)} (
  id bigint generated always as identity primary key,
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  body text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table ${pub(t)} enable row level security;

-- The column every policy filters on.
create index ${derived(t, "owner_id_idx")} on ${pub(t)} (owner_id);

create policy ${policy(t, "owner reads")} on ${pub(t)}
  for select to authenticated using ((select auth.uid()) = owner_id);
create policy ${policy(t, "owner inserts")} on ${pub(t)}
  for insert to authenticated with check ((select auth.uid()) = owner_id);
create policy ${policy(t, "owner updates")} on ${pub(t)}
  for update to authenticated using ((select auth.uid()) = owner_id) with check ((select auth.uid()) = owner_id);
create policy ${policy(t, "owner deletes")} on ${pub(t)}
  for delete to authenticated using ((select auth.uid()) = owner_id);
`;
    const down = `drop table ${pub(t)};\n`;
    return { up, down };
  },
};

const plainTable: MigrationTemplate = {
  name: "table",
  description: "a plain table with RLS enabled and no policies yet (only service_role reaches it until you add some)",
  requires: null,
  needsDatabase: false,
  async render({ table: t }) {
    const up = `-- ${t}: RLS is on and there is no policy yet, so only service_role reads or writes it.
-- Add policies (see \`plinth migrate templates\`) before clients use it.
create table ${pub(t)} (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now()
);

alter table ${pub(t)} enable row level security;
`;
    return { up, down: `drop table ${pub(t)};\n` };
  },
};

const softDelete: MigrationTemplate = {
  name: "soft-delete",
  description:
    "a deleted_at column on an existing table: DELETE sets it instead of removing the row, and a restrictive policy hides such rows from anon and authenticated",
  requires: "the table exists with RLS enabled and an id primary key",
  needsDatabase: false,
  async render({ table: t }) {
    const fn = `public.${derived(t, "soft_delete")}`;
    // Why a trigger and not an UPDATE by the client: PostgreSQL checks an UPDATE's new row against
    // the SELECT policies too, so a client setting deleted_at would be refused by the very policy
    // that hides deleted rows. The client DELETEs (its DELETE policies decide whether it may); the
    // trigger, running as the table's owner, turns that into setting deleted_at.
    const up = `-- Soft delete for ${t}: DELETE sets deleted_at instead of removing the row (the table's DELETE
-- policies still decide who may delete what). A restrictive policy hides deleted rows from every
-- client read, on top of the table's other policies; service_role still sees them.
alter table ${pub(t)} add column deleted_at timestamptz;

create policy ${policy(t, "hide deleted rows")} on ${pub(t)}
  as restrictive for select to anon, authenticated using (deleted_at is null);

-- Live rows are what every client query reads.
create index ${derived(t, "live_idx")} on ${pub(t)} (deleted_at) where deleted_at is null;

create function ${fn}() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  update ${pub(t)} set deleted_at = now() where id = old.id and deleted_at is null;
  return null; -- keep the row
end
$$;
revoke all on function ${fn}() from public, anon, authenticated;

create trigger ${derived(t, "soft_delete")} before delete on ${pub(t)}
  for each row execute function ${fn}();
`;
    const down = `drop trigger ${derived(t, "soft_delete")} on ${pub(t)};
drop function ${fn}();
drop index public.${derived(t, "live_idx")};
drop policy ${policy(t, "hide deleted rows")} on ${pub(t)};
alter table ${pub(t)} drop column deleted_at;
`;
    return { up, down };
  },
};

const auditTrigger: MigrationTemplate = {
  name: "audit-trigger",
  description: "every insert, update and delete on an existing table recorded (who, when, old and new row) into audit.<table>_changes",
  requires: "the table exists",
  needsDatabase: false,
  async render({ table: t }) {
    const log = `audit.${derived(t, "changes")}`;
    const fn = `audit.${derived(t, "record_change")}`;
    const up = `-- Row changes of ${t}, recorded by a trigger into ${log}: which operation, when, by which user
-- (auth.uid(), null for service_role and the database owner), the row before and after. The audit
-- schema is not exposed by the REST API and the API roles hold no grant on it.
create schema if not exists audit;
revoke all on schema audit from public, anon, authenticated;

create table ${log} (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  actor uuid default auth.uid(),
  old_row jsonb,
  new_row jsonb
);
alter table ${log} enable row level security;
revoke all on ${log} from public, anon, authenticated;

create function ${fn}() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  insert into ${log} (operation, old_row, new_row)
  values (tg_op,
          case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end,
          case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end);
  return null;
end
$$;
revoke all on function ${fn}() from public, anon, authenticated;

create trigger ${derived(t, "audit")} after insert or update or delete on ${pub(t)}
  for each row execute function ${fn}();
`;
    const down = `drop trigger ${derived(t, "audit")} on ${pub(t)};
drop function ${fn}();
drop table ${log};
`;
    return { up, down };
  },
};

const team: MigrationTemplate = {
  name: "team",
  description: "teams and their members (<table>, <table>_members): members read their team, owners manage it; the creator becomes its owner",
  requires: null,
  needsDatabase: false,
  async render({ table: t }) {
    const members = pub(`${t}_members`);
    const isMember = `public.${derived(t, "is_member")}`;
    const isOwner = `public.${derived(t, "is_owner")}`;
    const addCreator = `public.${derived(t, "add_creator")}`;
    const up = `-- Teams (${t}) and their members (${t}_members). A member reads the team and its member list;
-- an owner renames or deletes the team and adds or removes members; anyone signed in creates a team
-- and becomes its owner; a member may leave. anon sees nothing.
create table ${pub(t)} (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  created_by uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now()
);

create table ${members} (
  team_id uuid not null references ${pub(t)} (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'member')),
  created_at timestamptz not null default now(),
  primary key (team_id, user_id)
);
create index ${derived(t, "members_user_id_idx")} on ${members} (user_id);

alter table ${pub(t)} enable row level security;
alter table ${members} enable row level security;

-- Membership checks for the policies. SECURITY DEFINER: a policy on ${t}_members that read
-- ${t}_members under RLS would recurse into itself.
create function ${isMember}(team uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$ select exists (select 1 from ${members} m where m.team_id = team and m.user_id = (select auth.uid())) $$;

create function ${isOwner}(team uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$ select exists (select 1 from ${members} m where m.team_id = team and m.user_id = (select auth.uid()) and m.role = 'owner') $$;

-- authenticated keeps EXECUTE from the schema's default privileges (policies call them as the
-- requesting role); anon never needs them.
revoke all on function ${isMember}(uuid), ${isOwner}(uuid) from public, anon;

-- The creator becomes the team's first owner.
create function ${addCreator}() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  insert into ${members} (team_id, user_id, role) values (new.id, new.created_by, 'owner');
  return new;
end
$$;
revoke all on function ${addCreator}() from public, anon, authenticated;

create trigger ${derived(t, "add_creator")} after insert on ${pub(t)}
  for each row execute function ${addCreator}();

create policy ${policy(t, "members read")} on ${pub(t)}
  for select to authenticated using (${isMember}(id) or created_by = (select auth.uid()));
create policy ${policy(t, "signed-in users create")} on ${pub(t)}
  for insert to authenticated with check (created_by = (select auth.uid()));
create policy ${policy(t, "owners update")} on ${pub(t)}
  for update to authenticated using (${isOwner}(id)) with check (${isOwner}(id));
create policy ${policy(t, "owners delete")} on ${pub(t)}
  for delete to authenticated using (${isOwner}(id));

create policy ${policy(`${t}_members`, "members read")} on ${members}
  for select to authenticated using (${isMember}(team_id));
create policy ${policy(`${t}_members`, "owners add")} on ${members}
  for insert to authenticated with check (${isOwner}(team_id));
create policy ${policy(`${t}_members`, "owners change roles")} on ${members}
  for update to authenticated using (${isOwner}(team_id)) with check (${isOwner}(team_id));
create policy ${policy(`${t}_members`, "owners remove, members leave")} on ${members}
  for delete to authenticated using (${isOwner}(team_id) or user_id = (select auth.uid()));
`;
    const down = `drop table ${members};
drop table ${pub(t)};
drop function ${isMember}(uuid);
drop function ${isOwner}(uuid);
drop function ${addCreator}();
`;
    return { up, down };
  },
};

const securityIndexes: MigrationTemplate = {
  name: "security-indexes",
  description: "indexes for the columns an existing table's policies filter on (read from the database), where no index leads with them",
  requires: "the table exists and has policies (reads the database)",
  needsDatabase: true,
  async render({ table: t, sql }) {
    if (!sql) throw new Error("security-indexes reads the database");
    const columns = await policyColumns(sql, t);
    if (!columns.length) throw new TemplateError("nothing_to_index", `every column the policies of public.${t} filter on already leads an index`);
    const idx = (c: string) => derived(t, `${c}_policy_idx`);
    const up =
      `-- Indexes for the columns the policies of public.${t} filter on (${columns.join(", ")}): each policy\n` +
      `-- is an extra WHERE on every client query, and without an index it reads the whole table.\n` +
      columns.map((c) => `create index ${idx(c)} on ${pub(t)} (${q(c)});\n`).join("");
    const down = columns.map((c) => `drop index public.${idx(c)};\n`).join("");
    return { up, down };
  },
};

/** Columns of public.<table> its policies' USING/WITH CHECK name, that no index leads with. */
async function policyColumns(sql: Sql, table: string): Promise<string[]> {
  const rows = await sql<{ expr: string | null; columns: string[]; indexed: string[]; found: boolean }[]>`
    select p.expr, array(select attname::text from pg_attribute where attrelid = c.oid and attnum > 0 and not attisdropped) as columns,
           array(select a.attname::text from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                 where i.indrelid = c.oid) as indexed,
           true as found
    from pg_class c
      left join lateral (select unnest(array[pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)]) as expr
                         from pg_policy pol where pol.polrelid = c.oid) p on true
    where c.oid = to_regclass(${`public.${q(table)}`})`;
  if (!rows.length) throw new TemplateError("table_not_found", `no table public.${table}`);
  const exprs = rows.map((r) => r.expr).filter((e): e is string => !!e);
  if (!exprs.length) throw new TemplateError("no_policies", `public.${table} has no policies to index for`);
  const known = new Set(rows[0]!.columns);
  const indexed = new Set(rows[0]!.indexed);
  const pg = await pgQuery();
  const found: string[] = [];
  for (const e of exprs) {
    // The expression as PostgreSQL prints it, parsed back as a SELECT list item.
    const tree = await pg.parse(`select ${e}`);
    walk(tree, (key, value) => {
      if (key !== "ColumnRef") return true;
      const fields = ((value as { fields?: unknown[] }).fields ?? []).map((f) => nodeKind(f)).filter(([k]) => k === "String");
      const name = fields.length ? String(fields[fields.length - 1]![1].sval) : "";
      if (known.has(name) && !indexed.has(name) && !found.includes(name)) found.push(name);
      return false;
    });
  }
  return found;
}

export const TEMPLATES: readonly MigrationTemplate[] = [ownerTable, softDelete, auditTrigger, team, securityIndexes, plainTable];

export function findTemplate(name: string): MigrationTemplate {
  const t = TEMPLATES.find((x) => x.name === name);
  if (!t) throw new TemplateError("unknown_template", `unknown template '${name}': one of ${TEMPLATES.map((x) => x.name).join(", ")}`);
  return t;
}

/** Rendered with a header naming the template and the table, for `plinth migrate new --template`. */
export async function renderTemplate(name: string, input: TemplateInput): Promise<RenderedTemplate> {
  const t = findTemplate(name);
  checkTableName(input.table);
  const r = await t.render(input);
  const head = `-- template ${t.name} for public.${input.table}\n`;
  return { up: head + r.up, down: head + r.down };
}
