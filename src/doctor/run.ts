// `plinth doctor`'s checks, run against one configuration. This module decides what is checked and
// in which order; each check lives with its kind (settings, secrets, database, disk, delivery,
// backups) and the CLI (src/cli/doctor.ts) only renders the list.
//
// Never throws: a configuration that does not load is the failed `config` check (and nothing else
// can be checked without one); anything a check throws becomes a failed check of its name.
import { ConfigError, type LoadedConfig } from "../config/index.ts";
import { checkBackupAge } from "./backups.ts";
import { fail, guarded, messageOf, type CheckResult } from "./check.ts";
import { checkDatabase } from "./database.ts";
import { checkMailTemplates, checkSms, checkSmtp } from "./delivery.ts";
import { checkDataDir, checkStorage } from "./disk.ts";
import { checkJwtSecret } from "./secrets.ts";
import { checkConfigFile, checkProductionRules, checkProxy } from "./settings.ts";

export { type CheckResult, type CheckStatus } from "./check.ts";

/** The order checks are reported in; scripts may rely on the names, not on the order. */
export const CHECK_ORDER = [
  "config",
  "jwt_secret",
  "production_rules",
  "database",
  "database_version",
  "wal_level",
  "replication",
  "system_migrations",
  "user_migrations",
  "data_dir",
  "storage",
  "clock",
  "proxy",
  "backup_age",
  "smtp",
  "sms",
  "mail_templates",
] as const;

export async function runChecks(load: () => LoadedConfig): Promise<CheckResult[]> {
  let loaded: LoadedConfig;
  try {
    loaded = load();
  } catch (err) {
    const message = err instanceof ConfigError ? err.issues.join("\n") : messageOf(err);
    return [fail("config", message, "correct the settings named above (in the config file or the PLINTH_* variables), then run `plinth doctor` again")];
  }
  // The network-bound checks run side by side, so the whole run takes as long as the slowest one.
  const groups = await Promise.all([
    guarded("config", () => checkConfigFile(loaded)),
    guarded("jwt_secret", () => checkJwtSecret(loaded)),
    guarded("production_rules", () => checkProductionRules(loaded)),
    guarded("database", () => checkDatabase(loaded)),
    guarded("data_dir", () => checkDataDir(loaded)),
    guarded("storage", () => checkStorage(loaded)),
    guarded("proxy", () => checkProxy(loaded)),
    guarded("backup_age", () => checkBackupAge(loaded)),
    guarded("smtp", () => checkSmtp(loaded)),
    guarded("sms", () => checkSms(loaded)),
    guarded("mail_templates", () => checkMailTemplates(loaded)),
  ]);
  const rank = (name: string) => (CHECK_ORDER as readonly string[]).indexOf(name);
  return groups.flat().sort((a, b) => rank(a.name) - rank(b.name));
}
