// User migrations as the admin API serves them (the console's migrations screen is a client of
// these): status, history, plans, approvals, apply and revert. Each function takes what a handler
// validated and the configuration; errors become admin errors with stable codes, and a refused
// apply carries the plans that were refused, so the console can show why.
import type { Config } from "../../config/schema.ts";
import type { Sql } from "../../db/pool.ts";
import { QUERY_CANCELED } from "../../db/cancel.ts";
import { migrateDown, MigrationCancelledError, migrationHistory, migrationStatus, MigrationError } from "../../db/migrations/user.ts";
import type { AdminActor } from "../authorize.ts";
import { AdminError } from "../errors.ts";
import { applyMigrations } from "./apply.ts";
import { ApprovalError, approvalFor, approvalJson, approveMigration, listApprovals } from "./approvals.ts";
import { planJson, planPending } from "./plan.ts";
import { historyJson, statusJson, stepJson } from "./wire.ts";

const planOptions = (config: Config) => ({ exposedSchemas: config.rest.schemas });

/** MigrationError and ApprovalError as the admin API's own errors (a refusal lists its plans). */
async function translate<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApprovalError) {
      throw new AdminError(err.status, err.code, err.message, err.plans.length ? { migrations: err.plans.map((p) => planJson(p)) } : undefined);
    }
    if (err instanceof MigrationCancelledError) {
      throw new AdminError(err.status, err.code, err.message, {
        version: err.version,
        name: err.migrationName,
        direction: err.direction,
        rolled_back: err.rolledBack,
        ...(err.rolledBack ? { sqlstate: QUERY_CANCELED } : {}),
      });
    }
    if (err instanceof MigrationError) throw new AdminError(err.status, err.code, err.message);
    throw err;
  }
}

export async function migrationList(sql: Sql, config: Config) {
  const states = await translate(() => migrationStatus(sql, config.migrationsDir));
  const applied = states.filter((s) => s.applied).length;
  return { migrations: states.map(statusJson), applied, pending: states.length - applied, production: config.env === "production" };
}

export async function migrationLog(sql: Sql) {
  return { history: (await migrationHistory(sql)).map(historyJson) };
}

export async function migrationPlans(sql: Sql, config: Config) {
  const plans = await translate(() => planPending(sql, config.migrationsDir, planOptions(config)));
  const approvals = await Promise.all(plans.map((p) => approvalFor(sql, p)));
  return { migrations: plans.map((p, i) => planJson(p, approvals[i])) };
}

export async function migrationApprovals(sql: Sql, version: string | undefined) {
  return { approvals: (await listApprovals(sql, version ? [version] : undefined)).map(approvalJson) };
}

/** The approver is the admin account behind the call, or the key's role when there is none. */
export async function approve(sql: Sql, config: Config, actor: AdminActor, version: string, note: string | null) {
  const by = actor.admin?.email ?? actor.admin?.id ?? actor.role;
  const { approval, plan } = await translate(() =>
    approveMigration(sql, config.migrationsDir, { version, by, adminId: actor.admin?.id ?? null, note }, planOptions(config)),
  );
  return { approval: approvalJson(approval), plan: planJson(plan, approval) };
}

/** `signal`: the request's; when it fires, the migration running then is cancelled and rolled back, and no later one starts. */
export async function apply(sql: Sql, config: Config, to: string | undefined, signal?: AbortSignal) {
  const report = await translate(() =>
    applyMigrations(sql, config.migrationsDir, { to, production: config.env === "production", plan: planOptions(config), signal }),
  );
  return {
    applied: report.applied.map(stepJson),
    plans: report.plans.map((p) => planJson(p.plan, p.approval)),
    warnings: report.warnings.map((w) => ({ kind: w.kind, version: w.version, name: w.name })),
  };
}

export async function revert(sql: Sql, config: Config, steps: number, signal?: AbortSignal) {
  const report = await translate(() => migrateDown(sql, config.migrationsDir, { steps, signal }));
  return { reverted: report.reverted.map(stepJson) };
}
