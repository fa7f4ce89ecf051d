// Whom an admin may act on through /admin/v1/users, pure. Banning, unbanning, signing out,
// resetting the password of or deleting a user that is itself an admin is a way to lock that admin
// out, so it is refused unless the target's level is strictly below the actor's: a moderator acts on
// viewers and plain users, an admin on moderators too, a system_admin on admins. Nobody acts on
// their own level, which also covers their own account. The machine's identities (the service_role
// key, the CLI, an emergency session) are no account and stand above every level: they are how the
// last system_admin could be deleted at all, which the database then refuses (409 last_system_admin).
//
// This is not rule 1 of src/admin/accounts/rules.ts (levelChangeError), which lets an admin manage
// another of its own level: hence a code of its own.
import { levelRank, type AdminActor, type AdminLevel } from "../authorize.ts";
import { AdminError } from "../errors.ts";

export const targetLevelNotBelowOwn = () =>
  new AdminError(
    403,
    "level_not_below_own",
    "This user is an admin at or above your own level: only a higher level (or the service_role key) may ban, sign out, reset or delete it",
  );

/** The refusal for `actor` acting on a user whose admin level is `target` (null: no admin), or null when allowed. */
export function endUserActionError(actor: AdminActor, target: AdminLevel | null): AdminError | null {
  if (target === null || !actor.admin) return null;
  return levelRank(target) >= levelRank(actor.admin.level) ? targetLevelNotBelowOwn() : null;
}
