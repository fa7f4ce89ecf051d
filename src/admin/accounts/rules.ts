// The rules of admin levels, pure, in one place: the admin API and the CLI both ask here.
//   1. nobody raises anyone above their own level;
//   2. only a system_admin creates, promotes or demotes a system_admin (and removes one);
//   3. nobody changes their own level (nor removes themselves);
//   4. the last system_admin cannot be demoted or removed.
// Rule 4 needs the count of system admins, taken under the lock the caller holds (accounts.ts); the
// database's trigger on plinth.admins (migration 0012) enforces it again, for every path.
import { ADMIN_LEVELS, levelRank, type AdminLevel } from "../authorize.ts";
import { AdminError, AdminErrors } from "../errors.ts";

export interface LevelChange {
  /** The level the acting identity acts with (see actorLevel), and its account id (null: no account). */
  actor: { level: AdminLevel; id: string | null };
  /** The account changed: its id and current level (null: not an admin yet). */
  target: { id: string; level: AdminLevel | null };
  /** The level asked for; null removes the admin (the user stays). */
  next: AdminLevel | null;
  /** System admins there are now, counted under the lock. */
  systemAdmins: number;
}

/** The rule a change breaks, or null when it is allowed. A change to the same level (tables only) passes rules 1-4. */
export function levelChangeError(c: LevelChange): AdminError | null {
  const { actor, target, next } = c;
  const changes = next !== target.level;
  if (changes && actor.id !== null && actor.id === target.id) return AdminErrors.ownLevel();
  if (next !== null && levelRank(next) > levelRank(actor.level)) return AdminErrors.aboveOwnLevel();
  const touchesSystem = target.level === "system_admin" || next === "system_admin";
  if (touchesSystem && actor.level !== "system_admin") return AdminErrors.systemAdminOnly();
  // Even changing only the tables of an account above the actor is refused (rule 1's spirit: an
  // admin does not manage those above it).
  if (target.level !== null && levelRank(target.level) > levelRank(actor.level)) return AdminErrors.aboveOwnLevel();
  if (changes && target.level === "system_admin" && c.systemAdmins <= 1) return AdminErrors.lastSystemAdmin();
  return null;
}

export const isAdminLevel = (v: unknown): v is AdminLevel => typeof v === "string" && (ADMIN_LEVELS as readonly string[]).includes(v);

/** Levels whose rows access is limited to assigned tables. */
export const isTableScoped = (level: AdminLevel): boolean => level === "moderator" || level === "viewer";

const NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/**
 * Assigned tables as "schema.table" (plain identifiers: what authorizeTable compares against), sorted
 * and without duplicates. Only moderators and viewers have any; the wider levels reach every table.
 */
export function normaliseTables(level: AdminLevel, tables: readonly string[] | undefined): string[] {
  if (!tables || tables.length === 0) return [];
  if (!isTableScoped(level)) throw AdminErrors.validation(`A ${level} reaches every table: assign tables to moderators and viewers only`);
  const out = new Set<string>();
  for (const t of tables) {
    const parts = t.trim().split(".");
    if (parts.length !== 2 || !parts.every((p) => NAME.test(p))) {
      throw AdminErrors.validation(`Tables are named schema.table (plain identifiers), not ${JSON.stringify(t)}`);
    }
    out.add(parts.join("."));
  }
  if (out.size > 1000) throw AdminErrors.validation("At most 1000 tables can be assigned");
  return [...out].sort();
}
