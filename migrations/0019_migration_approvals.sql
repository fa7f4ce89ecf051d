-- Approvals of user migrations (issue 18): in production `plinth migrate up` refuses a migration
-- whose plan has destructive or security findings unless an admin approved exactly that file. An
-- approval names the file's checksum, so an edited file is a different file and needs approving
-- again. Rows are only added (a new approval for a new checksum); who approved what stays on
-- record next to the audit log's entry for it.
create table if not exists plinth.migration_approvals (
  id bigint generated always as identity primary key,
  version text not null,
  name text not null,
  checksum text not null,
  approved_by text not null,
  admin_id uuid null,
  note text null,
  -- The plan's verdict when it was approved: what the approver saw.
  verdict text not null,
  approved_at timestamptz not null default now()
);

create index if not exists migration_approvals_version on plinth.migration_approvals (version, checksum);

revoke all on plinth.migration_approvals from public, anon, authenticated, service_role, plinth_console;
