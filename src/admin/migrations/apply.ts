// Applying user migrations with their plans: every pending file is planned (plan.ts) on the text
// that will run, under migrateUp's lock; in production each one that needs approval must have one
// for its checksum (approvals.ts), or nothing runs at all. The CLI (`plinth migrate up`) and the
// admin API (POST /admin/v1/migrations/apply) both come through here.
import type { Sql } from "../../db/pool.ts";
import { migrateUp, type RunOptions, type UpReport } from "../../db/migrations/user.ts";
import { ApprovalError, approvalFor, requireApproval, type Approval } from "./approvals.ts";
import { planFile, type MigrationPlan, type PlanOptions } from "./plan.ts";

export interface ApplyOptions extends RunOptions {
  to?: string;
  /** Production: refuse plans with destructive or security findings that no approval covers. */
  production: boolean;
  plan: PlanOptions;
  /** Each pending migration's plan (and its approval), before anything runs. */
  onPlan?: (plan: MigrationPlan, approval: Approval | null) => void;
}

export interface ApplyReport extends UpReport {
  plans: { plan: MigrationPlan; approval: Approval | null }[];
}

export async function applyMigrations(sql: Sql, dir: string, opts: ApplyOptions): Promise<ApplyReport> {
  const plans: ApplyReport["plans"] = [];
  const report = await migrateUp(sql, dir, {
    ...opts,
    check: async (files) => {
      const refused: MigrationPlan[] = [];
      const messages: string[] = [];
      for (const f of files) {
        const plan = await planFile(sql, f, opts.plan);
        let approval: Approval | null = null;
        if (opts.production) {
          try {
            approval = await requireApproval(sql, plan);
          } catch (err) {
            if (!(err instanceof ApprovalError)) throw err;
            refused.push(plan);
            messages.push(err.message);
          }
        } else approval = await approvalFor(sql, plan);
        plans.push({ plan, approval });
        opts.onPlan?.(plan, approval);
      }
      if (refused.length) {
        throw new ApprovalError(409, "approval_required", `nothing was applied: ${messages.join("; ")}`, refused);
      }
    },
  });
  return { ...report, plans };
}
